/**
 * The attester service: `tsx oracle/attester/main.ts --state-dir <dir> [--deployments <file>]
 * [--port 7101] [--ethereum-finality finalized|depth:N] [--based-finality finalized|depth:N]
 * [--allow-zero-finality] [--poll-ms 1000]`, its key in BASED_PRIVATE_KEY. Each chain's events
 * are signed once their block is final: the chain's `finalized` block by default, a fixed depth
 * for a chain without that tag (set explicitly; depth 0 only with --allow-zero-finality). The key is its identity in the attester set. Beside the watched events it
 * reports epochs (oracle/epoch/reporter.ts), keeping them in `<state-dir>/epochs-<address>/`.
 * When the deployments file names them on Ethereum, it also signs governance calls
 * (`GovernanceOutbox` → GOVERNANCE_CALL) and GigaBrain sets (`GigaBrainSets` ← GIGABRAIN_SET,
 * oracle/gigabrain/reporter.ts).
 */
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { privateKeyToAccount } from "viem/accounts";
import { z } from "zod";
import { type ChainContext, chainContext, basedDeployment } from "../../sdk/chain";
import { chainSettings } from "../../sdk/node/config";
import { BasedError, errorLine } from "../../sdk/errors";
import { FINALIZED, type Finality, describeFinality, finalitySchema, isZeroDepth } from "../finality";
import { type ServiceDefinition, serviceMain } from "../../service/shell";
import { requireKey } from "../../service/requirements";
import { EpochReporter } from "../epoch/reporter";
import { EconomyLogs } from "../epoch/snapshot";
import { EpochStore } from "../epoch/store";
import { Journal } from "../signing/journal";
import { Attester } from "./attester";
import { attesterServer } from "./server";
import { GigaBrainReporter } from "../gigabrain/reporter";
import { brainWatch, bridgeWatch, governanceWatch } from "./sources";

export const attesterOptionsSchema = z
  .object({
    port: z.coerce.number().int().min(0).max(65535).default(7101),
    stateDir: z.string().min(1),
    /** When an Ethereum block is final: its `finalized` block, or `depth:N` under the head. */
    ethereumFinality: finalitySchema.default(FINALIZED),
    /** The same for the BasedAI chain (`depth:N` if its node has no `finalized` tag). */
    basedFinality: finalitySchema.default(FINALIZED),
    /** Depth 0 signs events that a reorg could undo: allowed only when asked for (devnet). */
    allowZeroFinality: z.boolean().default(false),
    pollMs: z.coerce.number().int().min(50).default(1_000),
    /** Compute and sign epoch reports (`--no-epoch-reports` turns it off, for tests that sign their own). */
    epochReports: z.boolean().default(true),
  })
  .superRefine((c, ctx) => {
    for (const key of ["ethereumFinality", "basedFinality"] as const) {
      if (isZeroDepth(c[key]) && !c.allowZeroFinality)
        ctx.addIssue({
          code: "custom",
          message: "depth:0 needs --allow-zero-finality (devnet only)",
          path: [key],
        });
    }
  });

/**
 * A chain configured `finalized` whose node answers but knows no such tag: refused at start, with
 * the fix, rather than a warning at every poll. An unreachable node is left to the poll's retries.
 */
export async function checkFinalizedTag(ctx: ChainContext, flag: string): Promise<void> {
  const tagged = await ctx.publicClient.getBlock({ blockTag: "finalized" }).then(
    () => true,
    (err: unknown) => err,
  );
  if (tagged === true) return;
  const answers = await ctx.publicClient.getBlockNumber({ cacheTime: 0 }).then(
    () => true,
    () => false,
  );
  if (!answers) return;
  throw new BasedError(
    "input",
    "InvalidConfig",
    `the ${ctx.name} node (chain ${ctx.chain.id}) has no "finalized" block: ${errorLine(tagged)}`,
    `Give that chain an explicit depth: ${flag} depth:N (the number of blocks a reorg of it cannot reach).`,
  );
}

export const attesterService: ServiceDefinition<z.infer<typeof attesterOptionsSchema>> = {
  name: "attester",
  summary:
    "An oracle attester: watches both chains up to their final block (the chain's `finalized` block,\nor a fixed depth where the chain has no such tag), signs the attested messages and epoch reports,\nand serves its signatures over HTTP.",
  flags: {
    port: { type: "string", description: "HTTP port of its signatures (default 7101)" },
    "state-dir": { type: "string", description: "where its journal and epoch reports are kept" },
    "ethereum-finality": {
      type: "string",
      description: "finalized | depth:N: when an Ethereum event is signed (default finalized)",
    },
    "based-finality": {
      type: "string",
      description: "finalized | depth:N: the same for the BasedAI chain (default finalized)",
    },
    "allow-zero-finality": { type: "boolean", description: "allow depth:0 (devnet only)" },
    "poll-ms": { type: "string", description: "milliseconds between polls of the chains (default 1000)" },
    "no-epoch-reports": { type: "boolean", description: "do not compute and sign epoch reports" },
  },
  options: attesterOptionsSchema,
  async run({ options, config, log: serviceLog, signal, setHealth }) {
    const account = privateKeyToAccount(requireKey(config, "the attester's identity in the attester set"));
    const log = serviceLog.child({ attester: account.address });
    const settings = chainSettings(config);
    const b = basedDeployment(settings.deployments);
    const e = settings.deployments.ethereum;
    // No account on the chains: the attester only reads them, and signs messages off-chain.
    const ethereum = chainContext(settings, "ethereum");
    const based = chainContext(settings, "based");
    const ethInbox = e.contracts.MessageInbox;
    const ethBridge = e.contracts.EthereumBridge;
    if (!ethInbox || !ethBridge)
      throw new Error("the deployments file lacks the Ethereum MessageInbox or EthereumBridge");

    const journal = new Journal(path.join(options.stateDir, `attester-${account.address}.jsonl`));
    const attester = new Attester({
      account,
      journal,
      inboxes: [
        { ctx: ethereum, address: ethInbox },
        { ctx: based, address: b.contracts.MessageInbox },
      ],
      finality: new Map<number, Finality>([
        [e.chainId, options.ethereumFinality],
        [b.chainId, options.basedFinality],
      ]),
      startBlocks: new Map([
        [e.chainId, BigInt(e.startBlock)],
        [b.chainId, BigInt(b.startBlock)],
      ]),
      watches: [
        brainWatch(ethereum, based, e.contracts.BrainNFT),
        bridgeWatch(ethereum, based, ethBridge, "to-based"),
        bridgeWatch(based, ethereum, b.contracts.BasedBridge, "to-ethereum"),
        // Only where the deployment has the governance contracts (named exactly so).
        ...(e.contracts.GovernanceOutbox
          ? [governanceWatch(ethereum, based, e.contracts.GovernanceOutbox)]
          : []),
      ],
      log,
    });

    const economy = {
      BrainRegistry: b.contracts.BrainRegistry,
      Network: b.contracts.Network,
      Staking: b.contracts.Staking,
      Consensus: b.contracts.Consensus,
    };
    const epochs = new EpochStore(path.join(options.stateDir, `epochs-${account.address}`));
    const reporter = new EpochReporter({
      sign: (m) => attester.sign(m),
      store: epochs,
      source: {
        client: based.publicClient,
        contracts: economy,
        logs: new EconomyLogs(based.publicClient, economy, BigInt(b.startBlock)),
        chainId: BigInt(b.chainId),
      },
      finality: options.basedFinality,
      log: log.child({ part: "epochs" }),
    });

    const gigaBrainSets = e.contracts.GigaBrainSets;
    const gigaBrains = gigaBrainSets
      ? new GigaBrainReporter({
          sign: (m) => attester.sign(m),
          based: {
            client: based.publicClient,
            chainId: BigInt(b.chainId),
            contracts: economy,
            startBlock: BigInt(b.startBlock),
          },
          ethereum: { client: ethereum.publicClient, chainId: BigInt(e.chainId), gigaBrainSets },
          finality: options.basedFinality,
          log: log.child({ part: "gigabrains" }),
        })
      : undefined;

    if (options.ethereumFinality.kind === "finalized")
      await checkFinalizedTag(ethereum, "--ethereum-finality");
    if (options.basedFinality.kind === "finalized") await checkFinalizedTag(based, "--based-finality");
    const server = attesterServer(attester, epochs);
    const address = await server.listen({ host: "127.0.0.1", port: options.port });
    log.info(
      {
        address,
        ethereumFinality: describeFinality(options.ethereumFinality),
        basedFinality: describeFinality(options.basedFinality),
        governanceCalls: e.contracts.GovernanceOutbox !== undefined,
        gigaBrainSets: gigaBrains !== undefined,
      },
      "attester listening",
    );
    setHealth(() => ({ address: account.address }));

    // Two loops: recomputing many epochs must not hold back the signing of watched events.
    const loop = async (what: string, poll: () => Promise<unknown>) => {
      while (!signal.aborted) {
        try {
          await poll();
        } catch (err) {
          log.warn({ err: errorLine(err) }, `${what} failed; retrying`);
        }
        await sleep(options.pollMs, undefined, { signal }).catch(() => {});
      }
    };
    try {
      await Promise.all([
        loop("poll", () => attester.poll()),
        options.epochReports ? loop("epoch report", () => reporter.poll()) : Promise.resolve(),
        gigaBrains ? loop("GigaBrain set", () => gigaBrains.poll()) : Promise.resolve(),
      ]);
    } finally {
      await server.close();
      journal.close();
    }
  },
};

if (require.main === module) serviceMain(attesterService);
