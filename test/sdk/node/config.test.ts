import fs from "node:fs";
import path from "node:path";
import { expect } from "chai";
import { DEVNET_GATEWAY_URL, gatewayUrlFor, loadConfig } from "../../../sdk/node/config";
import {
  DEFAULT_DEPLOYMENTS_FILE,
  readDeployments,
  writeDeployments,
} from "../../../sdk/node/deployments-file";
import { BasedError } from "../../../sdk/errors";
import { tempDir } from "../../helpers/processes";

const KEY = `0x${"11".repeat(32)}`;

function expectBasedError(fn: () => unknown, code: string, kind: BasedError["kind"]): BasedError {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(BasedError);
    expect((err as BasedError).code).to.equal(code);
    expect((err as BasedError).kind).to.equal(kind);
    return err as BasedError;
  }
  expect.fail(`expected ${code}`);
}

describe("sdk/config: configuration from env and file, validated", () => {
  const dir = tempDir("based-config-unit");
  const file = path.join(dir, "config.json");

  it("defaults: devnet deployments file, log level warn, no key", () => {
    const config = loadConfig({ BASED_CONFIG: undefined, HOME: dir });
    expect(config.deploymentsFile).to.equal(DEFAULT_DEPLOYMENTS_FILE);
    expect(config.logLevel).to.equal("warn");
    expect(config.privateKey).to.equal(undefined);
  });

  it("reads the config file, and environment variables win over it", () => {
    fs.writeFileSync(
      file,
      JSON.stringify({ privateKey: KEY, logLevel: "debug", deploymentsFile: "/tmp/a.json" }),
    );
    const fromFile = loadConfig({ BASED_CONFIG: file });
    expect(fromFile).to.include({ privateKey: KEY, logLevel: "debug", deploymentsFile: "/tmp/a.json" });
    const key2 = `0x${"22".repeat(32)}`;
    const fromEnv = loadConfig({
      BASED_CONFIG: file,
      BASED_PRIVATE_KEY: key2,
      BASED_DEPLOYMENTS: "/tmp/b.json",
    });
    expect(fromEnv).to.include({ privateKey: key2, deploymentsFile: "/tmp/b.json", logLevel: "debug" });
  });

  it("refuses malformed keys, URLs, log levels and unknown config fields with InvalidConfig", () => {
    expectBasedError(() => loadConfig({ BASED_PRIVATE_KEY: "0x1234" }), "InvalidConfig", "input");
    expectBasedError(() => loadConfig({ BASED_ETH_RPC_URL: "not a url" }), "InvalidConfig", "input");
    expectBasedError(() => loadConfig({ BASED_LOG_LEVEL: "loud" }), "InvalidConfig", "input");
    fs.writeFileSync(file, JSON.stringify({ privateKey: KEY, mnemonic: "oops" }));
    const err = expectBasedError(() => loadConfig({ BASED_CONFIG: file }), "InvalidConfig", "input");
    expect(err.message).to.include("mnemonic");
    fs.writeFileSync(file, "{ not json");
    expectBasedError(() => loadConfig({ BASED_CONFIG: file }), "InvalidConfig", "input");
    expectBasedError(
      () => loadConfig({ BASED_CONFIG: path.join(dir, "missing.json") }),
      "ConfigMissing",
      "input",
    );
  });
});

describe('sdk/config: every "where is X" answered once', () => {
  const home = tempDir("based-config-where");

  it("the gateway: the flag, then BASED_GATEWAY_URL, then the config file, then the devnet's; elsewhere NoGateway", () => {
    const file = path.join(home, "gw.json");
    fs.writeFileSync(file, JSON.stringify({ gatewayUrl: "http://file:3" }));
    const env = { HOME: home, BASED_GATEWAY_URL: "http://env:2/" };
    expect(gatewayUrlFor(loadConfig(env, { gatewayUrl: "http://gw:1/" }), false)).to.equal("http://gw:1");
    expect(gatewayUrlFor(loadConfig(env), false)).to.equal("http://env:2");
    expect(gatewayUrlFor(loadConfig({ HOME: home, BASED_CONFIG: file }), false)).to.equal("http://file:3");
    expect(gatewayUrlFor(loadConfig({ HOME: home }), true)).to.equal(DEVNET_GATEWAY_URL);
    expect(DEVNET_GATEWAY_URL).to.equal("http://127.0.0.1:7200");
    expectBasedError(() => gatewayUrlFor(loadConfig({ HOME: home }), false), "NoGateway", "input");
    for (const bad of ["ftp://gw", "gw:7200"]) {
      expectBasedError(() => loadConfig({ HOME: home }, { gatewayUrl: bad }), "InvalidConfig", "input");
      expectBasedError(() => loadConfig({ HOME: home, BASED_GATEWAY_URL: bad }), "InvalidConfig", "input");
    }
  });

  it("one model cache and one keystore for every command and service, from the flag, the variable or the file", () => {
    const defaults = loadConfig({ HOME: "/home/u" });
    expect(defaults.modelCacheDir).to.equal("/home/u/.cache/based/models");
    expect(defaults.keystoreDir).to.equal("/home/u/.config/based/keys");
    expect(loadConfig({ HOME: "/home/u", XDG_CACHE_HOME: "/var/cache" }).modelCacheDir).to.equal(
      "/var/cache/based/models",
    );
    const env = { HOME: "/home/u", BASED_MODEL_CACHE: "/tmp/m", BASED_KEYSTORE: "/tmp/x/keys" };
    expect(loadConfig(env)).to.include({ modelCacheDir: "/tmp/m", keystoreDir: "/tmp/x/keys" });
    expect(loadConfig(env, { modelCacheDir: "/srv/models" }).modelCacheDir).to.equal("/srv/models");
  });

  it("key rotation: --keys, then BASED_KEY_ROTATION, then keyRotation in the file, then session; each validated", () => {
    const file = path.join(home, "keys.json");
    const env = { HOME: home };
    expect(loadConfig(env).keyRotation).to.equal("session");
    fs.writeFileSync(file, JSON.stringify({ keyRotation: "every:5" }));
    expect(loadConfig({ BASED_CONFIG: file }).keyRotation).to.deep.equal({ everyPrompts: 5 });
    fs.writeFileSync(file, JSON.stringify({ keyRotation: { everyPrompts: 3 } }));
    expect(loadConfig({ BASED_CONFIG: file }).keyRotation).to.deep.equal({ everyPrompts: 3 });
    expect(loadConfig({ BASED_CONFIG: file, BASED_KEY_ROTATION: "never" }).keyRotation).to.equal("never");
    expect(
      loadConfig({ BASED_CONFIG: file, BASED_KEY_ROTATION: "never" }, { keyRotation: "session" }).keyRotation,
    ).to.equal("session");

    for (const bad of ["sometimes", "every:0", "every:", "every:1.5", "every:-2", "Session"]) {
      const err = expectBasedError(
        () => loadConfig({ ...env, BASED_KEY_ROTATION: bad }),
        "InvalidConfig",
        "input",
      );
      expect(err.message, bad).to.include("BASED_KEY_ROTATION").and.include("every:N");
      const flag = expectBasedError(() => loadConfig(env, { keyRotation: bad }), "InvalidConfig", "input");
      expect(flag.message, bad).to.include("--keys");
    }
    for (const bad of [{ everyPrompts: 0 }, { everyPrompts: 2, extra: 1 }, 7, "every:x"]) {
      fs.writeFileSync(file, JSON.stringify({ keyRotation: bad }));
      const err = expectBasedError(() => loadConfig({ BASED_CONFIG: file }), "InvalidConfig", "input");
      expect(err.message, JSON.stringify(bad)).to.include("keyRotation");
    }
  });

  it("old variable names keep working with a deprecation note; the new name wins when both are set", () => {
    const key2 = `0x${"22".repeat(32)}`;
    const old = loadConfig({ HOME: home, ATTESTER_PRIVATE_KEY: KEY, REDIS_URL: "redis://r:1" });
    expect(old).to.include({ privateKey: KEY, redisUrl: "redis://r:1" });
    expect(old.deprecations).to.deep.equal([
      "ATTESTER_PRIVATE_KEY is deprecated: use BASED_PRIVATE_KEY",
      "REDIS_URL is deprecated: use BASED_REDIS_URL",
    ]);
    const both = loadConfig({ HOME: home, GATEWAY_PRIVATE_KEY: KEY, BASED_PRIVATE_KEY: key2 });
    expect(both.privateKey).to.equal(key2);
    expect(loadConfig({ HOME: home }).deprecations).to.deep.equal([]);
    expectBasedError(() => loadConfig({ HOME: home, RELAYER_PRIVATE_KEY: "0x12" }), "InvalidConfig", "input");
  });
});

describe("sdk/deployments: the file the devnet writes and every tool reads", () => {
  const dir = tempDir("based-deployments-unit");
  const good = {
    version: 1 as const,
    network: "devnet",
    createdAt: new Date(0).toISOString(),
    ethereum: {
      chainId: 31337,
      rpcUrl: "http://127.0.0.1:8545",
      startBlock: 0,
      testPepecoin: true,
      contracts: {
        Pepecoin: `0x${"01".repeat(20)}` as const,
        BrainNFT: `0x${"02".repeat(20)}` as const,
        WrappedBased: `0x${"03".repeat(20)}` as const,
      },
    },
  };

  it("round-trips through writeDeployments/readDeployments", () => {
    const file = path.join(dir, "ok.json");
    writeDeployments(file, good);
    expect(readDeployments(file)).to.deep.equal(good);
  });

  it("a missing file says to start the devnet; a malformed one says what is wrong", () => {
    const missing = expectBasedError(
      () => readDeployments(path.join(dir, "none.json")),
      "DeploymentsMissing",
      "environment",
    );
    expect(missing.hint).to.include("npm run devnet");
    const bad = path.join(dir, "bad.json");
    fs.writeFileSync(
      bad,
      JSON.stringify({ ...good, ethereum: { ...good.ethereum, contracts: { BrainNFT: "0x12" } } }),
    );
    const invalid = expectBasedError(() => readDeployments(bad), "DeploymentsInvalid", "environment");
    expect(invalid.message).to.include("BrainNFT");
    fs.writeFileSync(bad, "[");
    expectBasedError(() => readDeployments(bad), "DeploymentsInvalid", "environment");
  });
});
