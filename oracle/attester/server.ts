/**
 * The attester's HTTP face: relayers list what it signed and fetch signatures by message id;
 * claimants fetch the rewards of the epochs it computed (tree dumps and proofs), registrants the
 * pruning order. Everything served is public (signatures over public events, results computed from
 * public chain data); inputs are validated with zod.
 */
import Fastify, { type FastifyInstance, type FastifyReply } from "fastify";
import { type Address, getAddress } from "viem";
import { z } from "zod";
import {
  type MessagesResponseJson,
  type SignaturesResponseJson,
  type SignedMessageJson,
  messageIdSchema,
} from "../../protocol/attester";
import { addressSchema } from "../../protocol/schemas";
import { rewardProof } from "../../protocol/report";
import type { EpochStore, StoredEpoch } from "../epoch/store";
import { toJsonText } from "../epoch/store";
import { messageToJson } from "../../protocol/message";
import { type Attester, NotInAttesterSetError } from "./attester";
import type { SignedEntry } from "../signing/journal";

const listQuery = z.object({
  after: z.coerce.number().int().min(-1).default(-1),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});
const idParams = z.object({ id: messageIdSchema });
const sigQuery = z.object({ setVersion: z.coerce.number().int().positive().optional() });
const epochParams = z.object({
  epoch: z
    .string()
    .regex(/^\d{1,20}$/, "expected an epoch number")
    .transform(BigInt)
    .refine((e) => e < 1n << 64n, "expected a uint64 epoch"),
});
const rewardParams = epochParams.extend({ address: addressSchema });

/** Which report a served tree belongs to. */
const reportJson = (e: StoredEpoch) => ({ ...e.report, messageId: e.messageId });

function entryJson(attester: Address, e: SignedEntry): SignedMessageJson {
  return {
    seq: e.seq,
    id: e.id,
    message: messageToJson(e.message),
    signer: attester,
    setVersion: e.setVersion,
    signature: e.signature,
  };
}

/** Sends `body` as JSON with bigints as decimal strings. */
function sendJson(reply: FastifyReply, body: unknown) {
  return reply.type("application/json; charset=utf-8").send(toJsonText(body));
}

export function attesterServer(attester: Attester, epochs?: EpochStore): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: 1024 });
  const journal = attester.options.journal;

  app.get("/health", async () => ({ ok: true, attester: attester.address, signed: journal.signed.length }));

  app.get("/messages", async (req, reply) => {
    const q = listQuery.safeParse(req.query);
    if (!q.success) return reply.code(400).send({ error: z.prettifyError(q.error) });
    const page = journal.signed.filter((e) => e.seq > q.data.after).slice(0, q.data.limit);
    return {
      attester: attester.address,
      messages: page.map((e) => entryJson(attester.address, e)),
    } satisfies MessagesResponseJson;
  });

  app.get("/messages/:id/signatures", async (req, reply) => {
    const p = idParams.safeParse(req.params);
    const q = sigQuery.safeParse(req.query);
    if (!p.success) return reply.code(400).send({ error: z.prettifyError(p.error) });
    if (!q.success) return reply.code(400).send({ error: z.prettifyError(q.error) });
    let entry = journal.byMessageId(p.data.id);
    if (!entry)
      return reply.code(404).send({ error: `attester ${attester.address} has not signed ${p.data.id}` });
    // After a rotation the relayer asks for the new version: re-sign what this attester already
    // saw happen (never anything new: only journaled messages are signed here).
    if (q.data.setVersion !== undefined && q.data.setVersion !== entry.setVersion) {
      try {
        entry = await attester.sign(entry.message);
      } catch (err) {
        if (err instanceof NotInAttesterSetError)
          return reply.code(409).send({ error: `${err.message}; ask the current attesters` });
        throw err;
      }
    }
    return {
      id: entry.id,
      message: messageToJson(entry.message),
      signatures: [entryJson(attester.address, entry)],
    } satisfies SignaturesResponseJson;
  });

  /** Epoch `epoch` as computed here, or a 404 that says how far this attester got. */
  const computed = (raw: unknown, reply: FastifyReply): StoredEpoch | undefined => {
    const p = epochParams.safeParse(raw);
    if (!p.success) {
      void reply.code(400).send({ error: z.prettifyError(p.error) });
      return undefined;
    }
    const stored = epochs?.get(p.data.epoch);
    if (!stored) {
      const latest = epochs?.ready ? epochs.latest() : undefined;
      const progress = !epochs
        ? "it does not compute epochs"
        : !epochs.ready
          ? "it is starting"
          : latest === undefined
            ? "it has computed no epoch yet"
            : `the latest it computed is epoch ${latest}`;
      void reply.code(404).send({
        error: `attester ${attester.address} has not computed epoch ${p.data.epoch} yet (${progress}); an epoch is computed once it is over and Consensus expects its report`,
      });
    }
    return stored;
  };

  app.get("/epochs/:epoch/rewards", async (req, reply) => {
    const e = computed(req.params, reply);
    if (!e) return reply;
    return sendJson(reply, { ...e.rewardsTree.dump(), report: reportJson(e) });
  });

  app.get("/epochs/:epoch/rewards/:address", async (req, reply) => {
    const p = rewardParams.safeParse(req.params);
    if (!p.success) return reply.code(400).send({ error: z.prettifyError(p.error) });
    const e = computed(req.params, reply);
    if (!e) return reply;
    const account = getAddress(p.data.address);
    const leaf = rewardProof(e.rewardsTree, account);
    return sendJson(reply, {
      epoch: e.epoch,
      account,
      amount: leaf?.amount ?? 0n,
      proof: leaf?.proof ?? [],
      rewardsRoot: e.report.rewardsRoot,
      inputsHash: e.report.inputsHash,
    });
  });

  app.get("/epochs/:epoch/pruning", async (req, reply) => {
    const e = computed(req.params, reply);
    if (!e) return reply;
    if (!e.pruningTree) {
      return reply.code(404).send({
        error: `epoch ${e.epoch} has no pruning order: no Brain had a member (its report's pruning root is zero)`,
      });
    }
    return sendJson(reply, { ...e.pruningTree.dump(), report: reportJson(e) });
  });

  return app;
}
