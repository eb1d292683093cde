import { expect } from "chai";
import http from "node:http";
import type { AddressInfo } from "node:net";
import pino from "pino";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { GatewayClient, type SignerOptions } from "../../../sdk/gateway-client";
import { runRound } from "../../../compute/validator/service";
import type { CanaryPrompts, Reference } from "../../../compute/validator/canary";

/** An HTTP server that accepts every request and never answers: a gateway that hangs. */
async function hangingGateway(): Promise<{ url: string; requests: () => number; close: () => void }> {
  let requests = 0;
  const held: http.ServerResponse[] = [];
  const server = http.createServer((_req, res) => {
    requests++;
    held.push(res);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests: () => requests,
    close: () => {
      for (const res of held) res.destroy();
      server.close();
    },
  };
}

/** How long `promise` takes to settle (resolved or rejected), with what it settled to. */
async function settle<T>(promise: Promise<T>): Promise<{ ms: number; error?: unknown; value?: T }> {
  const started = Date.now();
  try {
    const value = await promise;
    return { ms: Date.now() - started, value };
  } catch (error) {
    return { ms: Date.now() - started, error };
  }
}

const signer: SignerOptions = {
  account: privateKeyToAccount(generatePrivateKey()),
  domain: { chainId: 32323, network: "0x0000000000000000000000000000000000000001", brainId: 3 },
};

// The requests below would each wait out the client's 30 s timeout: a shutdown must not.
const BOUND_MS = 5_000;

describe("validator shutdown: a hanging gateway does not hold the stop up", function () {
  this.timeout(20_000);

  it("a round waiting on a gateway that never answers ends within a bound of the abort", async () => {
    const gw = await hangingGateway();
    try {
      const controller = new AbortController();
      const round = runRound({
        gatewayUrl: gw.url,
        signer,
        brainId: 3,
        // No canary and no replayer: the round's only call is the gateway's miner stats.
        reference: undefined as unknown as Reference,
        prompts: undefined as unknown as CanaryPrompts,
        keystoreDir: "unused",
        canaries: 0,
        replays: 0,
        signal: controller.signal,
        log: pino({ level: "silent" }),
      });
      while (gw.requests() === 0) await new Promise((r) => setTimeout(r, 20));
      controller.abort();
      const { ms, error } = await settle(round);
      expect(ms, "ms from the abort to the end of the round").to.be.lessThan(BOUND_MS);
      expect((error as Error | undefined)?.name).to.equal("AbortError");
    } finally {
      gw.close();
    }
  });

  it("the gateway client's long waits (waitForJob, pollWork) end at its signal's abort", async () => {
    const gw = await hangingGateway();
    try {
      const calls: ((c: GatewayClient) => Promise<unknown>)[] = [
        (c) => c.waitForJob("job-1", 60_000),
        (c) => c.pollWork(signer, 20_000),
      ];
      for (const call of calls) {
        const controller = new AbortController();
        const client = new GatewayClient({ url: gw.url, signal: controller.signal });
        const before = gw.requests();
        const pending = settle(call(client));
        while (gw.requests() === before) await new Promise((r) => setTimeout(r, 20));
        controller.abort();
        const { ms, error } = await pending;
        expect(ms).to.be.lessThan(BOUND_MS);
        expect((error as Error | undefined)?.name).to.equal("AbortError");
        // Aborted for good: the next call refuses before sending anything.
        const requests = gw.requests();
        expect((await settle(client.getJob("job-2"))).error).to.have.property("name", "AbortError");
        expect(gw.requests()).to.equal(requests);
      }
    } finally {
      gw.close();
    }
  });
});
