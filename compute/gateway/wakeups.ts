/**
 * Wake-ups between replicas of one Brain's gateway (docs/gateway.md "Replicas"). Every wake-up the
 * service raises (`job:<id>` when a job changes, `miner:<address>` when work is queued for a miner,
 * `settled:<session>` when the leader settled a close) is also published on one Redis channel per
 * prefix and Brain; each replica listens on a dedicated subscriber connection and wakes its own
 * long polls. The replica that raised a wake-up has already woken its own waiters (the local fast
 * path) and skips its own messages. A lost message costs only latency: long polls re-check Redis
 * on their own every few hundred ms.
 */
import type { Redis } from "ioredis";
import type { Logger } from "pino";
import { randomHex } from "../../protocol/gateway";

/** The channel the replicas of Brain `brainId` under `prefix` share. */
export const wakeChannel = (prefix: string, brainId: number) => `${prefix}:gw:${brainId}:wake`;

export class Wakeups {
  /** This replica's id: its own messages are not delivered back to it. */
  readonly id = randomHex(8);
  private closed = false;

  /**
   * @param publisher a connection for PUBLISH (the store's)
   * @param subscriber a dedicated connection, put in subscriber mode here
   * @param deliver wakes this replica's waiters on a key another replica raised
   */
  constructor(
    private readonly publisher: Redis,
    private readonly subscriber: Redis,
    readonly channel: string,
    private readonly deliver: (key: string) => void,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    this.subscriber.on("message", (channel: string, message: string) => {
      if (channel !== this.channel || this.closed) return;
      const space = message.indexOf(" ");
      if (space < 0 || message.slice(0, space) === this.id) return;
      this.deliver(message.slice(space + 1));
    });
    // ioredis subscribes again by itself after a reconnection.
    await this.subscriber.subscribe(this.channel);
  }

  /** Tells the other replicas about `key` (fire and forget: a lost message is only a slower wake-up). */
  publish(key: string): void {
    if (this.closed || this.publisher.status !== "ready") return;
    this.publisher.publish(this.channel, `${this.id} ${key}`).catch((err: Error) => {
      this.log.debug({ err: err.message }, "wake-up not published");
    });
  }

  close(): void {
    this.closed = true;
  }
}
