/**
 * The deployed devnet (`npm run devnet`, both chains) leaves no admin role to an externally owned
 * account (docs/governance.md): for every contract in the deployments file, `owner()` and
 * `pendingOwner()` (where the contract has them) and every member of every AccessControl role —
 * found from the RoleGranted/RoleRevoked events and checked with `hasRole`, and every role checked
 * against all devnet accounts too — is a contract (an address with code), or the zero address
 * for a timelock's open EXECUTOR_ROLE. Then the holders are the intended ones: the timelocks own
 * and administer, the guardian multisigs pause and cancel, the governor and the governance
 * receiver propose, Emission (and the devnet faucet) mint, nobody administers BASED. Last, a
 * change made the only way left: a Labs proposal through the governor and the EthereumTimelock.
 */
import { expect } from "chai";
import {
  type Address,
  type Hex,
  type PublicClient,
  createPublicClient,
  createWalletClient,
  encodeAbiParameters,
  encodeFunctionData,
  getAddress,
  http,
  keccak256,
  parseAbi,
  parseAbiParameters,
  parseEther,
  toHex,
  zeroAddress,
} from "viem";
import { mnemonicToAccount, privateKeyToAccount } from "viem/accounts";
import { hardhat } from "viem/chains";
import fs from "node:fs";
import path from "node:path";
import {
  brainRegistryAbi,
  consensusAbi,
  ethereumBridgeAbi,
  gigaBrainGovernorAbi,
} from "../../protocol/generated/abis";
import { jsonRpc } from "../../scripts/devnet/network";
import {
  DEVNET_ACCOUNTS,
  DEVNET_GOVERNANCE,
  DEVNET_GUARDIAN_ACCOUNTS,
  DEVNET_MNEMONIC,
  devnetPrivateKey,
} from "../../sdk/devnet";
import { readDeployments } from "../../sdk/node/deployments-file";
import { waitFor } from "../helpers/oracle";
import { type CliResult, type RunningDevnet, basedAsync, startDevnet, tempDir } from "../helpers/processes";

const ABI = parseAbi([
  "function owner() view returns (address)",
  "function pendingOwner() view returns (address)",
  "function hasRole(bytes32 role, address account) view returns (bool)",
  "function getMinDelay() view returns (uint256)",
  "function owners() view returns (address[])",
  "function threshold() view returns (uint256)",
  "event RoleGranted(bytes32 indexed role, address indexed account, address indexed sender)",
  "event RoleRevoked(bytes32 indexed role, address indexed account, address indexed sender)",
]);

const ROLE = {
  DEFAULT_ADMIN_ROLE: `0x${"00".repeat(32)}` as Hex,
  PROPOSER_ROLE: keccak256(toHex("PROPOSER_ROLE")),
  CANCELLER_ROLE: keccak256(toHex("CANCELLER_ROLE")),
  EXECUTOR_ROLE: keccak256(toHex("EXECUTOR_ROLE")),
  GUARDIAN_ROLE: keccak256(toHex("GUARDIAN_ROLE")),
  MINTER_ROLE: keccak256(toHex("MINTER_ROLE")),
} as const;
const roleName = (role: Hex) => Object.entries(ROLE).find(([, v]) => v === role)?.[0] ?? role;

/** The devnet's accounts: the Hardhat mnemonic's first 20 (every role the devnet hands out). */
const DEVNET_ADDRESSES: Address[] = Array.from(
  { length: 20 },
  (_, i) => mnemonicToAccount(DEVNET_MNEMONIC, { addressIndex: i }).address,
);

type Holding = { contract: string; what: string; holder: Address };

/** Every admin-like holding on one chain: owners, pending owners and role members. */
async function holdings(client: PublicClient, contracts: Record<string, Address>): Promise<Holding[]> {
  const found: Holding[] = [];
  for (const [name, address] of Object.entries(contracts)) {
    for (const fn of ["owner", "pendingOwner"] as const) {
      try {
        const holder = await client.readContract({ address, abi: ABI, functionName: fn });
        if (fn === "owner" || holder !== zeroAddress) found.push({ contract: name, what: `${fn}()`, holder });
      } catch {
        // No such function: not Ownable.
      }
    }
    let accessControl = true;
    try {
      await client.readContract({
        address,
        abi: ABI,
        functionName: "hasRole",
        args: [ROLE.DEFAULT_ADMIN_ROLE, zeroAddress],
      });
    } catch {
      accessControl = false;
    }
    if (!accessControl) continue;
    const granted = await client.getContractEvents({
      address,
      abi: ABI,
      eventName: "RoleGranted",
      fromBlock: 0n,
    });
    const revoked = await client.getContractEvents({
      address,
      abi: ABI,
      eventName: "RoleRevoked",
      fromBlock: 0n,
    });
    const candidates = new Map<string, { role: Hex; account: Address }>();
    for (const log of [...granted, ...revoked]) {
      const { role, account } = log.args as { role: Hex; account: Address };
      candidates.set(`${role}:${account}`, { role, account });
    }
    // Every known role against every devnet account too (an event could have been missed).
    for (const role of Object.values(ROLE))
      for (const account of DEVNET_ADDRESSES) candidates.set(`${role}:${account}`, { role, account });
    for (const { role, account } of candidates.values()) {
      const has = await client.readContract({
        address,
        abi: ABI,
        functionName: "hasRole",
        args: [role, account],
      });
      if (has) found.push({ contract: name, what: roleName(role), holder: getAddress(account) });
    }
  }
  return found;
}

async function isContract(client: PublicClient, address: Address): Promise<boolean> {
  const code = await client.getCode({ address });
  return code !== undefined && code !== "0x";
}

describe("devnet deployment: no EOA holds an admin role", function () {
  this.timeout(300_000);
  let devnet: RunningDevnet;
  let eth: PublicClient;
  let based: PublicClient;
  let e: Record<string, Address>;
  let b: Record<string, Address>;
  let ethHoldings: Holding[];
  let basedHoldings: Holding[];

  before(async () => {
    devnet = await startDevnet({ timeoutMs: 240_000 });
    const d = readDeployments(devnet.deploymentsFile);
    e = d.ethereum.contracts as Record<string, Address>;
    b = d.based!.contracts as Record<string, Address>;
    eth = createPublicClient({ transport: http(devnet.rpcUrl) }) as PublicClient;
    based = createPublicClient({ transport: http(devnet.basedRpcUrl) }) as PublicClient;
    ethHoldings = await holdings(eth, e);
    basedHoldings = await holdings(based, b);
  });
  after(async () => {
    await devnet?.stop();
  });

  it("the deployments file names the governance contracts", () => {
    for (const name of [
      "GigaBrainSets",
      "GigaBrainGovernor",
      "PepecoinHouse",
      "EthereumTimelock",
      "GovernanceOutbox",
      "EthereumGuardian",
    ])
      expect(e[name], `Ethereum ${name}`).to.match(/^0x[0-9a-fA-F]{40}$/);
    for (const name of ["BasedTimelock", "GovernanceCallReceiver", "BasedGuardian"])
      expect(b[name], `BasedAI ${name}`).to.match(/^0x[0-9a-fA-F]{40}$/);
  });

  it("every owner, pending owner and role member on both chains is a contract (or a timelock's open executor)", async () => {
    const eoas: string[] = [];
    for (const [chain, client, list] of [
      ["Ethereum", eth, ethHoldings],
      ["BasedAI", based, basedHoldings],
    ] as const) {
      for (const h of list) {
        if (h.holder === zeroAddress) {
          const openExecutor = h.what === "EXECUTOR_ROLE" && h.contract.endsWith("Timelock");
          if (!openExecutor && h.what !== "owner()")
            eoas.push(`${chain} ${h.contract} ${h.what}: the zero address`);
          continue;
        }
        if (!(await isContract(client, h.holder)))
          eoas.push(`${chain} ${h.contract} ${h.what}: EOA ${h.holder}`);
      }
    }
    expect(eoas, eoas.join("\n")).to.deep.equal([]);
    // The scan saw the roles it is about (an empty scan would pass trivially).
    expect(ethHoldings.length).to.be.greaterThan(5);
    expect(basedHoldings.length).to.be.greaterThan(5);
  });

  it("the holders are the intended ones on Ethereum", () => {
    const of = (contract: string, what: string) =>
      ethHoldings
        .filter((h) => h.contract === contract && h.what === what)
        .map((h) => h.holder)
        .sort();
    const timelock = getAddress(e.EthereumTimelock!);
    const governor = getAddress(e.GigaBrainGovernor!);
    expect(of("MessageInbox", "owner()")).to.deep.equal([timelock]);
    expect(of("WrappedBased", "owner()")).to.deep.equal([timelock]);
    expect(of("EthereumBridge", "DEFAULT_ADMIN_ROLE")).to.deep.equal([timelock]);
    expect(of("EthereumBridge", "GUARDIAN_ROLE")).to.deep.equal([getAddress(e.EthereumGuardian!)]);
    expect(of("EthereumTimelock", "DEFAULT_ADMIN_ROLE")).to.deep.equal([timelock]);
    for (const role of ["PROPOSER_ROLE", "CANCELLER_ROLE", "EXECUTOR_ROLE"])
      expect(of("EthereumTimelock", role), role).to.deep.equal([governor]);
    expect(ethHoldings.filter((h) => h.what === "pendingOwner()")).to.deep.equal([]);
  });

  it("the holders are the intended ones on the BasedAI chain; BASED is minted only by Emission (and the devnet faucet)", () => {
    const of = (contract: string, what: string) =>
      basedHoldings
        .filter((h) => h.contract === contract && h.what === what)
        .map((h) => h.holder)
        .sort();
    const timelock = getAddress(b.BasedTimelock!);
    const guardian = getAddress(b.BasedGuardian!);
    for (const contract of ["MessageInbox", "Network", "Consensus"])
      expect(of(contract, "owner()"), contract).to.deep.equal([timelock]);
    expect(of("BasedBridge", "DEFAULT_ADMIN_ROLE")).to.deep.equal([timelock]);
    expect(of("BasedBridge", "GUARDIAN_ROLE")).to.deep.equal([guardian]);
    expect(of("BasedToken", "DEFAULT_ADMIN_ROLE")).to.deep.equal([]);
    expect(of("BasedToken", "MINTER_ROLE")).to.deep.equal(
      [getAddress(b.Emission!), getAddress(b.DevnetBasedFaucet!)].sort(),
    );
    expect(of("BasedTimelock", "DEFAULT_ADMIN_ROLE")).to.deep.equal([timelock]);
    expect(of("BasedTimelock", "PROPOSER_ROLE")).to.deep.equal([getAddress(b.GovernanceCallReceiver!)]);
    expect(of("BasedTimelock", "CANCELLER_ROLE")).to.deep.equal([guardian]);
    expect(of("BasedTimelock", "EXECUTOR_ROLE")).to.deep.equal([zeroAddress]);
    expect(basedHoldings.filter((h) => h.what === "pendingOwner()")).to.deep.equal([]);
  });

  it("the timelocks wait the devnet delay and the guardians are 2-of-3 multisigs of devnet accounts 7–9", async () => {
    const delay = BigInt(DEVNET_GOVERNANCE.ethereumTimelockDelay);
    expect(
      await eth.readContract({ address: e.EthereumTimelock!, abi: ABI, functionName: "getMinDelay" }),
    ).to.equal(delay);
    expect(
      await based.readContract({ address: b.BasedTimelock!, abi: ABI, functionName: "getMinDelay" }),
    ).to.equal(BigInt(DEVNET_GOVERNANCE.basedTimelockDelay));
    const owners = DEVNET_GUARDIAN_ACCOUNTS.map((i) => DEVNET_ADDRESSES[i]!);
    for (const [client, address] of [
      [eth, e.EthereumGuardian!],
      [based, b.BasedGuardian!],
    ] as const) {
      expect(await client.readContract({ address, abi: ABI, functionName: "owners" })).to.deep.equal(owners);
      expect(await client.readContract({ address, abi: ABI, functionName: "threshold" })).to.equal(2n);
    }
  });

  it("a change goes through governance: a Labs proposal passes (optimistic, no Against), waits in the EthereumTimelock and sets the bridge's rate limit; the deployer cannot", async () => {
    const bridge = e.EthereumBridge!;
    const deployer = createWalletClient({
      account: privateKeyToAccount(devnetPrivateKey(DEVNET_ACCOUNTS.dev)),
      transport: http(devnet.rpcUrl),
      chain: hardhat,
    });
    let refused = false;
    try {
      await deployer.writeContract({
        address: bridge,
        abi: ethereumBridgeAbi,
        functionName: "setRateLimit",
        args: [1n, 1n],
      });
    } catch {
      refused = true;
    }
    expect(refused, "the deployer changed the bridge's limits").to.equal(true);

    const labs = createWalletClient({
      account: privateKeyToAccount(devnetPrivateKey(DEVNET_ACCOUNTS.labs)),
      transport: http(devnet.rpcUrl),
      chain: hardhat,
    });
    const governor = e.GigaBrainGovernor!;
    const [capacity, rate] = [parseEther("7000"), parseEther("0.5")];
    const targets = [bridge];
    const values = [0n];
    const calldatas = [
      encodeFunctionData({ abi: ethereumBridgeAbi, functionName: "setRateLimit", args: [capacity, rate] }),
    ];
    const description = "Raise the Ethereum bridge's inbound bucket (devnet test)";
    const descriptionHash = keccak256(toHex(description));
    const send = async (functionName: "propose" | "queue" | "execute") => {
      const args =
        functionName === "propose"
          ? ([targets, values, calldatas, description] as const)
          : ([targets, values, calldatas, descriptionHash] as const);
      const hash = await labs.writeContract({
        address: governor,
        abi: gigaBrainGovernorAbi,
        functionName,
        args: args as never,
      });
      const receipt = await eth.waitForTransactionReceipt({ hash });
      expect(receipt.status, functionName).to.equal("success");
    };
    const wait = async (seconds: number) => {
      await jsonRpc(devnet.rpcUrl, "evm_increaseTime", [seconds]);
      await jsonRpc(devnet.rpcUrl, "evm_mine", []);
    };
    const state = () =>
      eth.readContract({
        address: governor,
        abi: gigaBrainGovernorAbi,
        functionName: "state",
        args: [
          BigInt(
            keccak256(
              // hashProposal(targets, values, calldatas, descriptionHash), as the governor computes it.
              encodeAbiParameters(parseAbiParameters("address[], uint256[], bytes[], bytes32"), [
                targets,
                values,
                calldatas,
                descriptionHash,
              ]),
            ),
          ),
        ],
      });
    await send("propose");
    await wait(DEVNET_GOVERNANCE.votingDelay + DEVNET_GOVERNANCE.votingPeriod + 2);
    expect(await state()).to.equal(4); // Succeeded
    await send("queue");
    expect(await state()).to.equal(5); // Queued
    await wait(DEVNET_GOVERNANCE.ethereumTimelockDelay + 1);
    await send("execute");
    expect(await state()).to.equal(7); // Executed
    const bucket = await eth.readContract({
      address: bridge,
      abi: ethereumBridgeAbi,
      functionName: "inboundBucket",
    });
    expect([bucket.capacity, bucket.rate]).to.deep.equal([capacity, rate]);
  });
  it("cross-chain, with based gov: stake makes Brain #3 a GigaBrain on Ethereum (attested GIGABRAIN_SET); its vote passes a proposal that changes Consensus.maxWeights on the BasedAI chain through an attested GOVERNANCE_CALL and the BasedAI timelock", async () => {
    const configFile = path.join(tempDir("based-config"), "config.json");
    fs.writeFileSync(configFile, JSON.stringify({ logLevel: "silent" }));
    const env = { BASED_DEPLOYMENTS: devnet.deploymentsFile, BASED_CONFIG: configFile };
    const asLabs = { ...env, BASED_PRIVATE_KEY: devnetPrivateKey(DEVNET_ACCOUNTS.labs) };
    const asDev = { ...env, BASED_PRIVATE_KEY: devnetPrivateKey(DEVNET_ACCOUNTS.dev) };
    const ok = (r: CliResult, what: string) => {
      expect(r.status, `${what}: ${r.stdout}${r.stderr}`).to.equal(0);
      return r.json;
    };
    const later = async (rpcUrl: string, seconds: number) => {
      await jsonRpc(rpcUrl, "evm_increaseTime", [seconds]);
      await jsonRpc(rpcUrl, "evm_mine", []);
    };

    // Brain #3, mirrored from Ethereum, gets the only stake on the BasedAI chain: 100 % ≥ 0.5 %.
    await waitFor(
      "Brain #3 mirrored on the BasedAI chain",
      () =>
        based.readContract({
          address: b.BrainRegistry!,
          abi: brainRegistryAbi,
          functionName: "isActive",
          args: [3n],
        }),
      90_000,
      500,
    );
    ok(await basedAsync(["stake", "add", "--brain", "3", "--amount", "100", "--json"], asDev), "stake add");
    // The attesters sign the set at the next epoch's end (30 one-second blocks) and relay it.
    const set = await waitFor(
      "Brain #3 in the GigaBrain set on Ethereum",
      async () => {
        const r = await basedAsync(["gov", "gigabrains", "--json"], env);
        const g = r.json.gigaBrains as { brainIds: number[]; basedBlock: number } | undefined;
        return r.status === 0 && g?.brainIds.map(Number).includes(3) && g;
      },
      120_000,
      2_000,
    );
    expect(set.brainIds.map(Number)).to.deep.equal([3]);

    const proposed = ok(
      await basedAsync(
        [
          "gov",
          "propose",
          "--title",
          "Lower Consensus.maxWeights (devnet cross-chain test)",
          "--call",
          "Consensus.setMaxWeights(1000)",
          "--json",
        ],
        asLabs,
      ),
      "gov propose",
    );
    const id = String((proposed.proposal as Record<string, unknown>).proposalId);
    await later(devnet.rpcUrl, DEVNET_GOVERNANCE.votingDelay + 1);
    ok(await basedAsync(["gov", "vote", id, "for", "--brain", "3", "--json"], asLabs), "gov vote");
    const twice = await basedAsync(["gov", "vote", id, "against", "--brain", "3", "--json"], asLabs);
    expect(twice.status).to.equal(3);
    expect((twice.json.error as Record<string, string>).code).to.equal("BrainAlreadyVoted");
    await later(devnet.rpcUrl, DEVNET_GOVERNANCE.votingPeriod + 1);
    const shown = ok(await basedAsync(["gov", "show", id, "--json"], env), "gov show").proposal as {
      state: string;
      gigaBrains: { for: number | string; electorate: number | string };
    };
    expect(shown.state).to.equal("succeeded");
    expect(Number(shown.gigaBrains.for)).to.equal(1);
    expect(Number(shown.gigaBrains.electorate)).to.equal(1);

    ok(await basedAsync(["gov", "queue", id, "--json"], env), "gov queue");
    await later(devnet.rpcUrl, DEVNET_GOVERNANCE.ethereumTimelockDelay + 1);
    const executed = ok(await basedAsync(["gov", "execute", id, "--json"], env), "gov execute").executed as {
      basedCalls: { operationId: Hex }[];
    };
    expect(executed.basedCalls).to.have.length(1);
    const op = executed.basedCalls[0]!.operationId;

    // The attesters sign the GOVERNANCE_CALL, the relayer delivers it, the BasedAI timelock holds it.
    await waitFor(
      "the GOVERNANCE_CALL scheduled in the BasedAI timelock",
      async () => {
        const r = await basedAsync(["gov", "based-call", op, "--json"], env);
        const status = (r.json.operation as { status?: string } | undefined)?.status;
        return status === "waiting" || status === "ready";
      },
      90_000,
      1_000,
    );
    const early = await basedAsync(["gov", "execute-based", op, "--json"], env);
    expect(early.status).to.equal(3);
    await later(devnet.basedRpcUrl, DEVNET_GOVERNANCE.basedTimelockDelay + 1);
    ok(await basedAsync(["gov", "execute-based", op, "--json"], env), "gov execute-based");
    expect(
      await based.readContract({ address: b.Consensus!, abi: consensusAbi, functionName: "maxWeights" }),
    ).to.equal(1000);
  });
});
