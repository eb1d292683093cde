/**
 * The attester's HTTP face: relayers list what it signed and fetch signatures by message id.
 * Everything served is public (signatures over public events); inputs are validated with zod.
 */
import Fastify, { type FastifyInstance } from "fastify";
import { z } from "zod";
import { messageToJson } from "../messages/message";
import type { Attester } from "./attester";
import type { SignedEntry } from "./journal";

const listQuery = z.object({
  after: z.coerce.number().int().min(-1).default(-1),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});
const idParams = z.object({
  id: z.string().regex(/^0x[0-9a-fA-F]{64}$/, "expected a 32-byte hex message id"),
});
const sigQuery = z.object({ setVersion: z.coerce.number().int().positive().optional() });

function entryJson(attester: string, e: SignedEntry) {
  return {
    seq: e.seq,
    id: e.id,
    message: messageToJson(e.message),
    signer: attester,
    setVersion: e.setVersion,
    signature: e.signature,
  };
}

export function attesterServer(attester: Attester): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: 1024 });
  const journal = attester.options.journal;

  app.get("/health", async () => ({ ok: true, attester: attester.address, signed: journal.signed.length }));

  app.get("/messages", async (req, reply) => {
    const q = listQuery.safeParse(req.query);
    if (!q.success) return reply.code(400).send({ error: z.prettifyError(q.error) });
    const page = journal.signed.filter((e) => e.seq > q.data.after).slice(0, q.data.limit);
    return { attester: attester.address, messages: page.map((e) => entryJson(attester.address, e)) };
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
      entry = await attester.sign(entry.message);
    }
    return {
      id: entry.id,
      message: messageToJson(entry.message),
      signatures: [entryJson(attester.address, entry)],
    };
  });

  return app;
}
