/**
 * The OpenAPI 3.1 description served at `/docs`, built from protocol.ts's zod schemas (zod 4's
 * `z.toJSONSchema`, wire side: the input shape of each schema), so it cannot drift from what the
 * gateway validates.
 */
import { z } from "zod";
import {
  API_PREFIX,
  LIMITS,
  SIGNATURE_HEADERS,
  closeSessionResultSchema,
  errorBodySchema,
  jobViewSchema,
  minerStatsSchema,
  openSessionSchema,
  pollWorkSchema,
  postResultSchema,
  releaseJobSchema,
  sampleSchema,
  sessionViewSchema,
  submitJobSchema,
  workItemSchema,
} from "../../protocol/gateway";

type Auth = "none" | "miner" | "validator" | "member";

type RouteDoc = {
  method: "get" | "put" | "head" | "post";
  /** OpenAPI path (`{id}` parameters), without the /v1 prefix unless `root`. */
  path: string;
  summary: string;
  auth: Auth;
  root?: boolean;
  params?: Record<string, string>;
  query?: Record<string, { schema: object; description: string }>;
  body?: { schema: z.ZodType } | { binary: true };
  ok: { status: number; schema?: z.ZodType; binary?: true; sse?: true; description: string };
  errors: number[];
};

const json = (schema: z.ZodType) => {
  const s = z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as Record<string, unknown>;
  delete s.$schema;
  return s;
};

const BINARY = {
  "application/octet-stream": { schema: { type: "string", contentMediaType: "application/octet-stream" } },
};

const jobsEnvelope = (name: string, item: z.ZodType) => z.object({ [name]: z.array(item) });

export const ROUTE_DOCS: readonly RouteDoc[] = [
  {
    method: "get",
    path: "/health",
    root: true,
    summary: "Liveness: Redis state and live miners",
    auth: "none",
    ok: { status: 200, description: "the gateway answers" },
    errors: [503],
  },
  {
    method: "get",
    path: "/docs",
    root: true,
    summary: "This OpenAPI document",
    auth: "none",
    ok: { status: 200, description: "OpenAPI 3.1 JSON" },
    errors: [],
  },
  {
    method: "put",
    path: "/blobs/{hash}",
    summary: `Upload a content-addressed blob (evaluation keys), at most ${LIMITS.maxBlobBytes} bytes`,
    auth: "none",
    params: { hash: "sha256 of the body, lowercase hex" },
    body: { binary: true },
    ok: { status: 201, description: "stored (or already there: its lifetime is renewed)" },
    errors: [400, 413, 415, 429, 503],
  },
  {
    method: "head",
    path: "/blobs/{hash}",
    summary: "Whether the gateway holds a blob (clients skip uploading keys it has)",
    auth: "none",
    params: { hash: "sha256, lowercase hex" },
    ok: { status: 200, description: "held" },
    errors: [404, 429],
  },
  {
    method: "get",
    path: "/blobs/{hash}",
    summary: "Fetch a blob (miners and validators: a session's evaluation keys)",
    auth: "member",
    params: { hash: "sha256, lowercase hex" },
    ok: { status: 200, binary: true, description: "the blob's bytes" },
    errors: [401, 403, 404, 409],
  },
  {
    method: "post",
    path: "/sessions",
    summary: "Open a session; it sticks to the least loaded live miner",
    auth: "none",
    body: { schema: openSessionSchema },
    ok: { status: 201, schema: sessionViewSchema, description: "the session" },
    errors: [400, 429, 503],
  },
  {
    method: "get",
    path: "/sessions/{id}",
    summary: "A session: its miner, units and state",
    auth: "none",
    params: { id: "session id" },
    ok: { status: 200, schema: sessionViewSchema, description: "the session" },
    errors: [400, 404, 429],
  },
  {
    method: "post",
    path: "/sessions/{id}/jobs",
    summary: `Submit a job (linear: at most ${LIMITS.maxJobInputs} ciphertexts, ${LIMITS.maxJobBytes} bytes; generate: plain sessions)`,
    auth: "none",
    params: { id: "session id" },
    body: { schema: submitJobSchema },
    ok: { status: 202, schema: z.object({ jobId: z.string() }), description: "queued" },
    errors: [400, 404, 409, 413, 429],
  },
  {
    method: "post",
    path: "/sessions/{id}/close",
    summary: "Close a session; with an escrow, settle it with the last delivered result",
    auth: "none",
    params: { id: "session id" },
    ok: { status: 200, schema: closeSessionResultSchema, description: "units and settlement" },
    errors: [404, 409, 429],
  },
  {
    method: "get",
    path: "/jobs/{id}",
    summary: "A job's state and result; with waitMs, held until it ends or the wait runs out",
    auth: "none",
    params: { id: "job id" },
    query: {
      waitMs: {
        schema: { type: "integer", minimum: 0, maximum: LIMITS.maxWaitMs },
        description: "long-poll up to this many ms",
      },
    },
    ok: { status: 200, schema: jobViewSchema, description: "the job" },
    errors: [400, 404, 429],
  },
  {
    method: "get",
    path: "/jobs/{id}/events",
    summary: "Server-sent events: `event: state` with the job's view on every change, until it ends",
    auth: "none",
    params: { id: "job id" },
    ok: { status: 200, sse: true, schema: jobViewSchema, description: "text/event-stream of job views" },
    errors: [400, 404, 429],
  },
  {
    method: "post",
    path: "/miner/work",
    summary: "Long-poll for this miner's next job (204 when none came in time)",
    auth: "miner",
    body: { schema: pollWorkSchema },
    ok: { status: 200, schema: workItemSchema, description: "a job, locked to this miner" },
    errors: [204, 400, 401, 403, 409, 503],
  },
  {
    method: "post",
    path: "/miner/jobs/{id}/result",
    summary: "Deliver a job's outputs with their hash and the miner's EIP-712 Delivery signature",
    auth: "miner",
    params: { id: "job id" },
    body: { schema: postResultSchema },
    ok: { status: 200, description: "accepted" },
    errors: [400, 401, 403, 404, 409, 413],
  },
  {
    method: "post",
    path: "/miner/jobs/{id}/release",
    summary: "Give a job back (shutdown, or it cannot run here); it goes to another miner when one is live",
    auth: "miner",
    params: { id: "job id" },
    body: { schema: releaseJobSchema },
    ok: { status: 200, description: "released" },
    errors: [400, 401, 403, 404, 409],
  },
  {
    method: "get",
    path: "/validator/samples",
    summary: "A random subset of recently completed linear jobs, with inputs, to replay",
    auth: "validator",
    query: {
      limit: { schema: { type: "integer", minimum: 1, maximum: 100 }, description: "how many (default 10)" },
    },
    ok: { status: 200, schema: jobsEnvelope("samples", sampleSchema), description: "samples" },
    errors: [400, 401, 403, 409],
  },
  {
    method: "get",
    path: "/validator/miners",
    summary: "What the gateway saw of each miner",
    auth: "validator",
    ok: { status: 200, schema: jobsEnvelope("miners", minerStatsSchema), description: "miners" },
    errors: [401, 403, 409],
  },
];

const ERROR_TEXT: Record<number, string> = {
  204: "nothing to do within the wait",
  400: "invalid input (the message says which field and why)",
  401: "missing, malformed, expired or wrong signature",
  403: "the signer is not a member of the Brain in that role",
  404: "unknown or expired",
  409: "conflict: replayed nonce, closed session, or a lock that is not yours",
  413: "body or job too large",
  415: "wrong content type",
  429: "rate limited (per client IP)",
  503: "no miner available, or Redis unavailable",
};

/** The whole document; `/docs` serves it as JSON. */
export function openApiDocument(info: { brainId: number; version?: string }): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of ROUTE_DOCS) {
    const path = r.root ? r.path : `${API_PREFIX}${r.path}`;
    const parameters: unknown[] = [];
    for (const [name, description] of Object.entries(r.params ?? {})) {
      parameters.push({ name, in: "path", required: true, description, schema: { type: "string" } });
    }
    for (const [name, q] of Object.entries(r.query ?? {})) {
      parameters.push({ name, in: "query", required: false, description: q.description, schema: q.schema });
    }
    const responses: Record<string, unknown> = {};
    const okContent = r.ok.binary
      ? BINARY
      : r.ok.sse
        ? { "text/event-stream": { schema: r.ok.schema ? json(r.ok.schema) : {} } }
        : r.ok.schema
          ? { "application/json": { schema: json(r.ok.schema) } }
          : undefined;
    responses[String(r.ok.status)] = {
      description: r.ok.description,
      ...(okContent ? { content: okContent } : {}),
    };
    for (const status of r.errors) {
      responses[String(status)] =
        status === 204
          ? { description: ERROR_TEXT[status] }
          : {
              description: ERROR_TEXT[status] ?? "error",
              content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
            };
    }
    const op: Record<string, unknown> = {
      summary: r.summary,
      tags: [r.root ? "service" : r.path.split("/")[1]],
      parameters,
      responses,
    };
    if (r.auth !== "none") {
      op.security = [{ memberSignature: [] }];
      op["x-based-roles"] = r.auth === "member" ? ["miner", "validator"] : [r.auth];
    }
    if (r.body) {
      op.requestBody = {
        required: true,
        content: "binary" in r.body ? BINARY : { "application/json": { schema: json(r.body.schema) } },
      };
    }
    (paths[path] ??= {})[r.method] = op;
  }
  return {
    openapi: "3.1.0",
    info: {
      title: `BasedAI Brain gateway (Brain #${info.brainId})`,
      version: info.version ?? "1",
      description:
        "Routes a Brain's encrypted (and plain) inference jobs to its miners. Clients are anonymous; miners and validators sign every request (EIP-191 over protocol.ts signedRequestMessage). See docs/gateway.md.",
    },
    paths,
    components: {
      schemas: { Error: json(errorBodySchema) },
      securitySchemes: {
        memberSignature: {
          type: "apiKey",
          in: "header",
          name: SIGNATURE_HEADERS.signature,
          description: `EIP-191 signature of signedRequestMessage(domain, method, path, sha256(body), nonce, expiry), with headers ${Object.values(SIGNATURE_HEADERS).join(", ")}`,
        },
      },
    },
  };
}
