#!/usr/bin/env python3
"""Writes a Pythia-shaped GPT-NeoX checkpoint with random weights, for benchmarks and tests.

The layout is a published Pythia revision's: config.json with rotary_pct/rotary_emb_base and
F16 model.safetensors with `embed_out.weight`. Scales are larger than a fresh init so that
predictions are far from uniform (LayerNorm weights 1 +- 0.1, biases N(0, 0.05^2),
embed_in N(0, 1), matrices and the LM head N(0, 1/fan_in)).

The file is written tensor by tensor (header first, then each tensor as it is drawn), so
memory stays at one tensor whatever the size: 12b writes ~24 GB of F16 with ~1 GB resident.

usage: make-random-checkpoint.py --size 70m --out DIR [--seed 0] [--dtype F16|F32]
"""
import argparse
import json
import os

import numpy as np

# (layers, hidden, heads, vocab) from the Pythia model table; ff = 4 * hidden.
SIZES = {
    "tiny": (2, 64, 4, 1024),
    "14m": (6, 128, 4, 50304),
    "31m": (6, 256, 8, 50304),
    "70m": (6, 512, 8, 50304),
    "160m": (12, 768, 12, 50304),
    "410m": (24, 1024, 16, 50304),
    "1b": (16, 2048, 8, 50304),
    "1.4b": (24, 2048, 16, 50304),
    "2.8b": (32, 2560, 32, 50304),
    "6.9b": (32, 4096, 32, 50432),
    "12b": (36, 5120, 40, 50688),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", required=True, choices=sorted(SIZES))
    parser.add_argument("--out", required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dtype", default="F16", choices=["F16", "F32"])
    args = parser.parse_args()
    layers, d, heads, vocab = SIZES[args.size]
    ff = 4 * d
    rng = np.random.default_rng(args.seed)
    dtype = np.float16 if args.dtype == "F16" else np.float32

    def matrix(rows, cols):
        return (rng.standard_normal((rows, cols), dtype=np.float32) / np.sqrt(cols)).astype(dtype)

    def bias(n):
        return (rng.standard_normal(n, dtype=np.float32) * 0.05).astype(dtype)

    def norm_weight(n):
        return (1.0 + rng.uniform(-0.1, 0.1, n)).astype(dtype)

    # (name, shape, draw): drawn in this order, the order the earlier all-in-memory writer used.
    specs = [("gpt_neox.embed_in.weight", (vocab, d),
              lambda: rng.standard_normal((vocab, d), dtype=np.float32).astype(dtype))]
    for layer in range(layers):
        p = f"gpt_neox.layers.{layer}."
        specs += [
            (p + "input_layernorm.weight", (d,), lambda: norm_weight(d)),
            (p + "input_layernorm.bias", (d,), lambda: bias(d)),
            (p + "post_attention_layernorm.weight", (d,), lambda: norm_weight(d)),
            (p + "post_attention_layernorm.bias", (d,), lambda: bias(d)),
            (p + "attention.query_key_value.weight", (3 * d, d), lambda: matrix(3 * d, d)),
            (p + "attention.query_key_value.bias", (3 * d,), lambda: bias(3 * d)),
            (p + "attention.dense.weight", (d, d), lambda: matrix(d, d)),
            (p + "attention.dense.bias", (d,), lambda: bias(d)),
            (p + "mlp.dense_h_to_4h.weight", (ff, d), lambda: matrix(ff, d)),
            (p + "mlp.dense_h_to_4h.bias", (ff,), lambda: bias(ff)),
            (p + "mlp.dense_4h_to_h.weight", (d, ff), lambda: matrix(d, ff)),
            (p + "mlp.dense_4h_to_h.bias", (d,), lambda: bias(d)),
        ]
    specs += [("gpt_neox.final_layer_norm.weight", (d,), lambda: norm_weight(d)),
              ("gpt_neox.final_layer_norm.bias", (d,), lambda: bias(d)),
              ("embed_out.weight", (vocab, d), lambda: matrix(vocab, d))]

    os.makedirs(args.out, exist_ok=True)
    write_safetensors(os.path.join(args.out, "model.safetensors"), specs, args.dtype, np.dtype(dtype).itemsize)
    config = {
        "architectures": ["GPTNeoXForCausalLM"], "model_type": "gpt_neox", "hidden_act": "gelu",
        "hidden_size": d, "intermediate_size": ff, "num_attention_heads": heads, "num_hidden_layers": layers,
        "max_position_embeddings": 2048, "rotary_emb_base": 10000, "rotary_pct": 0.25, "layer_norm_eps": 1e-5,
        "use_parallel_residual": True, "tie_word_embeddings": False, "vocab_size": vocab,
        "bos_token_id": 0, "eos_token_id": 0, "torch_dtype": "float16" if dtype == np.float16 else "float32",
    }
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)


def write_safetensors(path, specs, dtype_name, itemsize):
    """safetensors: 8-byte little-endian header length, JSON header (padded with spaces to a
    multiple of 8), then the tensors' bytes back to back in the header's order."""
    header, offset = {"__metadata__": {"format": "pt"}}, 0
    for name, shape, _ in specs:
        nbytes = int(np.prod(shape)) * itemsize
        header[name] = {"dtype": dtype_name, "shape": list(shape), "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(len(text).to_bytes(8, "little"))
        f.write(text)
        for name, shape, draw in specs:
            values = np.ascontiguousarray(draw())  # little-endian, as every host we run on
            assert values.shape == tuple(shape), name
            f.write(values.data)


if __name__ == "__main__":
    main()
