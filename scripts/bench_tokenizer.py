#!/usr/bin/env python3
"""Tokenizer throughput: `memprof tokenize` vs Hugging Face `tokenizers` on the same text, in
the same run, single- and multi-threaded. Reports MB/s of UTF-8 text (median of --repeats).

Usage: python3 scripts/bench_tokenizer.py [--memprof build/memprof] [--threads 2] [--megabytes 8]
       [--repeats 5] [--corpus FILE.jsonl]
Without --corpus, a corpus is assembled from text files on this machine (/usr/share/doc,
/usr/share/common-licenses, this repository's sources): English prose plus code, cut into documents of at most ~8 KB. The ids
of both tokenizers are compared on the corpus before timing.
"""
import argparse
import glob
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HF_SCRIPT = r"""
import json, sys, time, tokenizers
tok = tokenizers.Tokenizer.from_file(sys.argv[1])
texts = [json.loads(l)["text"] for l in open(sys.argv[2], encoding="utf-8")]
start = time.perf_counter()
if sys.argv[3] == "1":
    for t in texts:
        tok.encode(t)
else:
    tok.encode_batch(texts)
print(time.perf_counter() - start)
"""


def build_corpus(path, megabytes):
    files = sorted(glob.glob("/usr/share/common-licenses/*") + glob.glob("/usr/share/doc/*/copyright")
                   + glob.glob("src/*/*.c") + glob.glob("include/memprof/*.h") + glob.glob("docs/*.md")
                   + glob.glob("/usr/share/doc/*/*.txt") + glob.glob("/usr/include/*.h"))
    documents = []
    for name in files:
        try:
            with open(name, encoding="utf-8") as f:
                text = f.read()
        except (UnicodeDecodeError, OSError, IsADirectoryError):
            continue
        # Pile-sized documents: cut files at paragraph breaks into pieces of at most ~8 KB.
        piece = ""
        for paragraph in text.split("\n\n"):
            if piece and len(piece) + len(paragraph) > 8000:
                documents.append(piece)
                piece = ""
            piece += paragraph + "\n\n"
        if piece.strip():
            documents.append(piece)
    target = megabytes * 1_000_000
    total, out = 0, []
    while total < target and documents:
        for text in documents:
            out.append(text)
            total += len(text.encode("utf-8"))
            if total >= target:
                break
    with open(path, "w", encoding="utf-8") as f:
        for text in out:
            f.write(json.dumps({"text": text}) + "\n")
    return total, len(out)


def text_bytes(corpus):
    with open(corpus, encoding="utf-8") as f:
        return sum(len(json.loads(l)["text"].encode("utf-8")) for l in f)


def time_memprof(memprof, tokenizer, corpus, threads):
    start = time.perf_counter()
    with open(corpus, "rb") as stdin:
        subprocess.run([memprof, "tokenize", "--tokenizer", tokenizer, "--threads", str(threads)], stdin=stdin,
                       stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def time_hf(tokenizer, corpus, threads):
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads), TOKENIZERS_PARALLELISM="true" if threads > 1 else "false")
    out = subprocess.run([sys.executable, "-c", HF_SCRIPT, tokenizer, corpus, str(threads)], env=env, check=True,
                         capture_output=True, text=True)
    return float(out.stdout.strip())


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--memprof", default="build/memprof")
    parser.add_argument("--tokenizer", default="data/gpt-neox-20b-tokenizer.json")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--megabytes", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--corpus")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        corpus = args.corpus
        if not corpus:
            corpus = os.path.join(scratch, "corpus.jsonl")
            build_corpus(corpus, args.megabytes)
        size = text_bytes(corpus)
        # Same ids on the whole corpus before timing anything.
        import tokenizers
        tok = tokenizers.Tokenizer.from_file(args.tokenizer)
        want = [tok.encode(json.loads(l)["text"]).ids for l in open(corpus, encoding="utf-8")]
        with open(corpus, "rb") as stdin:
            got = subprocess.run([args.memprof, "tokenize", "--tokenizer", args.tokenizer], stdin=stdin,
                                 capture_output=True, check=True).stdout.decode().splitlines()
        same = sum(json.loads(g)["ids"] == w for g, w in zip(got, want))
        print(f"corpus: {size / 1e6:.1f} MB of text, {len(want)} documents; ids identical on {same}/{len(want)}")
        print(f"{'tokenizer':<28}{'threads':>8}{'median MB/s':>13}{'runs (s)':>30}")
        for threads in sorted({1, args.threads}):
            for name, run in [("memprof tokenize", lambda: time_memprof(args.memprof, args.tokenizer, corpus, threads)),
                              ("HF tokenizers " + tokenizers.__version__, lambda: time_hf(args.tokenizer, corpus, threads))]:
                times = [run() for _ in range(args.repeats)]
                print(f"{name:<28}{threads:>8}{size / 1e6 / statistics.median(times):>13.2f}"
                      f"{' '.join(f'{t:.2f}' for t in times):>30}")


if __name__ == "__main__":
    main()
