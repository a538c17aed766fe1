#!/usr/bin/env python3
"""GPT-NeoX statistics in float64 with numpy: the reference for checking a GPU run at any size.

Reads a checkpoint folder (config.json + model.safetensors, or a sharded
model.safetensors.index.json), upcasts the weights to float64 and runs the forward pass as
Hugging Face transformers' GPTNeoXForCausalLM does (parallel residual, partial rotary with
rotate_half pairing, erf GELU, causal softmax attention), then writes, per sequence, the
fixture format of ../shared/fixtures (seqK.input_ids, surprisal, entropy, accuracy, rank,
target_margin, top2_gap) plus seqK.near_<eps>: how many other logits lie within eps of the
target's (the allowance for a rank computed in lower precision). The rotary frequencies are
fp32 values rounded through the checkpoint's storage dtype, as HF holds them (rotary.h).
F16 and F32 checkpoints (numpy has no bfloat16); needs numpy, scipy and safetensors.

Every product and statistic is float64. For speed at 1.4b and beyond: the weights are read
and upcast one layer at a time into reused buffers (under 2 GB resident at 1.4b, not 14 GB),
all sequences go through each layer's matrix products together (numpy's multi-threaded
BLAS), attention skips the key blocks that the causal mask hides entirely, and the
elementwise work (LayerNorm, rotary, softmax, GELU, the LM-head statistics, 256 rows of
logits at a time) runs on a thread pool in pieces of rows or heads. --verbose prints
progress and where the time goes (flushed line by line: a run cut off by a timeout shows how
far it got).

The output doubles as a token file for `memprof score --tokens` (sequences named seqK).
Check a backend's `memprof score --per-token` CSV against it with scripts/compare_reference.py.

usage: neox_reference.py --checkpoint DIR --out REF.safetensors
                         (--tokens FILE | --random LEN[,LEN...] [--seed S]) [--epsilon E ...]
                         [--threads N] [--verbose]
  --tokens FILE: one sequence per line, space-separated token ids (memprof's text format)
  --random: random token ids below the vocabulary (the tokenizer's 50277 at most), one
            sequence per length
  --threads: threads for the elementwise work (default: the CPUs this process may use; BLAS
             has its own, OPENBLAS_NUM_THREADS / OMP_NUM_THREADS)
"""
import argparse
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from safetensors.numpy import save_file
from scipy.special import erf

DTYPES = {"F16": np.float16, "F32": np.float32, "F64": np.float64}


def fail(message):
    print(f"neox_reference.py: {message}", file=sys.stderr)
    sys.exit(1)


class Log:
    """--verbose: progress and phase timings on stderr, each line flushed (a run killed by a
    timeout shows how far it got)."""

    def __init__(self, verbose):
        self.verbose, self.start = verbose, time.perf_counter()
        self.mark = self.start

    def lap(self):
        """Seconds since the last lap."""
        now = time.perf_counter()
        seconds, self.mark = now - self.mark, now
        return seconds

    def __call__(self, message):
        if self.verbose:
            print(f"[{time.perf_counter() - self.start:6.1f} s] {message}", file=sys.stderr, flush=True)


def read_config(folder):
    path = os.path.join(folder, "config.json")
    try:
        with open(path) as f:
            c = json.load(f)
    except (OSError, ValueError) as e:
        fail(f"{path}: {e}")
    rope = c.get("rope_parameters") or {}
    try:
        config = {
            "layers": int(c["num_hidden_layers"]), "hidden": int(c["hidden_size"]),
            "heads": int(c["num_attention_heads"]), "ff": int(c["intermediate_size"]),
            "vocab": int(c["vocab_size"]), "eps": float(c.get("layer_norm_eps", 1e-5)),
            "rotary_pct": float(c.get("rotary_pct", rope.get("partial_rotary_factor", 0.25))),
            "rotary_base": float(c.get("rotary_emb_base", rope.get("rope_theta", 10000))),
            "parallel": bool(c.get("use_parallel_residual", True)),
        }
    except (KeyError, TypeError, ValueError) as e:
        fail(f"{path}: field {e}")
    if not config["parallel"]:
        fail(f"{path}: use_parallel_residual false is not a Pythia model")
    if c.get("hidden_act", "gelu") != "gelu":
        fail(f"{path}: hidden_act {c.get('hidden_act')!r}: only erf GELU ('gelu') is implemented")
    return config


class Workers(ThreadPoolExecutor):
    """The thread pool for elementwise work (numpy and scipy release the GIL in their loops)."""

    def __init__(self, threads):
        super().__init__(max(1, threads))
        self.threads = max(1, threads)

    def split(self, function, n, pieces=None):
        """function(slice) over [0, n) in `pieces` slices (default: one per thread)."""
        count = max(1, min(n, pieces or self.threads))
        bounds = [n * i // count for i in range(count + 1)]
        list(self.map(function, [slice(a, b) for a, b in zip(bounds, bounds[1:]) if b > a]))


class Checkpoint:
    """The safetensors tensors by name, read when needed (never all at once) with pread."""

    def __init__(self, folder):
        index = os.path.join(folder, "model.safetensors.index.json")
        if os.path.exists(index):
            try:
                with open(index) as f:
                    files = sorted(set(json.load(f)["weight_map"].values()))
            except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
                fail(f"{index}: {e}")
        elif os.path.exists(os.path.join(folder, "model.safetensors")):
            files = ["model.safetensors"]
        else:
            fail(f"{folder}: no model.safetensors(.index.json) (pytorch_model.bin needs torch; convert it first)")
        self.tensors, self.files = {}, {}
        for name in files:
            path = os.path.join(folder, name)
            try:
                fd = os.open(path, os.O_RDONLY)
                size = os.fstat(fd).st_size
                length = int.from_bytes(os.pread(fd, 8, 0), "little")
                if length > min(size - 8, 1 << 30):
                    raise ValueError(f"header length {length} beyond the file's {size} bytes")
                header = json.loads(os.pread(fd, length, 8))
                for key, info in header.items():
                    if key == "__metadata__":
                        continue
                    begin, end = (int(o) for o in info["data_offsets"])
                    if not 0 <= begin <= end <= size - 8 - length:
                        raise ValueError(f"{key}: data_offsets {info['data_offsets']} beyond the file")
                    self.tensors[key] = (path, info["dtype"], tuple(int(n) for n in info["shape"]), 8 + length + begin, end - begin)
            except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
                fail(f"{path}: not a safetensors file: {e}")
            self.files[path] = fd
        self.scratch = np.empty(0, dtype=np.uint8)

    def __contains__(self, name):
        return name in self.tensors

    def check(self, name, shape):
        """The tensor exists with this shape and a float dtype numpy has; returns that dtype."""
        if name not in self.tensors:
            fail(f"{name}: not in the checkpoint")
        path, dtype, actual, _, nbytes = self.tensors[name]
        if dtype not in DTYPES:
            fail(f"{path}: {name}: dtype {dtype}: not a numpy dtype (F16, F32 or F64 checkpoints only)")
        if actual != tuple(shape) or nbytes != int(np.prod(shape)) * np.dtype(DTYPES[dtype]).itemsize:
            fail(f"{path}: {name}: shape {list(actual)} ({nbytes} bytes), expected {list(shape)} from config.json")
        return np.dtype(DTYPES[dtype])

    def _pread(self, name, buffer, first_byte):
        path, _, _, offset, _ = self.tensors[name]
        view, done = memoryview(buffer).cast("B"), 0
        while done < len(view):
            got = os.preadv(self.files[path], [view[done:]], offset + first_byte + done)
            if got <= 0:
                fail(f"{path}: {name}: file ends early")
            done += got

    def load(self, name, out, pool):
        """The tensor upcast to float64 into out (same shape), rows read and converted in parallel."""
        _, dtype, shape, _, nbytes = self.tensors[name]
        if self.scratch.size < nbytes:
            self.scratch = np.empty(nbytes, dtype=np.uint8)
        raw = self.scratch[:nbytes].view(DTYPES[dtype]).reshape(shape)
        if len(shape) < 2:
            self._pread(name, raw, 0)
            np.copyto(out, raw)
            return out
        row_bytes = nbytes // shape[0]

        def piece(rows):
            self._pread(name, raw[rows], rows.start * row_bytes)
            np.copyto(out[rows], raw[rows])
        pool.split(piece, shape[0])
        return out

    def vector(self, name, pool):
        return self.load(name, np.empty(self.tensors[name][2]), pool)

    def rows(self, name, index):
        """Rows index of a matrix, as float64."""
        _, dtype, shape, _, nbytes = self.tensors[name]
        row = np.empty(shape[1], dtype=DTYPES[dtype])
        out = np.empty((len(index), shape[1]))
        for i, r in enumerate(index):
            self._pread(name, row, int(r) * (nbytes // shape[0]))
            out[i] = row
        return out


def round_through(value, dtype):
    """An fp32 value as the checkpoint's storage dtype holds it (F16: rounded to nearest even)."""
    value = np.float32(value)
    return np.float32(np.float16(value)) if dtype == np.float16 else value


def rotary_tables(config, head_dim, positions, storage_dtype):
    rot = int(head_dim * config["rotary_pct"])
    half = rot // 2
    inverse = np.array([round_through(np.float32(1.0) / np.power(np.float32(config["rotary_base"]),
                                                                 np.float32(2 * i) / np.float32(rot)), storage_dtype)
                        for i in range(half)], dtype=np.float64)
    # HF: position (fp32) × inv_freq (fp32) in fp32, cos and sin in fp32.
    theta = np.arange(positions, dtype=np.float32)[:, None] * inverse.astype(np.float32)[None, :]
    return rot, np.cos(theta).astype(np.float64), np.sin(theta).astype(np.float64)


def layer_norm(x, weight, bias, eps):
    mean = x.mean(axis=-1, keepdims=True)
    variance = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + eps) * weight + bias


def gelu_(x):
    """erf GELU in place: 0.5 x (1 + erf(x / sqrt 2)); erf from scipy (to ~1e-16 relative)."""
    e = erf(x / np.sqrt(2.0))
    e += 1.0
    x *= 0.5
    x *= e


def rotate_(x, rot, cos, sin):
    """Partial rotary in place on the first rot dims of x [T, heads, hd], rotate_half pairing."""
    half = rot // 2
    first, second = x[..., :half].copy(), x[..., half:rot].copy()
    c, s = cos[:, None, :], sin[:, None, :]
    x[..., :half] = first * c - second * s
    x[..., half:rot] = second * c + first * s


class Forward:
    """Buffers for the forward pass of all sequences at once (rows: the sequences' tokens back to back)."""

    def __init__(self, ckpt, config, sequences, pool, log, block=256):
        self.ckpt, self.config, self.pool, self.log, self.block = ckpt, config, pool, log, block
        d, ff, V = config["hidden"], config["ff"], config["vocab"]
        self.lengths = [len(s) for s in sequences]
        self.starts = np.cumsum([0] + self.lengths)
        N = int(self.starts[-1])
        self.tokens = np.concatenate(sequences)
        # One buffer for a layer's matrices, then the LM head: allocated (and paged in) once.
        self.weights = np.empty(max(4 * d * d + 2 * ff * d, V * d))
        self.x, self.h1, self.h2, self.attention, self.mix = (np.empty((N, d)) for _ in range(5))
        self.qkv, self.up = np.empty((N, 3 * d)), np.empty((N, ff))
        T = max(self.lengths)
        self.scores = np.empty(config["heads"] * min(block, T) * T)
        self.mask = np.triu(np.full((min(block, T),) * 2, -np.inf), k=1)  # within a diagonal block

    def matrix(self, name, rows, cols, at):
        return self.ckpt.load(name, self.weights[at:at + rows * cols].reshape(rows, cols), self.pool)

    def layer_norm(self, source, prefix, out):
        weight, bias = self.ckpt.vector(prefix + ".weight", self.pool), self.ckpt.vector(prefix + ".bias", self.pool)

        def piece(rows):
            out[rows] = layer_norm(source[rows], weight, bias, self.config["eps"])
        self.pool.split(piece, len(source))
        return out

    def add_bias(self, x, name):
        bias = self.ckpt.vector(name, self.pool)

        def piece(rows):
            x[rows] += bias
        self.pool.split(piece, len(x))

    def attend(self, rows, T, q, k, v, out):
        """Causal softmax attention of one sequence, in blocks of query rows; out [T, H, hd]."""
        H, hd = q.shape[1], q.shape[2]
        qh = np.ascontiguousarray(q[rows].transpose(1, 0, 2))   # [H, T, hd]
        kh = np.ascontiguousarray(k[rows].transpose(1, 2, 0))   # [H, hd, T]
        vh = np.ascontiguousarray(v[rows].transpose(1, 0, 2))   # [H, T, hd]
        scale = np.sqrt(hd)
        for i0 in range(0, T, self.block):
            i1 = min(i0 + self.block, T)  # keys beyond i1 - 1 are masked for every query here
            # [H, B, hd] × [H, hd, i1]: batched BLAS products (einsum would not use BLAS here).
            scores = np.matmul(qh[:, i0:i1], kh[:, :, :i1], out=self.scores[:H * (i1 - i0) * i1].reshape(H, i1 - i0, i1))

            def softmax(heads):
                s = scores[heads]
                s /= scale
                s[..., i0:i1] += self.mask[:i1 - i0, :i1 - i0]  # (the causal mask is 0 left of the block)
                s -= s.max(axis=-1, keepdims=True)
                np.exp(s, out=s)
                s /= s.sum(axis=-1, keepdims=True)
            self.pool.split(softmax, H)
            out[rows.start + i0:rows.start + i1] = np.matmul(scores, vh[:, :i1]).transpose(1, 0, 2)

    def run(self):
        """The final LayerNorm's output [N, d] (the LM head's input)."""
        c, ckpt, pool = self.config, self.ckpt, self.pool
        d, H, ff = c["hidden"], c["heads"], c["ff"]
        hd = d // H
        storage = ckpt.check("gpt_neox.embed_in.weight", (c["vocab"], d))
        positions = np.concatenate([np.arange(n) for n in self.lengths])
        rot, cos, sin = rotary_tables(c, hd, max(self.lengths), storage)
        cos, sin = cos[positions], sin[positions]
        x = ckpt.rows("gpt_neox.embed_in.weight", self.tokens)
        self.x[:] = x
        x, mix = self.x, self.mix
        N = len(x)
        qkv = self.qkv.reshape(N, H, 3 * hd)
        for layer in range(c["layers"]):
            p = f"gpt_neox.layers.{layer}."
            self.log.lap()
            wqkv = self.matrix(p + "attention.query_key_value.weight", 3 * d, d, 0)
            wo = self.matrix(p + "attention.dense.weight", d, d, 3 * d * d)
            w1 = self.matrix(p + "mlp.dense_h_to_4h.weight", ff, d, 4 * d * d)
            w2 = self.matrix(p + "mlp.dense_4h_to_h.weight", d, ff, 4 * d * d + ff * d)
            read = self.log.lap()
            h1 = self.layer_norm(x, p + "input_layernorm", self.h1)
            h2 = self.layer_norm(x, p + "post_attention_layernorm", self.h2)
            np.matmul(h1, wqkv.T, out=self.qkv)
            self.add_bias(self.qkv, p + "attention.query_key_value.bias")

            def rotary(rows):
                rotate_(qkv[rows, :, :hd], rot, cos[rows], sin[rows])
                rotate_(qkv[rows, :, hd:2 * hd], rot, cos[rows], sin[rows])
            pool.split(rotary, N)
            attention = self.attention.reshape(N, H, hd)
            for start, T in zip(self.starts, self.lengths):
                self.attend(slice(int(start), int(start) + T), T, qkv[..., :hd], qkv[..., hd:2 * hd], qkv[..., 2 * hd:], attention)
            attended = self.log.lap()
            np.matmul(self.attention, wo.T, out=self.h1)  # h1 is free again: the attention output
            self.add_bias(self.h1, p + "attention.dense.bias")
            np.matmul(h2, w1.T, out=self.up)
            self.add_bias(self.up, p + "mlp.dense_h_to_4h.bias")
            pool.split(lambda rows: gelu_(self.up[rows]), N)
            np.matmul(self.up, w2.T, out=mix)
            self.add_bias(mix, p + "mlp.dense_4h_to_h.bias")

            def residual(rows):
                mix[rows] += self.h1[rows]
                mix[rows] += x[rows]
            pool.split(residual, N)  # (mlp + attention) + x, as HF adds them
            x, mix = mix, x
            self.log(f"layer {layer}: {read + attended + self.log.lap():.2f} s (weights read {read:.2f} s, "
                     f"LayerNorm, QKV and attention {attended:.2f} s)")
        return self.layer_norm(x, "gpt_neox.final_layer_norm", mix)


def chunk_statistics(z, y, out, near, first):
    """The fixture fields and near counts of logits z [rows, V] with targets y, at positions first..."""
    rows = slice(first, first + len(y))
    index = np.arange(len(y))
    target = z[index, y]
    shifted = z - z.max(axis=1, keepdims=True)
    log_sum = np.log(np.exp(shifted).sum(axis=1))
    log_p = shifted - log_sum[:, None]
    out["surprisal"][rows] = -log_p[index, y]
    out["entropy"][rows] = -(np.exp(log_p) * log_p).sum(axis=1)
    out["rank"][rows] = (z > target[:, None]).sum(axis=1)
    out["accuracy"][rows] = (z.argmax(axis=1) == y).astype(np.float64)
    distance = np.abs(z - target[:, None])
    distance[index, y] = np.inf
    out["target_margin"][rows] = distance.min(axis=1)
    top = np.partition(z, -2, axis=1)[:, -2:]
    out["top2_gap"][rows] = top[:, 1] - top[:, 0]
    for e in near:
        near[e][rows] = (distance <= e).sum(axis=1)


def statistics(hidden, lm_head, tokens, epsilons, pool, buffer):
    """Per predicting position t (target tokens[t+1]): the fixture fields and near counts."""
    n = len(tokens) - 1
    out = {name: np.zeros(n) for name in ("surprisal", "entropy", "accuracy", "target_margin", "top2_gap")}
    out["rank"] = np.zeros(n, dtype=np.int64)
    near = {e: np.zeros(n, dtype=np.int64) for e in epsilons}
    chunk = len(buffer) // len(lm_head)
    for first in range(0, n, chunk):
        last = min(first + chunk, n)
        z = np.matmul(hidden[first:last], lm_head.T, out=buffer[:(last - first) * len(lm_head)].reshape(last - first, -1))

        def piece(rows):
            chunk_statistics(z[rows], np.asarray(tokens[first + rows.start + 1:first + rows.stop + 1]), out, near, first + rows.start)
        pool.split(piece, last - first, (last - first + 15) // 16)  # pieces of ~16 rows
    return out, near


def read_sequences(args, vocab):
    if args.tokens:
        sequences = []
        try:
            with open(args.tokens) as f:
                for number, line in enumerate(f, 1):
                    if not line.strip():
                        continue
                    try:
                        ids = np.array([int(t) for t in line.split()], dtype=np.int64)
                    except ValueError:
                        fail(f"{args.tokens}:{number}: not a list of token ids")
                    if len(ids) < 2 or ids.min() < 0 or ids.max() >= vocab:
                        fail(f"{args.tokens}:{number}: needs at least 2 ids, each in [0, {vocab})")
                    sequences.append(ids)
        except OSError as e:
            fail(f"{args.tokens}: {e}")
        if not sequences:
            fail(f"{args.tokens}: no sequences")
        return sequences
    rng = np.random.default_rng(args.seed)
    try:
        lengths = [int(n) for n in args.random.split(",")]
    except ValueError:
        fail(f"--random {args.random!r}: expected lengths like 2049,77")
    if min(lengths) < 2:
        fail("--random: every length must be at least 2")
    return [rng.integers(0, min(vocab, 50277), size=n, dtype=np.int64) for n in lengths]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--out", required=True)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--tokens")
    source.add_argument("--random")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--epsilon", type=float, action="append")
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count())
    parser.add_argument("--verbose", action="store_true", help="phase timings on stderr")
    args = parser.parse_args()
    epsilons = args.epsilon or [0.02, 0.1]
    log = Log(args.verbose)
    config = read_config(args.checkpoint)
    ckpt = Checkpoint(args.checkpoint)
    d, ff, L = config["hidden"], config["ff"], config["layers"]
    lm_head = "embed_out.weight" if "embed_out.weight" in ckpt else "lm_head.weight"
    if lm_head not in ckpt:
        fail(f"{args.checkpoint}: neither embed_out.weight nor lm_head.weight")
    if d % config["heads"]:
        fail(f"{args.checkpoint}/config.json: hidden_size {d} is not a multiple of num_attention_heads {config['heads']}")
    shapes = {"gpt_neox.embed_in.weight": (config["vocab"], d), lm_head: (config["vocab"], d),
              "gpt_neox.final_layer_norm.weight": (d,), "gpt_neox.final_layer_norm.bias": (d,)}
    for layer in range(L):
        p = f"gpt_neox.layers.{layer}."
        shapes.update({p + "input_layernorm.weight": (d,), p + "input_layernorm.bias": (d,),
                       p + "post_attention_layernorm.weight": (d,), p + "post_attention_layernorm.bias": (d,),
                       p + "attention.query_key_value.weight": (3 * d, d), p + "attention.query_key_value.bias": (3 * d,),
                       p + "attention.dense.weight": (d, d), p + "attention.dense.bias": (d,),
                       p + "mlp.dense_h_to_4h.weight": (ff, d), p + "mlp.dense_h_to_4h.bias": (ff,),
                       p + "mlp.dense_4h_to_h.weight": (d, ff), p + "mlp.dense_4h_to_h.bias": (d,)})
    for name, shape in shapes.items():
        ckpt.check(name, shape)
    sequences = read_sequences(args, config["vocab"])
    log(f"{len(sequences)} sequences, {sum(map(len, sequences))} tokens, {args.threads} threads")
    with Workers(args.threads) as pool:
        forward = Forward(ckpt, config, sequences, pool, log)
        hidden = forward.run()
        head = ckpt.load(lm_head, forward.weights[:config["vocab"] * d].reshape(config["vocab"], d), pool)
        log(f"LM head read ({log.lap():.2f} s)")
        tensors = {}
        logits = np.empty(256 * config["vocab"])  # the LM head's output, 256 rows at a time
        for k, (tokens, start) in enumerate(zip(sequences, forward.starts)):
            stats, near = statistics(hidden[start:start + len(tokens)], head, tokens, epsilons, pool, logits)
            tensors[f"seq{k}.input_ids"] = tokens
            for name, value in stats.items():
                tensors[f"seq{k}.{name}"] = value
            for e, counts in near.items():
                tensors[f"seq{k}.near_{e:g}"] = counts
            print(f"seq{k}: {len(tokens)} tokens, mean surprisal {stats['surprisal'].mean():.6f}, "
                  f"mean entropy {stats['entropy'].mean():.6f}", file=sys.stderr)
        log(f"LM head and statistics: {log.lap():.2f} s")
    save_file(tensors, args.out, metadata={"epsilons": ",".join(f"{e:g}" for e in epsilons)})
    log(f"{args.out} written")


if __name__ == "__main__":
    main()
