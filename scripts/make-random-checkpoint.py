#!/usr/bin/env python3
"""Writes a Pythia-shaped GPT-NeoX checkpoint with random weights, for benchmarks and tests.

The layout is a published Pythia revision's: config.json with rotary_pct/rotary_emb_base and
F16 model.safetensors with `embed_out.weight`. Scales are larger than a fresh init so that
predictions are far from uniform (LayerNorm weights 1 +- 0.1, biases N(0, 0.05^2),
embed_in N(0, 1), matrices and the LM head N(0, 1/fan_in)).

The file is written tensor by tensor (header first, then each tensor as it is drawn), so
memory stays small whatever the size: 12b writes ~24 GB of F16 with well under 1 GB
resident. The draws are one sequential stream (the same values for a seed as drawing each
tensor whole), taken in pieces of ~1M values; scaling, conversion and writing run on a
second thread, so the time is about that of the random number generator alone.

With --fill repeat, every tensor is cut from one block of 1M draws instead (same scales,
same layout, disk speed: ~24 GB in tens of seconds), for load benchmarks, where only the
bytes count; the values then repeat, so never score with such a checkpoint.

usage: make-random-checkpoint.py --size 70m --out DIR [--seed 0] [--dtype F16|F32] [--fill draw|repeat]
"""
import argparse
import json
import os
import queue
import threading

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
PIECE = 1 << 20  # values drawn at a time


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", required=True, choices=sorted(SIZES))
    parser.add_argument("--out", required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dtype", default="F16", choices=["F16", "F32"])
    parser.add_argument("--fill", default="draw", choices=["draw", "repeat"],
                        help="draw: every value from the random stream; repeat: one block of draws reused (load benchmarks)")
    args = parser.parse_args()
    layers, d, heads, vocab = SIZES[args.size]
    ff = 4 * d
    rng = np.random.default_rng(args.seed)
    dtype = np.float16 if args.dtype == "F16" else np.float32
    if args.fill == "repeat":
        normal_block = rng.standard_normal(PIECE, dtype=np.float32)
        uniform_block = rng.uniform(-0.1, 0.1, PIECE)

    def standard_normal(shape):  # shape holds at most PIECE values
        if args.fill == "draw":
            return rng.standard_normal(shape, dtype=np.float32)
        return normal_block[:int(np.prod(shape))].reshape(shape)

    def uniform_tenth(n):  # U(-0.1, 0.1), n ≤ PIECE
        return rng.uniform(-0.1, 0.1, n) if args.fill == "draw" else uniform_block[:n]

    # Each draw yields (values, finish): values drawn here in stream order, finish(values) ->
    # the stored array, run on the writer thread. A matrix is drawn in pieces of whole rows;
    # drawing [rows, cols] in pieces gives the same values as one draw (the stream is sequential).
    def normal_rows(rows, cols, finish):
        def pieces():
            step = max(1, PIECE // cols)
            for first in range(0, rows, step):
                yield standard_normal((min(step, rows - first), cols)), finish
        return pieces

    finished = {}  # --fill repeat: (rows, cols, scale) -> the stored piece, made once

    def repeated_rows(rows, cols, scale):
        def pieces():
            step = max(1, PIECE // cols)
            for first in range(0, rows, step):
                n = min(step, rows - first)
                if (n, cols, scale) not in finished:
                    finished[(n, cols, scale)] = (standard_normal((n, cols)) * np.float32(scale)).astype(dtype)
                yield finished[(n, cols, scale)], lambda values: values
        return pieces

    def matrix(rows, cols):
        if args.fill == "repeat":
            return repeated_rows(rows, cols, 1.0 / np.sqrt(cols))
        return normal_rows(rows, cols, lambda values: (values / np.sqrt(cols)).astype(dtype))

    def bias(n):
        return lambda: iter([(standard_normal(n), lambda values: (values * 0.05).astype(dtype))])

    def norm_weight(n):
        return lambda: iter([(uniform_tenth(n), lambda values: (1.0 + values).astype(dtype))])

    # (name, shape, draw): drawn in this order, the order the earlier all-in-memory writer used.
    specs = [("gpt_neox.embed_in.weight", (vocab, d),
              repeated_rows(vocab, d, 1.0) if args.fill == "repeat" else normal_rows(vocab, d, lambda values: values.astype(dtype)))]
    for layer in range(layers):
        p = f"gpt_neox.layers.{layer}."
        specs += [
            (p + "input_layernorm.weight", (d,), norm_weight(d)),
            (p + "input_layernorm.bias", (d,), bias(d)),
            (p + "post_attention_layernorm.weight", (d,), norm_weight(d)),
            (p + "post_attention_layernorm.bias", (d,), bias(d)),
            (p + "attention.query_key_value.weight", (3 * d, d), matrix(3 * d, d)),
            (p + "attention.query_key_value.bias", (3 * d,), bias(3 * d)),
            (p + "attention.dense.weight", (d, d), matrix(d, d)),
            (p + "attention.dense.bias", (d,), bias(d)),
            (p + "mlp.dense_h_to_4h.weight", (ff, d), matrix(ff, d)),
            (p + "mlp.dense_h_to_4h.bias", (ff,), bias(ff)),
            (p + "mlp.dense_4h_to_h.weight", (d, ff), matrix(d, ff)),
            (p + "mlp.dense_4h_to_h.bias", (d,), bias(d)),
        ]
    specs += [("gpt_neox.final_layer_norm.weight", (d,), norm_weight(d)),
              ("gpt_neox.final_layer_norm.bias", (d,), bias(d)),
              ("embed_out.weight", (vocab, d), matrix(vocab, d))]

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
    pending = queue.Queue(maxsize=8)  # (values, finish) pieces; None ends
    failure = []

    def writer(f):
        try:
            while (item := pending.get()) is not None:
                values, finish = item
                f.write(np.ascontiguousarray(finish(values)).data)  # little-endian, as every host we run on
        except BaseException as e:  # reported by the drawing thread
            failure.append(e)
            while pending.get() is not None:
                pass

    with open(path, "wb") as f:
        f.write(len(text).to_bytes(8, "little"))
        f.write(text)
        thread = threading.Thread(target=writer, args=(f,), daemon=True)
        thread.start()
        try:
            for name, shape, draw in specs:
                count = 0
                for values, finish in draw():
                    if failure:
                        break
                    count += values.size
                    pending.put((values, finish))
                assert failure or count == int(np.prod(shape)), name
        finally:
            pending.put(None)
            thread.join()
        if failure:
            raise failure[0]
        assert f.tell() == 8 + len(text) + offset, path


if __name__ == "__main__":
    main()
