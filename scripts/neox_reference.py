#!/usr/bin/env python3
"""GPT-NeoX statistics in float64 with numpy: the reference for checking a GPU run at any size.

Reads a checkpoint folder (config.json + model.safetensors, or a sharded
model.safetensors.index.json), upcasts every weight to float64 and runs the forward pass as
Hugging Face transformers' GPTNeoXForCausalLM does (parallel residual, partial rotary with
rotate_half pairing, erf GELU, causal softmax attention), then writes, per sequence, the
fixture format of ../shared/fixtures (seqK.input_ids, surprisal, entropy, accuracy, rank,
target_margin, top2_gap) plus seqK.near_<eps>: how many other logits lie within eps of the
target's (the allowance for a rank computed in lower precision). The rotary frequencies are
fp32 values rounded through the checkpoint's storage dtype, as HF holds them (rotary.h).
F16 and F32 checkpoints (numpy has no bfloat16); needs numpy, scipy and safetensors.

The output doubles as a token file for `memprof score --tokens` (sequences named seqK).
Check a backend's `memprof score --per-token` CSV against it with scripts/compare_reference.py.

usage: neox_reference.py --checkpoint DIR --out REF.safetensors
                         (--tokens FILE | --random LEN[,LEN...] [--seed S]) [--epsilon E ...]
  --tokens FILE: one sequence per line, space-separated token ids (memprof's text format)
  --random: random token ids below the vocabulary (the tokenizer's 50277 at most), one
            sequence per length
"""
import argparse
import json
import os
import sys

import numpy as np
from safetensors import safe_open
from safetensors.numpy import save_file


def fail(message):
    print(f"neox_reference.py: {message}", file=sys.stderr)
    sys.exit(1)


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


def read_weights(folder):
    """name -> (float64 array, storage dtype name)."""
    index = os.path.join(folder, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
    elif os.path.exists(os.path.join(folder, "model.safetensors")):
        files = ["model.safetensors"]
    else:
        fail(f"{folder}: no model.safetensors(.index.json) (pytorch_model.bin needs torch; convert it first)")
    weights = {}
    for name in files:
        try:
            with safe_open(os.path.join(folder, name), framework="numpy") as f:
                for key in f.keys():
                    weights[key] = f.get_tensor(key)
        except Exception as e:  # BF16 has no numpy dtype; a damaged file
            fail(f"{os.path.join(folder, name)}: {e}")
    return weights


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


def gelu(x):
    """erf GELU; erf from scipy (to ~1e-16 relative)."""
    from scipy.special import erf
    return 0.5 * x * (1.0 + erf(x / np.sqrt(2.0)))


def rotate(x, rot, cos, sin):
    """Partial rotary on the first rot dims of x [T, heads, hd], rotate_half pairing."""
    half = rot // 2
    x = x.copy()
    first, second = x[..., :half].copy(), x[..., half:rot].copy()
    c, s = cos[:, None, :], sin[:, None, :]
    x[..., :half] = first * c - second * s
    x[..., half:rot] = second * c + first * s
    return x


def forward_logits(tokens, w, config, storage_dtype, lm_head):
    T, d, H = len(tokens), config["hidden"], config["heads"]
    hd = d // H
    rot, cos, sin = rotary_tables(config, hd, T, storage_dtype)
    x = w["gpt_neox.embed_in.weight"][tokens]
    mask = np.triu(np.full((T, T), -np.inf), k=1)
    for layer in range(config["layers"]):
        p = f"gpt_neox.layers.{layer}."
        h1 = layer_norm(x, w[p + "input_layernorm.weight"], w[p + "input_layernorm.bias"], config["eps"])
        h2 = layer_norm(x, w[p + "post_attention_layernorm.weight"], w[p + "post_attention_layernorm.bias"], config["eps"])
        qkv = (h1 @ w[p + "attention.query_key_value.weight"].T + w[p + "attention.query_key_value.bias"]).reshape(T, H, 3 * hd)
        q, k, v = rotate(qkv[..., :hd], rot, cos, sin), rotate(qkv[..., hd:2 * hd], rot, cos, sin), qkv[..., 2 * hd:]
        # [H, T, hd] × [H, hd, T]: batched BLAS products (einsum would not use BLAS here).
        scores = np.matmul(q.transpose(1, 0, 2), k.transpose(1, 2, 0)) / np.sqrt(hd) + mask
        scores -= scores.max(axis=-1, keepdims=True)
        probabilities = np.exp(scores)
        probabilities /= probabilities.sum(axis=-1, keepdims=True)
        attention = np.matmul(probabilities, v.transpose(1, 0, 2)).transpose(1, 0, 2).reshape(T, d)
        attention = attention @ w[p + "attention.dense.weight"].T + w[p + "attention.dense.bias"]
        up = h2 @ w[p + "mlp.dense_h_to_4h.weight"].T + w[p + "mlp.dense_h_to_4h.bias"]
        mlp = gelu(up) @ w[p + "mlp.dense_4h_to_h.weight"].T + w[p + "mlp.dense_4h_to_h.bias"]
        x = (mlp + attention) + x
    x = layer_norm(x, w["gpt_neox.final_layer_norm.weight"], w["gpt_neox.final_layer_norm.bias"], config["eps"])
    return x, w[lm_head]


def statistics(hidden, lm_head, tokens, epsilons, chunk=256):
    """Per predicting position t (target tokens[t+1]): the fixture fields and near counts."""
    n = len(tokens) - 1
    out = {name: np.zeros(n) for name in ("surprisal", "entropy", "accuracy", "target_margin", "top2_gap")}
    out["rank"] = np.zeros(n, dtype=np.int64)
    near = {e: np.zeros(n, dtype=np.int64) for e in epsilons}
    for first in range(0, n, chunk):
        rows = slice(first, min(first + chunk, n))
        z = hidden[rows] @ lm_head.T
        y = np.asarray(tokens[first + 1:rows.stop + 1])
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
        for e in epsilons:
            near[e][rows] = (distance <= e).sum(axis=1)
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
    args = parser.parse_args()
    epsilons = args.epsilon or [0.02, 0.1]
    config = read_config(args.checkpoint)
    raw = read_weights(args.checkpoint)
    storage_dtype = raw["gpt_neox.embed_in.weight"].dtype
    lm_head = "embed_out.weight" if "embed_out.weight" in raw else "lm_head.weight"
    if lm_head not in raw:
        fail(f"{args.checkpoint}: neither embed_out.weight nor lm_head.weight")
    weights = {name: np.asarray(value, dtype=np.float64) for name, value in raw.items()}
    del raw
    sequences = read_sequences(args, config["vocab"])
    tensors = {}
    for k, tokens in enumerate(sequences):
        hidden, head = forward_logits(tokens, weights, config, storage_dtype, lm_head)
        stats, near = statistics(hidden, head, tokens, epsilons)
        tensors[f"seq{k}.input_ids"] = tokens
        for name, value in stats.items():
            tensors[f"seq{k}.{name}"] = value
        for e, counts in near.items():
            tensors[f"seq{k}.near_{e:g}"] = counts
        print(f"seq{k}: {len(tokens)} tokens, mean surprisal {stats['surprisal'].mean():.6f}, "
              f"mean entropy {stats['entropy'].mean():.6f}", file=sys.stderr)
    save_file(tensors, args.out, metadata={"epsilons": ",".join(f"{e:g}" for e in epsilons)})


if __name__ == "__main__":
    main()
