#!/usr/bin/env python3
"""Writes the committed seed corpora of the fuzz targets (tests/fuzz/corpus/fuzz_<name>/).

fuzz_safetensors_header: small valid files written by the `safetensors` package (several
  dtypes, a scalar, a zero-size tensor), one with padding and metadata, and the header of
  the f32 fixture (its data cut off).
fuzz_pickle: the fixture's data.pkl, and torch-style state_dict pickles (protocols 2 and 4)
  produced by Python's own pickler with stand-in torch classes (torch is not needed).
fuzz_zip_directory: small torch.save-style zips (stored entries, one folder) around those
  pickles, one with every ZIP64 structure forced, one without a byteorder record.

Usage: tests/fuzz/make-seed-corpora.py   (from the repository root)
"""
import collections
import io
import os
import pickle
import struct
import sys
import types
import zipfile

import numpy as np
from safetensors.numpy import save

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures")


def write(target, name, data):
    os.makedirs(os.path.join(ROOT, target), exist_ok=True)
    with open(os.path.join(ROOT, target, name), "wb") as f:
        f.write(data)


# Stand-ins registered as torch / torch._utils, so the pickler writes the real GLOBAL names.
torch = types.ModuleType("torch")
torch_utils = types.ModuleType("torch._utils")
sys.modules["torch"], sys.modules["torch._utils"] = torch, torch_utils


def _rebuild_tensor_v2(*args):
    raise AssertionError("never called")


_rebuild_tensor_v2.__module__ = "torch._utils"
torch_utils._rebuild_tensor_v2 = _rebuild_tensor_v2
for storage_name in ("HalfStorage", "FloatStorage", "ByteStorage", "BoolStorage"):
    setattr(torch, storage_name, type(storage_name, (), {"__module__": "torch"}))


class Storage:
    def __init__(self, kind, key, numel):
        self.kind, self.key, self.numel = kind, key, numel


class Tensor:
    def __init__(self, storage, shape):
        self.storage, self.shape = storage, shape

    def __reduce__(self):
        stride, running = [], 1
        for d in reversed(self.shape):
            stride.insert(0, running)
            running *= d
        return (_rebuild_tensor_v2, (self.storage, 0, tuple(self.shape), tuple(stride), False,
                                     collections.OrderedDict()))


class TorchPickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            return ("storage", getattr(torch, obj.kind), obj.key, "cpu", obj.numel)
        return None


ELEMENT = {"HalfStorage": 2, "FloatStorage": 4, "ByteStorage": 1, "BoolStorage": 1}


def state_dict():
    """name -> (Tensor, raw bytes of its storage)."""
    specs = [("gpt_neox.embed_in.weight", "HalfStorage", [4, 2]),
             ("gpt_neox.layers.0.attention.bias", "BoolStorage", [1, 1, 2, 2]),
             ("gpt_neox.layers.0.attention.masked_bias", "FloatStorage", []),
             ("embed_out.weight", "FloatStorage", [4, 2])]
    out = collections.OrderedDict()
    for key, (name, kind, shape) in enumerate(specs):
        numel = int(np.prod(shape)) if shape else 1
        out[name] = (Tensor(Storage(kind, str(key), numel), shape), bytes(range(numel * ELEMENT[kind])))
    return out


def torch_pickle(tensors, protocol):
    buffer = io.BytesIO()
    TorchPickler(buffer, protocol=protocol).dump(collections.OrderedDict((n, t) for n, (t, _) in tensors.items()))
    return buffer.getvalue()


def torch_zip(tensors, folder, protocol=2, byteorder=True):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr(f"{folder}/data.pkl", torch_pickle(tensors, protocol))
        if byteorder:
            archive.writestr(f"{folder}/byteorder", "little")
        for tensor, raw in tensors.values():
            archive.writestr(f"{folder}/data/{tensor.storage.key}", raw)
        archive.writestr(f"{folder}/version", "3\n")
    return buffer.getvalue()


def main():
    # safetensors
    write("fuzz_safetensors_header", "f32-and-f16.safetensors",
          save({"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.ones(3, dtype=np.float16)}))
    write("fuzz_safetensors_header", "ints-scalar-empty.safetensors",
          save({"mask": np.ones((1, 1, 2, 2), dtype=np.bool_), "s": np.array(1.5, dtype=np.float32),
                "empty": np.zeros((0, 4), dtype=np.float16), "ids": np.arange(3, dtype=np.int64),
                "u": np.arange(5, dtype=np.uint8)}, metadata={"format": "pt"}))
    with open(os.path.join(FIXTURES, "tiny-neox-f32-safetensors", "model.safetensors"), "rb") as f:
        header = f.read(8)
        header += f.read(struct.unpack("<Q", header)[0])
    write("fuzz_safetensors_header", "fixture-header-only.safetensors", header)

    # pickle
    with zipfile.ZipFile(os.path.join(FIXTURES, "tiny-neox-f16-bin", "pytorch_model.bin")) as archive:
        write("fuzz_pickle", "fixture-data.pkl", archive.read("pytorch_model/data.pkl"))
    tensors = state_dict()
    write("fuzz_pickle", "protocol2.pkl", torch_pickle(tensors, 2))
    write("fuzz_pickle", "protocol4.pkl", torch_pickle(tensors, 4))

    # zip
    write("fuzz_zip_directory", "torch-protocol2.zip", torch_zip(tensors, "pytorch_model"))
    write("fuzz_zip_directory", "torch-protocol4-no-byteorder.zip",
          torch_zip(tensors, "archive", protocol=4, byteorder=False))
    saved = zipfile.ZIP64_LIMIT, zipfile.ZIP_FILECOUNT_LIMIT
    zipfile.ZIP64_LIMIT, zipfile.ZIP_FILECOUNT_LIMIT = 0, 0  # force ZIP64 structures everywhere
    try:
        write("fuzz_zip_directory", "torch-zip64.zip", torch_zip(tensors, "archive"))
    finally:
        zipfile.ZIP64_LIMIT, zipfile.ZIP_FILECOUNT_LIMIT = saved


if __name__ == "__main__":
    sys.exit(main())
