/**
 * Deleting everything under a Redis key prefix: what a devnet does to the previous devnet's queues
 * and blobs, and what tests and benches do after themselves (they share one Redis).
 */
import Redis from "ioredis";

/** Deletes every key under `prefix:` through `target` (a URL, or a connection it leaves open). */
export async function deleteRedisPrefix(target: string | Redis, prefix: string): Promise<number> {
  const redis =
    typeof target === "string"
      ? new Redis(target, { lazyConnect: true, connectTimeout: 2_000, maxRetriesPerRequest: 1 })
      : target;
  if (typeof target === "string") {
    redis.on("error", () => {});
    try {
      await redis.connect();
    } catch {
      throw new Error(
        `Redis is not reachable at ${target}: start it (\`redis-server\`, or \`docker run -p 6379:6379 redis:7\`) or set BASED_REDIS_URL`,
      );
    }
  }
  let deleted = 0;
  try {
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 1000);
      cursor = next;
      if (keys.length > 0) deleted += await redis.del(...keys);
    } while (cursor !== "0");
  } finally {
    if (typeof target === "string") redis.disconnect();
  }
  return deleted;
}
