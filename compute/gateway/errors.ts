/**
 * The gateway's refusals: an HTTP status, a stable code (the `error` of the body) and a message
 * that says what to do. Everything a handler refuses is thrown as a `GatewayRefusal`; the server's
 * error handler turns it into `{error, message}` (protocol.ts `errorBodySchema`).
 */
import { z } from "zod";

export class GatewayRefusal extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "GatewayRefusal";
  }
}

/** 400 with zod's account of what was wrong in `where` (body, query, path). */
export function invalid(where: string, error: z.ZodError): GatewayRefusal {
  return new GatewayRefusal(400, "InvalidRequest", `invalid ${where}: ${z.prettifyError(error)}`);
}

export const redisDown = (): GatewayRefusal =>
  new GatewayRefusal(
    503,
    "RedisUnavailable",
    "the gateway lost its Redis connection; it reconnects by itself, retry in a few seconds",
  );

/** True for the errors ioredis raises while the server is unreachable. */
export function isRedisConnectionError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const m = err.message;
  return (
    err.name === "MaxRetriesPerRequestError" ||
    /Connection is closed|Stream isn't writeable|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|enableOfflineQueue/.test(
      m,
    )
  );
}
