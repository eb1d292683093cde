/**
 * Looking for a prompt where it must not be: the secrecy tests dump what services store (Redis,
 * logs, files) and search it for the prompt's text and token ids in every encoding the code base
 * uses to move them (UTF-8, u32 token bytes as `encodeTokens` writes them, JSON number lists, and
 * base64 of the byte forms).
 */
import Redis from "ioredis";
import { encodeTokens } from "../../protocol/gateway";

export type Haystack = { name: string; bytes: Uint8Array };
export type Needles = { text: string; ids: number[] };

/** One encoding of a secret to search for. */
type Needle = { what: string; bytes: Buffer };

/**
 * Base64 of `bytes` as it appears inside a longer base64 text, for each of the three alignments
 * it can have there: only the characters that depend on `bytes` alone.
 */
function base64Forms(bytes: Uint8Array): Buffer[] {
  const forms: Buffer[] = [];
  for (let shift = 0; shift < 3; shift++) {
    const padded = Buffer.concat([Buffer.alloc(shift), Buffer.from(bytes)]);
    const b64 = padded.toString("base64");
    const start = [0, 2, 3][shift]!;
    const end = Math.floor(padded.length / 3) * 4;
    if (end - start >= 8) forms.push(Buffer.from(b64.slice(start, end), "latin1"));
  }
  return forms;
}

function needlesOf(secret: Needles): Needle[] {
  const out: Needle[] = [];
  if (secret.text !== "") {
    const utf8 = Buffer.from(secret.text, "utf8");
    out.push({ what: "prompt text (UTF-8)", bytes: utf8 });
    for (const b of base64Forms(utf8)) out.push({ what: "prompt text (base64)", bytes: b });
  }
  if (secret.ids.length > 0) {
    const u32 = Buffer.from(encodeTokens(secret.ids));
    out.push({ what: "token ids (u32 bytes)", bytes: u32 });
    for (const b of base64Forms(u32)) out.push({ what: "token ids (u32 bytes, base64)", bytes: b });
    // A JSON array, alone or inside a longer list, compact or pretty-printed.
    out.push({ what: "token ids (JSON)", bytes: Buffer.from(secret.ids.join(",")) });
    out.push({ what: "token ids (JSON)", bytes: Buffer.from(secret.ids.join(", ")) });
    out.push({ what: "token ids (JSON)", bytes: Buffer.from(secret.ids.join(",\n")) });
  }
  return out;
}

/**
 * Where the secret shows up: one line `<haystack name>: <encoding>` per hit (empty: nowhere).
 * JSON-list needles of a single id are skipped (a lone number is everywhere); use several ids.
 */
export function findSecrets(haystacks: readonly Haystack[], needles: Needles): string[] {
  const found: string[] = [];
  const all = needlesOf(needles).filter((n) => !(n.what === "token ids (JSON)" && needles.ids.length < 2));
  for (const h of haystacks) {
    const hay = Buffer.from(h.bytes.buffer, h.bytes.byteOffset, h.bytes.byteLength);
    for (const n of all) {
      if (hay.indexOf(n.bytes) >= 0) found.push(`${h.name}: ${n.what}`);
    }
  }
  return [...new Set(found)];
}

/** Every key under `prefix` in Redis with its whole value (all types), one haystack per key. */
export async function dumpRedis(
  prefix: string,
  url = process.env.REDIS_URL ?? "redis://127.0.0.1:6379",
): Promise<Haystack[]> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  try {
    const keys: string[] = [];
    let cursor = "0";
    do {
      const [next, batch] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== "0");
    const sep = Buffer.from("\n");
    const out: Haystack[] = [];
    for (const key of [...new Set(keys)].sort()) {
      const type = await redis.type(key);
      let parts: Buffer[] = [];
      switch (type) {
        case "string":
          parts = [(await redis.getBuffer(key)) ?? Buffer.alloc(0)];
          break;
        case "hash":
          parts = await redis
            .hgetallBuffer(key)
            .then((h) => Object.entries(h).flatMap(([f, v]) => [Buffer.from(f), v]));
          break;
        case "list":
          parts = await redis.lrangeBuffer(key, 0, -1);
          break;
        case "set":
          parts = await redis.smembersBuffer(key);
          break;
        case "zset":
          parts = await redis.zrangeBuffer(key, 0, -1, "WITHSCORES");
          break;
        case "stream": {
          const entries = (await redis.xrangeBuffer(key, "-", "+")) as unknown as [Buffer, Buffer[]][];
          parts = entries.flatMap(([id, fields]) => [id, ...fields]);
          break;
        }
        case "none":
          continue; // expired between SCAN and TYPE
        default:
          parts = [Buffer.from(`<unsupported type ${type}>`)];
      }
      const bytes = Buffer.concat(parts.flatMap((p) => [p, sep]));
      out.push({
        name: `redis ${key} (${type})`,
        bytes: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength),
      });
    }
    return out;
  } finally {
    redis.disconnect();
  }
}
