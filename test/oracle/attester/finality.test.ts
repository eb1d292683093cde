/**
 * Security attack #7, "finality by depth": attesters signed events a fixed 2 blocks deep, so a
 * deeper reorganization of Ethereum could undo a burn after the BasedAI side released it. They now
 * sign up to the chain's `finalized` block (a depth only where a chain has no such tag).
 *
 * Hardhat cannot reorganize a finalized block (its `finalized` tag is the head), so these tests
 * put a node in front of it that reports a `finalized` block lagging the head, refuses reads of
 * state older than a few blocks (a node without archive state), and reorganize with
 * evm_snapshot / evm_revert.
 */
import path from "node:path";
import { Writable } from "node:stream";
import { expect } from "chai";
import { network } from "hardhat";
import { loadFixture, mine } from "@nomicfoundation/hardhat-network-helpers";
import pino from "pino";
import { type Hex, createPublicClient, custom, defineChain, getAddress } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { Attester } from "../../../oracle/attester/attester";
import { checkFinalizedTag } from "../../../oracle/attester/main";
import { brainWatch, bridgeWatch } from "../../../oracle/attester/sources";
import { FINALIZED } from "../../../oracle/finality";
import { Journal } from "../../../oracle/signing/journal";
import { decodeBrainEvent, decodeBridgeTransfer } from "../../../protocol/message";
import type { ChainContext, ChainName } from "../../../sdk/chain";
import { BasedError } from "../../../sdk/errors";
import { BASED, deployBridges } from "../../contracts/bridge/fixture";
import { PEPE, deployBrains } from "../../contracts/ethereum/helpers";
import { tempDir } from "../../helpers/processes";
import { inProcess } from "../harness";

/** What the node in front of Hardhat does: how far `finalized` lags, how much state it keeps. */
type NodeBehaviour = { finalizedLag: bigint; stateKept?: bigint };

const head = async () => BigInt((await network.provider.request({ method: "eth_blockNumber" })) as string);
const hex = (n: bigint) => `0x${n.toString(16)}`;

/** Chain `name` as a node with `behaviour` in front of the in-process Hardhat network shows it. */
function nodeWith(name: ChainName, id: number, behaviour: NodeBehaviour): ChainContext {
  const chain = defineChain({
    id,
    name: "hardhat",
    nativeCurrency: { name: "ETH", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: ["http://in-process"] } },
  });
  const transport = custom({
    async request({ method, params }: { method: string; params?: unknown[] }) {
      const p = network.provider;
      if (method === "eth_getBlockByNumber" && (params?.[0] === "finalized" || params?.[0] === "safe")) {
        const h = await head();
        const n = h > behaviour.finalizedLag ? h - behaviour.finalizedLag : 0n;
        return p.request({ method, params: [hex(n), params[1]] });
      }
      const at = params?.[1];
      if (
        method === "eth_call" &&
        behaviour.stateKept !== undefined &&
        typeof at === "string" &&
        at.startsWith("0x")
      ) {
        if (BigInt(at) < (await head()) - behaviour.stateKept) {
          // What geth answers for pruned state.
          throw Object.assign(
            new Error(`missing trie node ${"ab".repeat(32)} (path ) state is not available`),
            {
              code: -32000,
            },
          );
        }
      }
      return p.request({ method, params });
    },
  });
  return {
    name,
    deployments: undefined as never,
    chain,
    publicClient: createPublicClient({ chain, transport }),
    usingDevnetKey: false,
  };
}

/** Error log lines, parsed. */
function errorLog() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { log: pino({ level: "error" }, stream), lines };
}

describe("oracle attester: finality (attack #7)", function () {
  /** Bob holds wBASED on "Ethereum" (chain 1 here); an attester watches its bridge's burns. */
  async function burnSetup() {
    const f = await deployBridges();
    const node: NodeBehaviour = { finalizedLag: 10n };
    const eth = nodeWith("ethereum", 1, node);
    const based = inProcess("based", 32323);
    await f.relay(await f.messageOf(await f.basedBridge.connect(f.alice).lock(f.bob.address, BASED(50))));
    const options = {
      account: privateKeyToAccount(f.attesters[0]!.privateKey as Hex),
      watches: [bridgeWatch(eth, based, getAddress(await f.ethBridge.getAddress()), "to-based")],
      inboxes: [{ ctx: based, address: getAddress(await f.basedInbox.getAddress()) }],
      finality: new Map([[1, FINALIZED]]),
      startBlocks: new Map([[1, (await head()) + 1n]]),
      log: pino({ level: "silent" }),
    };
    return { ...f, node, options };
  }

  /** The fixture, and an attester with a journal of its own (the fixture's chain is reverted, a journal is not). */
  async function burnAttester() {
    const f = await loadFixture(burnSetup);
    const attester = new Attester({
      ...f.options,
      journal: new Journal(path.join(tempDir("attester"), "a.jsonl")),
    });
    return { ...f, attester };
  }

  it("attack: finality by depth — a reorg deeper than the depth cannot make the attester sign an undone burn", async () => {
    const f = await burnAttester();
    const snapshot = (await network.provider.request({ method: "evm_snapshot" })) as string;
    await f.ethBridge.connect(f.bob).burn(f.alice.address, BASED(20));
    await mine(4); // 4 blocks deep: past the old depth of 2, still above the finalized block
    expect(await f.attester.poll(), "nothing above the finalized block is signed").to.deep.equal([]);
    // A reorganization of the blocks not yet finalized: the burn never happened.
    await network.provider.request({ method: "evm_revert", params: [snapshot] });
    await mine(20);
    expect(await f.attester.poll()).to.deep.equal([]);
    expect(f.attester.options.journal.signed, "the undone burn was never signed").to.deep.equal([]);
  });

  it("signs a burn once the chain's finalized block reaches it, and not before", async () => {
    const f = await burnAttester();
    await f.ethBridge.connect(f.bob).burn(f.alice.address, BASED(20));
    const burnBlock = await head();
    await mine(9);
    expect(await f.attester.poll()).to.deep.equal([]); // finalized = burn block − 1
    await mine(1);
    const signed = await f.attester.poll(); // finalized = the burn's block
    expect(signed).to.have.lengthOf(1);
    expect(decodeBridgeTransfer(signed[0]!.message.payload).amount).to.equal(BASED(20));
    expect(f.attester.options.journal.cursor(1)).to.equal(burnBlock);
  });

  it("a chain without the finalized tag is an error naming the fix, and a depth still works there", async () => {
    const f = await burnAttester();
    const none = custom({
      async request({ method, params }: { method: string; params?: unknown[] }) {
        if (method === "eth_getBlockByNumber" && params?.[0] === "finalized")
          throw Object.assign(new Error("invalid block tag finalized"), { code: -32602 });
        return network.provider.request({ method, params });
      },
    });
    const eth = f.attester.options.watches[0]!.source;
    const tagless = { ...eth, publicClient: createPublicClient({ chain: eth.chain, transport: none }) };
    const watch = { ...f.attester.options.watches[0]!, source: tagless };
    const make = (finality: typeof FINALIZED | { kind: "depth"; depth: number }) =>
      new Attester({ ...f.attester.options, watches: [watch], finality: new Map([[1, finality]]) });
    await f.ethBridge.connect(f.bob).burn(f.alice.address, BASED(3));
    let error: Error | undefined;
    await make(FINALIZED)
      .poll()
      .catch((err: Error) => (error = err));
    expect(error?.message).to.contain("did not give its finalized block").and.contain("depth:N");
    await mine(3);
    expect(await make({ kind: "depth", depth: 3 }).poll()).to.have.lengthOf(1);
  });

  it("the attester service refuses to start on a node without the finalized tag, naming the flag to set", async () => {
    const f = await burnAttester();
    const eth = f.attester.options.watches[0]!.source;
    const answering = (tag: boolean) =>
      custom({
        async request({ method, params }: { method: string; params?: unknown[] }) {
          if (method === "eth_getBlockByNumber" && params?.[0] === "finalized" && !tag)
            throw Object.assign(new Error("invalid block tag finalized"), { code: -32602 });
          return network.provider.request({ method, params });
        },
      });
    const down = custom({
      request: () => Promise.reject(Object.assign(new Error("connection refused"), { code: -32603 })),
    });
    const on = (transport: ReturnType<typeof custom>) => ({
      ...eth,
      publicClient: createPublicClient({ chain: eth.chain, transport, batch: undefined }),
    });
    let refused: BasedError | undefined;
    await checkFinalizedTag(on(answering(false)), "--based-finality").catch((e: BasedError) => (refused = e));
    expect(refused).to.be.instanceOf(BasedError).and.include({ code: "InvalidConfig" });
    expect(refused!.hint).to.contain("--based-finality depth:N");
    await checkFinalizedTag(on(answering(true)), "--based-finality");
    // An unreachable node is left to the poll's retries.
    await checkFinalizedTag(on(down), "--based-finality");
  });

  it("an attester without archive state after downtime keeps going", async () => {
    async function brainSetup() {
      const b = await deployBrains();
      const f = await deployBridges(); // an inbox to sign for
      const eth = nodeWith("ethereum", 31337, { finalizedLag: 2n, stateKept: 16n });
      const { log, lines } = errorLog();
      const attester = new Attester({
        account: privateKeyToAccount(f.attesters[0]!.privateKey as Hex),
        journal: new Journal(path.join(tempDir("attester"), "a.jsonl")),
        watches: [brainWatch(eth, inProcess("based", 32323), getAddress(b.brainAddr))],
        inboxes: [{ ctx: inProcess("based", 32323), address: getAddress(await f.basedInbox.getAddress()) }],
        finality: new Map([[31337, FINALIZED]]),
        startBlocks: new Map([[31337, (await head()) + 1n]]),
        log,
      });
      return { ...b, attester, lines };
    }
    const { brain, alice, attester, lines } = await loadFixture(brainSetup);
    await brain.connect(alice).mintByBurn(PEPE(1_000)); // Brain #7
    const missed = await head();
    // The attester is down for 100 blocks: its node pruned the state of the mint's block.
    await mine(100);
    await brain.connect(alice).mintByBurn(PEPE(2_000)); // Brain #8, recent
    await mine(2);

    const signed = await attester.poll(); // neither stalls nor throws
    expect(signed.map((s) => decodeBrainEvent(s.message.payload).brainId)).to.deep.equal([8n]);
    expect(decodeBrainEvent(signed[0]!.message.payload).owner).to.equal(getAddress(alice.address));
    // Loudly: the event it cannot sign, with its block.
    expect(lines).to.have.lengthOf(1);
    expect(lines[0]).to.deep.include({
      msg: "event skipped: the node no longer has the state of its block (an archive node would)",
    });
    expect(lines[0]!.block).to.equal(Number(missed));
    expect(String(lines[0]!.what)).to.contain("Brain #7");
    expect(String(lines[0]!.err)).to.contain("missing trie node");
    expect(attester.options.journal.cursor(31337)).to.equal((await head()) - 2n);
    await mine(3);
    expect(await attester.poll()).to.deep.equal([]);
  });
});
