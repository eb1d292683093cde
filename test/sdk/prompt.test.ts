import fs from "node:fs";
import { expect } from "chai";
import { BasedError } from "../../sdk/errors";
import { GatewayClient, GatewayError } from "../../sdk/gateway-client";
import {
  type BlobClaim,
  type OpenSession,
  type SessionClaimFields,
  type SessionView,
  blobHash,
} from "../../protocol/gateway";
import type { CkksClient } from "../../zkllm/ckks/client";
import { TokenText, generateAnswer, preparePrompt, promptUnits, runPrompt } from "../../sdk/prompt";
import { type LinearBackend, plainBackend } from "../../zkllm/client";
import { loadTokenizer } from "../../zkllm/tokenizer";
import { freePort } from "../helpers/processes";
import { SHIPPED_MODEL_DIR } from "../zkllm/model/helpers";
import { openModelDir } from "../../sdk/node/model-cache";
import { LOSSLESS, QUANTIZED, modelWithPlan } from "../helpers/model-plan";

const BRAIN = 3;
const tokenizer = loadTokenizer(SHIPPED_MODEL_DIR);
const SHIPPED = openModelDir(SHIPPED_MODEL_DIR, "encrypted");

async function refusal(run: () => Promise<unknown>): Promise<BasedError> {
  try {
    await run();
  } catch (err) {
    expect(err, String(err)).to.be.instanceOf(BasedError);
    return err as BasedError;
  }
  throw new Error("expected a refusal");
}

describe("sdk/prompt: the user's side of a prompt, without a network", () => {
  it("prompt units are whole prefill buckets when encrypted, the exact length when plain", () => {
    expect(promptUnits([1, 2, 3])).to.equal(16);
    expect(promptUnits(Array.from({ length: 16 }, () => 7))).to.equal(16);
    expect(promptUnits(Array.from({ length: 17 }, () => 7))).to.equal(32);
    expect(promptUnits([1, 2, 3], 1)).to.equal(3);
    expect(() => promptUnits([1], 0)).to.throw(BasedError, /positive whole number/);
  });

  it("streamed text never shows half a character: bytes split across tokens wait for the rest", () => {
    for (const s of ["a😀b", " café au lait", "The jury said"]) {
      const ids = tokenizer.encode(s);
      const text = new TokenText(tokenizer, tokenizer.eotId);
      const pieces = ids.map((id, i) => text.push(id, i === ids.length - 1));
      expect(pieces.join("")).to.equal(s);
      for (const p of pieces) expect(p).not.to.contain("\uFFFD");
      expect(text.full()).to.equal(s);
    }
    // The end-of-text token ends the answer and adds no text.
    const text = new TokenText(tokenizer, tokenizer.eotId);
    expect(tokenizer.encode(" said").map((id) => text.push(id, false))).to.deep.equal([" said"]);
    expect(text.push(tokenizer.eotId!, true)).to.equal("");
    expect(text.full()).to.equal(" said");
  });

  it("a prompt is checked against the model before anything is sent", () => {
    const ok = preparePrompt(SHIPPED, "The jury said", 16, "encrypted");
    expect(ok.promptIds).to.deep.equal(tokenizer.encode("The jury said"));
    expect(ok.promptUnits).to.equal(16);
    expect(ok.maxCompletionUnits).to.equal(16);
    expect(ok.eosId).to.equal(tokenizer.eotId);
    expect(preparePrompt(SHIPPED, "The jury said", 16, "plain").promptUnits).to.equal(4);
    // Near the end of the context the answer is capped (the last position still gives a token).
    const long = Array.from({ length: 125 }, () => 260);
    expect(preparePrompt(SHIPPED, long, 16, "encrypted").maxCompletionUnits).to.equal(4);

    const code = (run: () => unknown) => {
      try {
        run();
      } catch (err) {
        expect(err).to.be.instanceOf(BasedError);
        return (err as BasedError).code;
      }
      return "none";
    };
    expect(code(() => preparePrompt(SHIPPED, "", 4, "encrypted"))).to.equal("EmptyPrompt");
    expect(code(() => preparePrompt(SHIPPED, [1, 4096], 4, "encrypted"))).to.equal("InvalidPrompt");
    expect(code(() => preparePrompt(SHIPPED, Array(129).fill(5), 4, "plain"))).to.equal("PromptTooLong");
    expect(code(() => preparePrompt(SHIPPED, "x", 0, "plain"))).to.equal("InvalidArgument");
    expect(code(() => openModelDir("/nonexistent/model", "plain"))).to.equal("ModelNotFound");
  });

  it("a prepared encrypted prompt says whether the model's plan is lossy (the answer may differ from plain inference)", () => {
    const dirs = [modelWithPlan(QUANTIZED), modelWithPlan(LOSSLESS)];
    const [lossy, lossless] = dirs.map((dir) => openModelDir(dir, "encrypted"));
    dirs.forEach((dir) => fs.rmSync(dir, { recursive: true }));
    expect(preparePrompt(lossy!, "The jury said", 4, "encrypted").plan).to.deep.equal({
      lossy: true,
      reasons: ["256-level activation quantization"],
      agreement: 0.988,
    });
    expect(preparePrompt(lossless!, "The jury said", 4, "encrypted").plan).to.deep.equal({
      lossy: false,
      reasons: [],
    });
    // A plain prompt runs the model itself on the miner: no plan is involved.
    expect(preparePrompt(lossy!, "The jury said", 4, "plain").plan).to.equal(null);
  });

  it("an unreachable gateway is reported as such, with the hint to start one", async () => {
    const port = await freePort();
    const err = await refusal(() =>
      runPrompt({
        gateway: new GatewayClient({ url: `http://127.0.0.1:${port}`, timeoutMs: 2_000 }),
        brainId: BRAIN,
        model: SHIPPED,
        prompt: "The jury said",
        maxTokens: 2,
        mode: "plain",
      }),
    );
    expect(err.code).to.equal("GatewayUnreachable");
    expect(err.hint).to.match(/npm run devnet|BASED_GATEWAY_URL/);
  });

  it("a gateway that keeps answering 503 is retried until the prompt's retry budget is spent, then reported", async () => {
    let tries = 0;
    class NoMiner extends GatewayClient {
      override openSession(): Promise<SessionView> {
        tries++;
        return Promise.reject(new GatewayError(503, "NoMinerAvailable", "no miner is online"));
      }
    }
    const err = await refusal(() =>
      runPrompt({
        gateway: new NoMiner({ url: "http://127.0.0.1:1" }),
        brainId: BRAIN,
        model: SHIPPED,
        prompt: "The jury said",
        maxTokens: 2,
        mode: "plain",
        // The default (a minute) would outlast this test's timeout.
        retryBudgetMs: 400,
      }),
    );
    expect(err.code).to.equal("NoMinerAvailable");
    expect(err.kind).to.equal("environment");
    expect(err.hint).to.match(/no miner online/);
    expect(tries).to.be.greaterThan(1);
  });

  it("a paid prompt opens its session with the request's signed claim, and needs a signer for it", async () => {
    const sent: OpenSession[] = [];
    class Recording extends GatewayClient {
      override openSession(body: OpenSession): Promise<SessionView> {
        sent.push(body);
        return Promise.reject(new BasedError("environment", "Stop", "stop here"));
      }
    }
    const gateway = new Recording({ url: "http://127.0.0.1:1" });
    const base = { gateway, brainId: BRAIN, model: SHIPPED, prompt: "The jury said", maxTokens: 2 } as const;
    const unsigned = await refusal(() => runPrompt({ ...base, mode: "plain", requestId: "12" }));
    expect(unsigned.code).to.equal("NoClaimSigner");
    expect(sent).to.deep.equal([]);

    const signed: SessionClaimFields[] = [];
    const stopped = await refusal(() =>
      runPrompt({
        ...base,
        mode: "plain",
        requestId: "12",
        signClaim: async (c) => {
          signed.push(c);
          return `0x${"11".repeat(65)}`;
        },
      }),
    );
    expect(stopped.code).to.equal("Stop");
    expect(signed).to.have.length(1);
    expect(signed[0]).to.include({ requestId: "12", brainId: BRAIN, mode: "plain" });
    expect(sent[0]).to.deep.include({
      requestId: "12",
      claim: { expiry: signed[0]!.expiry, signature: `0x${"11".repeat(65)}` },
    });
  });

  it("an encrypted prompt uploads each key blob after one HEAD, not two", async () => {
    const calls: string[] = [];
    const realFetch = globalThis.fetch;
    globalThis.fetch = (input, init) => {
      const method = init?.method ?? "GET";
      calls.push(`${method} ${new URL(String(input)).pathname.split("/").slice(0, 3).join("/")}`);
      const status = method === "HEAD" ? 404 : method === "PUT" ? 201 : 400;
      const body = status === 400 ? JSON.stringify({ error: "Stop", message: "stop here" }) : null;
      return Promise.resolve(new Response(body, { status, headers: { "content-type": "application/json" } }));
    };
    try {
      const stopped = await refusal(() =>
        runPrompt({
          gateway: new GatewayClient({ url: "http://127.0.0.1:1" }),
          brainId: BRAIN,
          model: SHIPPED,
          prompt: "The jury said",
          maxTokens: 2,
          mode: "encrypted",
          openKeys: async () => ({
            client: { delete() {} } as unknown as CkksClient,
            evalKeys: { galois: new Uint8Array([1, 2, 3]), relin: new Uint8Array([4, 5]) },
          }),
        }),
      );
      expect(stopped.code).to.equal("Stop");
    } finally {
      globalThis.fetch = realFetch;
    }
    expect(calls.slice(0, 4)).to.deep.equal([
      "HEAD /v1/blobs",
      "PUT /v1/blobs",
      "HEAD /v1/blobs",
      "PUT /v1/blobs",
    ]);
  });

  it("a paid encrypted prompt signs its claim over the keys first, uploads them with it and opens the session with the same claim", async () => {
    const uploads: { hash: string; claim?: BlobClaim }[] = [];
    const sent: OpenSession[] = [];
    class Recording extends GatewayClient {
      override hasBlob(): Promise<boolean> {
        return Promise.resolve(false);
      }
      override putBlob(bytes: Uint8Array, claim?: BlobClaim): Promise<string> {
        uploads.push({ hash: blobHash(bytes), ...(claim ? { claim } : {}) });
        return Promise.resolve(blobHash(bytes));
      }
      override openSession(body: OpenSession): Promise<SessionView> {
        sent.push(body);
        return Promise.reject(new BasedError("environment", "Stop", "stop here"));
      }
    }
    const [galois, relin] = [new Uint8Array([1, 2, 3]), new Uint8Array([4, 5])];
    const signed: SessionClaimFields[] = [];
    const stopped = await refusal(() =>
      runPrompt({
        gateway: new Recording({ url: "http://127.0.0.1:1" }),
        brainId: BRAIN,
        model: SHIPPED,
        prompt: "The jury said",
        maxTokens: 2,
        mode: "encrypted",
        requestId: "12",
        openKeys: async () => ({
          client: { delete() {} } as unknown as CkksClient,
          evalKeys: { galois, relin },
        }),
        signClaim: async (c) => {
          signed.push(c);
          return `0x${"11".repeat(65)}`;
        },
      }),
    );
    expect(stopped.code).to.equal("Stop");
    const keys = { galois: blobHash(galois), relin: blobHash(relin) };
    // One signature, over the session's keys, used for both uploads and the session.
    expect(signed).to.have.length(1);
    expect(signed[0]).to.deep.include({ requestId: "12", brainId: BRAIN, mode: "encrypted", keys });
    const claim = { expiry: signed[0]!.expiry, signature: `0x${"11".repeat(65)}` };
    expect(uploads).to.deep.equal([
      { hash: keys.galois, claim: { requestId: "12", keys, claim } },
      { hash: keys.relin, claim: { requestId: "12", keys, claim } },
    ]);
    expect(sent[0]).to.deep.include({ mode: "encrypted", keys, requestId: "12", claim });
  });

  it("padding runs every pass up to maxTokens past the end-of-text token, and the answer still stops at it", async () => {
    const server = SHIPPED.split().server;
    const steps = server.map((st) => st.id);
    const prompt = tokenizer.encode("The jury said");
    /** The plain backend, counting passes: each pass sends every server step once. */
    const counting = () => {
      const inner = plainBackend(server);
      const calls = { count: 0 };
      const backend: LinearBackend = {
        evaluate(id, rows, n, phase) {
          if (id === steps[0]) calls.count++;
          return inner.evaluate(id, rows, n, phase);
        },
      };
      return { backend, calls };
    };
    const full = await generateAnswer(SHIPPED, counting().backend, prompt, { maxTokens: 6 });
    expect(full.ids).to.have.length(6);
    // An end-of-text token at the answer's second position (the greedy answer's own second token).
    const eosId = full.ids[1]!;
    expect(full.ids[0]).not.to.equal(eosId);

    const plain = counting();
    const stopped = await generateAnswer(SHIPPED, plain.backend, prompt, { maxTokens: 6, eosId });
    expect(stopped).to.deep.equal({ ids: full.ids.slice(0, 2), passes: 2 });
    expect(plain.calls.count).to.equal(2);

    const padded = counting();
    const streamed: [number, boolean][] = [];
    const passes: number[] = [];
    const got = await generateAnswer(SHIPPED, padded.backend, prompt, {
      maxTokens: 6,
      eosId,
      pad: true,
      onToken: (id, last) => streamed.push([id, last]),
      onPass: (n) => passes.push(n),
    });
    // The same answer, ended by the end-of-text token, after maxTokens passes.
    expect(got.ids).to.deep.equal(stopped.ids);
    expect(got.passes).to.equal(6);
    expect(padded.calls.count).to.equal(6);
    expect(passes).to.deep.equal([1, 2, 3, 4, 5]);
    // Nothing after the end-of-text token reaches the caller.
    expect(streamed).to.deep.equal([
      [full.ids[0], false],
      [eosId, true],
    ]);
    // Near the context's end padding stops where any answer stops.
    const long = Array.from({ length: 126 }, () => 260);
    const capped = await generateAnswer(SHIPPED, counting().backend, long, {
      maxTokens: 16,
      eosId: -1,
      pad: true,
    });
    expect(capped.passes).to.equal(3);
  });

  it("a plain prompt with pad is refused before anything is sent: its miner reads the answer", async () => {
    const err = await refusal(() =>
      runPrompt({
        gateway: new GatewayClient({ url: "http://127.0.0.1:1" }),
        brainId: BRAIN,
        model: SHIPPED,
        prompt: "The jury said",
        maxTokens: 2,
        mode: "plain",
        pad: true,
      }),
    );
    expect(err.code).to.equal("PadNeedsEncryption");
  });
});
