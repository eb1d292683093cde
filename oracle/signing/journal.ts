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
import { type Message, messageId, messageJsonSchema, messageToJson } from "../../protocol/message";

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
    if (fs.existsSync(file)) this.load();
    this.fd = fs.openSync(file, "a");
  }

  /**
   * Replays the file. A crash mid-append leaves a torn last line: it is cut off (its signature
   * never left the process, since serving waits for the fsync), so that the next append starts on
   * a line of its own instead of gluing itself to the fragment. Any other bad line is an error:
   * it means tampering or a bug, and signing on top of a journal we cannot read could equivocate.
   */
  private load(): void {
    const bytes = fs.readFileSync(this.file);
    let start = 0;
    let line = 0;
    while (start < bytes.length) {
      const newline = bytes.indexOf(0x0a, start);
      const end = newline === -1 ? bytes.length : newline;
      const text = bytes.subarray(start, end).toString("utf8");
      const last = newline === -1 || newline === bytes.length - 1;
      line += 1;
      if (text.trim() !== "") {
        let entry: z.infer<typeof entrySchema>;
        try {
          entry = entrySchema.parse(JSON.parse(text));
        } catch (err) {
          if (!last)
            throw new Error(`journal ${this.file} line ${line} is corrupt: ${(err as Error).message}`);
          fs.truncateSync(this.file, start);
          return;
        }
        if (entry.type === "cursor") this.cursors.set(entry.chainId, BigInt(entry.block));
        else if (messageId(entry.message).toLowerCase() !== entry.id.toLowerCase())
          throw new Error(`journal ${this.file} line ${line}: id ${entry.id} does not match its message`);
        else this.remember({ ...entry, id: entry.id as Hex, signature: entry.signature as Hex });
        // A whole entry whose newline was lost: restore it so the next entry gets its own line.
        if (newline === -1) fs.appendFileSync(this.file, "\n");
      }
      start = end + 1;
    }
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
