#!/usr/bin/env python3
"""Writes a Pythia-shaped GPT-NeoX checkpoint with random weights, for benchmarks and tests.

The layout is a published Pythia revision's: config.json with rotary_pct/rotary_emb_base and
F16 model.safetensors with `embed_out.weight`. Scales are larger than a fresh init so that
predictions are far from uniform (LayerNorm weights 1 +- 0.1, biases N(0, 0.05^2),
embed_in N(0, 1), matrices and the LM head N(0, 1/fan_in)).

usage: make-random-checkpoint.py --size 70m --out DIR [--seed 0] [--dtype F16|F32|BF16]
"""
import argparse
import json
import os

import numpy as np
from safetensors.numpy import save_file

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

    tensors = {"gpt_neox.embed_in.weight": rng.standard_normal((vocab, d), dtype=np.float32).astype(dtype)}
    for layer in range(layers):
        p = f"gpt_neox.layers.{layer}."
        tensors[p + "input_layernorm.weight"] = norm_weight(d)
        tensors[p + "input_layernorm.bias"] = bias(d)
        tensors[p + "post_attention_layernorm.weight"] = norm_weight(d)
        tensors[p + "post_attention_layernorm.bias"] = bias(d)
        tensors[p + "attention.query_key_value.weight"] = matrix(3 * d, d)
        tensors[p + "attention.query_key_value.bias"] = bias(3 * d)
        tensors[p + "attention.dense.weight"] = matrix(d, d)
        tensors[p + "attention.dense.bias"] = bias(d)
        tensors[p + "mlp.dense_h_to_4h.weight"] = matrix(ff, d)
        tensors[p + "mlp.dense_h_to_4h.bias"] = bias(ff)
        tensors[p + "mlp.dense_4h_to_h.weight"] = matrix(d, ff)
        tensors[p + "mlp.dense_4h_to_h.bias"] = bias(d)
    tensors["gpt_neox.final_layer_norm.weight"] = norm_weight(d)
    tensors["gpt_neox.final_layer_norm.bias"] = bias(d)
    tensors["embed_out.weight"] = matrix(vocab, d)

    os.makedirs(args.out, exist_ok=True)
    save_file(tensors, os.path.join(args.out, "model.safetensors"), metadata={"format": "pt"})
    config = {
        "architectures": ["GPTNeoXForCausalLM"], "model_type": "gpt_neox", "hidden_act": "gelu",
        "hidden_size": d, "intermediate_size": ff, "num_attention_heads": heads, "num_hidden_layers": layers,
        "max_position_embeddings": 2048, "rotary_emb_base": 10000, "rotary_pct": 0.25, "layer_norm_eps": 1e-5,
        "use_parallel_residual": True, "tie_word_embeddings": False, "vocab_size": vocab,
        "bos_token_id": 0, "eos_token_id": 0, "torch_dtype": "float16" if dtype == np.float16 else "float32",
    }
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)


if __name__ == "__main__":
    main()
