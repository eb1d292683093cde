/**
 * The attester's persistent journal: every message it ever signed, keyed by (source chain,
 * nonce), and how far it has read each chain. An attester must never sign two different
 * messages for the same (source chain, nonce), across restarts too; the journal is the memory
 * that makes that true. Append-only JSON lines, fsync'd before a signature leaves the process.
 */
import fs from "node:fs";
import path from "node:path";
import type { Hex } from "viem";
import { z } from "zod";
import { type Message, messageJsonSchema, messageToJson } from "../messages/message";

const entrySchema = z.discriminatedUnion("type", [
  z.object({
    type: z.literal("signed"),
    seq: z.number().int().nonnegative(),
    id: z.string(),
    message: messageJsonSchema,
    setVersion: z.number().int().positive(),
    signature: z.string(),
  }),
  z.object({ type: z.literal("cursor"), chainId: z.number().int(), block: z.string() }),
]);

export type SignedEntry = { seq: number; id: Hex; message: Message; setVersion: number; signature: Hex };

export class ConflictingMessageError extends Error {
  override name = "ConflictingMessageError";
}

export class Journal {
  private readonly fd: number;
  private readonly byKey = new Map<string, SignedEntry>();
  private readonly byId = new Map<string, SignedEntry>();
  readonly signed: SignedEntry[] = [];
  private readonly cursors = new Map<number, bigint>();

  constructor(readonly file: string) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    if (fs.existsSync(file)) this.load(fs.readFileSync(file, "utf8"));
    this.fd = fs.openSync(file, "a");
  }

  private load(text: string): void {
    const lines = text.split("\n");
    lines.forEach((line, i) => {
      if (line.trim() === "") return;
      let entry: z.infer<typeof entrySchema>;
      try {
        entry = entrySchema.parse(JSON.parse(line));
      } catch (err) {
        // A torn last line (crash mid-write) is expected; anything else means tampering or a bug.
        if (i === lines.length - 1 || (i === lines.length - 2 && lines.at(-1) === "")) return;
        throw new Error(`journal ${this.file} line ${i + 1} is corrupt: ${(err as Error).message}`);
      }
      if (entry.type === "cursor") this.cursors.set(entry.chainId, BigInt(entry.block));
      else this.remember({ ...entry, id: entry.id as Hex, signature: entry.signature as Hex });
    });
  }

  private remember(entry: SignedEntry): void {
    this.byKey.set(`${entry.message.srcChainId}:${entry.message.nonce}`, entry);
    this.byId.set(entry.id.toLowerCase(), entry);
    this.signed.push(entry);
  }

  private append(entry: object): void {
    fs.writeSync(this.fd, JSON.stringify(entry) + "\n");
    fs.fsyncSync(this.fd);
  }

  /** The entry signed for this (source, nonce), if any. */
  signedFor(srcChainId: bigint, nonce: bigint): SignedEntry | undefined {
    return this.byKey.get(`${srcChainId}:${nonce}`);
  }

  byMessageId(id: string): SignedEntry | undefined {
    return this.byId.get(id.toLowerCase());
  }

  /**
   * Records a signature before it is served. Refuses a different message under a (source, nonce)
   * already signed: that would be equivocation.
   */
  recordSigned(id: Hex, message: Message, setVersion: number, signature: Hex): SignedEntry {
    const previous = this.signedFor(message.srcChainId, message.nonce);
    if (previous && previous.id !== id) {
      throw new ConflictingMessageError(
        `refusing to sign ${id}: (chain ${message.srcChainId}, nonce ${message.nonce}) was already signed as ${previous.id}`,
      );
    }
    const entry: SignedEntry = { seq: this.signed.length, id, message, setVersion, signature };
    this.append({ type: "signed", ...entry, message: messageToJson(message) });
    this.remember(entry);
    return entry;
  }

  cursor(chainId: number): bigint | undefined {
    return this.cursors.get(chainId);
  }

  setCursor(chainId: number, block: bigint): void {
    this.cursors.set(chainId, block);
    this.append({ type: "cursor", chainId, block: block.toString() });
  }

  close(): void {
    fs.closeSync(this.fd);
  }
}
