"""Benchmark lesson 01's byte-level BPE on the 1,115,394-character Shakespeare slice.

For each vocabulary size (default 512 and 1024) it measures, in one run on this machine:

* training time of the naive trainer (recounts all pairs after every merge), of the fast trainer
  (incremental pair counts), both plain byte-level (no pre-split), and whether their merges are
  identical;
* training time of the fast trainer with GPT-2's regex pre-split, and of Hugging Face
  ``tokenizers`` configured the same way (ByteLevel pre-tokenizer with GPT-2's regex, all 256
  bytes as initial alphabet, same vocabulary size, no special tokens);
* encoding the whole slice: time, MB/s, exact round trip; compression in bytes per token.

The issue's targets (at vocab 1024, 2 cores): plain training <= 5 s and >= 20x faster than
naive with identical merges; regex training within 2x of Hugging Face's time; encoding the
slice <= 2.5 s with an exact round trip.

    python benchmarks/bench_tokenize.py                     # table (naive takes ~2 minutes)
    python benchmarks/bench_tokenize.py --json              # one JSON object
    python benchmarks/bench_tokenize.py --naive-max-vocab 512   # skip naive above 512
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from course_lib.data import load_shakespeare  # noqa: E402
from course_lib.tokenize import BPETokenizer, gpt2_split_regex  # noqa: E402


def timed(fn, repeats: int = 1):
    """``(result of the last call, median wall seconds, median CPU seconds of this process)``."""
    walls, cpus, out = [], [], None
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return out, statistics.median(walls), statistics.median(cpus)


def hf_train(text: str, vocab_size: int):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=0,
        special_tokens=[],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator([text], trainer=trainer)
    return tok


def bench_vocab(text: str, vocab_size: int, repeats: int, naive: bool, naive_regex: bool) -> dict:
    n_bytes = len(text.encode("utf-8"))
    r: dict = {"vocab_size": vocab_size}

    fast, r["fast_plain_s"], r["fast_plain_cpu_s"] = timed(
        lambda: BPETokenizer().train(text, vocab_size), repeats
    )
    if naive:
        slow, r["naive_plain_s"], _ = timed(
            lambda: BPETokenizer().train(text, vocab_size, method="naive")
        )
        r["merges_identical"] = slow.merges == fast.merges
        r["speedup_fast_vs_naive"] = r["naive_plain_s"] / r["fast_plain_s"]
        r["ratio_fast_naive"] = r["fast_plain_s"] / r["naive_plain_s"]
    else:
        r["naive_plain_s"] = r["merges_identical"] = r["speedup_fast_vs_naive"] = None
        r["ratio_fast_naive"] = None

    split, r["fast_regex_s"], r["fast_regex_cpu_s"] = timed(
        lambda: BPETokenizer("gpt2").train(text, vocab_size), repeats
    )
    if naive_regex:
        slow_split, r["naive_regex_s"], _ = timed(
            lambda: BPETokenizer("gpt2").train(text, vocab_size, method="naive")
        )
        r["regex_merges_identical"] = slow_split.merges == split.merges
    hf, r["hf_regex_s"], _ = timed(lambda: hf_train(text, vocab_size), repeats)
    r["ratio_fast_hf"] = r["fast_regex_s"] / r["hf_regex_s"]
    hf_ties = BPETokenizer("gpt2").train(text, vocab_size, ties="hf")
    r["hf_tie_rule_merges_identical"] = _same_as_hf(hf_ties, hf)

    for name, tok in (("plain", fast), ("regex", split)):
        ids, secs, _ = timed(lambda tok=tok: tok.encode(text), repeats)
        r[f"encode_{name}_s"] = secs
        r[f"encode_{name}_MBps"] = n_bytes / secs / 1e6
        r[f"bytes_per_token_{name}"] = n_bytes / len(ids)
        r[f"round_trip_{name}"] = tok.decode(ids) == text
    enc, secs, _ = timed(lambda: hf.encode(text), repeats)
    r["encode_hf_s"] = secs
    r["encode_hf_MBps"] = n_bytes / secs / 1e6
    r["bytes_per_token_hf"] = n_bytes / len(enc.ids)
    r["round_trip_hf"] = hf.decode(enc.ids) == text
    return r


def _same_as_hf(ours: BPETokenizer, hf) -> bool:
    from course_lib.tokenize import bytes_to_unicode

    u2b = {c: b for b, c in bytes_to_unicode().items()}
    merges = json.loads(hf.to_str())["model"]["merges"]
    theirs = [
        tuple(bytes(u2b[c] for c in part) for part in (m if isinstance(m, list) else m.split(" ")))
        for m in merges
    ]
    vocab = ours.vocab
    return [(vocab[a], vocab[b]) for (a, b), _ in ours.merges] == theirs


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--vocab-sizes", type=int, nargs="+", default=[512, 1024])
    ap.add_argument("--repeats", type=int, default=3, help="runs per fast measurement (median)")
    ap.add_argument(
        "--naive-max-vocab",
        type=int,
        default=None,
        help="run the naive trainer only up to this vocab size (default: all; ~110 s at 1024)",
    )
    ap.add_argument("--naive-regex", action="store_true", help="also time naive with the split")
    ap.add_argument("--chars", type=int, default=None, help="use only the first N characters")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)

    import tokenizers

    text = load_shakespeare()[: args.chars]
    gpt2_split_regex()  # built once per process (~0.4 s); not part of any training time
    limit = args.naive_max_vocab if args.naive_max_vocab is not None else max(args.vocab_sizes)
    results = [
        bench_vocab(text, v, args.repeats, v <= limit, args.naive_regex) for v in args.vocab_sizes
    ]
    top = next((r for r in results if r["vocab_size"] == 1024), None)
    targets = None
    if top is not None and len(text) == 1_115_394:
        targets = {
            "plain_train_le_5s": top["fast_plain_s"] <= 5.0,
            "plain_speedup_ge_20x": None
            if top["speedup_fast_vs_naive"] is None
            else top["speedup_fast_vs_naive"] >= 20,
            "merges_identical": top["merges_identical"],
            "regex_train_within_2x_hf": top["ratio_fast_hf"] <= 2.0,
            "encode_le_2_5s": max(top["encode_plain_s"], top["encode_regex_s"]) <= 2.5,
            "round_trip": top["round_trip_plain"] and top["round_trip_regex"],
        }
    out = {
        "benchmark": "bench_tokenize",
        "text_chars": len(text),
        "text_bytes": len(text.encode("utf-8")),
        "repeats": args.repeats,
        "python": platform.python_version(),
        "tokenizers": tokenizers.__version__,
        "cpu_count": os.cpu_count(),
        "results": results,
        "targets_at_1024": targets,
    }
    if args.json:
        print(json.dumps(out))
    else:
        print_table(out)
    return out


def _f(x, fmt="{:.2f}"):
    return "-" if x is None else fmt.format(x)


def print_table(out: dict) -> None:
    print(
        f"BPE on {out['text_chars']:,} characters ({out['text_bytes']:,} bytes), "
        f"median of {out['repeats']} (naive: 1 run); {out['cpu_count']} CPUs, "
        f"tokenizers {out['tokenizers']}"
    )
    head = (
        f"{'vocab':>6} {'naive s':>8} {'fast s':>7} {'(cpu)':>6} {'speedup':>8} {'same':>5} "
        f"{'regex s':>8} {'HF s':>6} {'fast/HF':>8} {'HFties=':>7} "
        f"{'enc MB/s':>9} {'enc re MB/s':>11} {'HF MB/s':>8} {'B/tok':>6} {'re B/tok':>8} "
        f"{'HF B/tok':>8}"
    )
    print(head)
    for r in out["results"]:
        print(
            f"{r['vocab_size']:>6} {_f(r['naive_plain_s']):>8} {r['fast_plain_s']:>7.2f} "
            f"{r['fast_plain_cpu_s']:>6.2f} "
            f"{_f(r['speedup_fast_vs_naive'], '{:.1f}x'):>8} {_f(r['merges_identical'], '{}'):>5} "
            f"{r['fast_regex_s']:>8.2f} {r['hf_regex_s']:>6.2f} {r['ratio_fast_hf']:>8.2f} "
            f"{str(r['hf_tie_rule_merges_identical']):>7} "
            f"{r['encode_plain_MBps']:>9.2f} {r['encode_regex_MBps']:>11.2f} "
            f"{r['encode_hf_MBps']:>8.2f} {r['bytes_per_token_plain']:>6.2f} "
            f"{r['bytes_per_token_regex']:>8.2f} {r['bytes_per_token_hf']:>8.2f}"
        )
    print(
        "(cpu) = CPU seconds of this process; speedup = naive s / fast s (plain byte-level);\n"
        "same = identical merges; regex = our fast trainer with GPT-2's split; "
        "fast/HF = regex s / HF s;\nHFties= : our trainer with "
        "ties='hf' reproduces Hugging Face's merges; enc = encoding the whole text (plain / "
        "regex / HF); B/tok = bytes per token"
    )
    if out["targets_at_1024"]:
        print("targets at vocab 1024:", out["targets_at_1024"])


if __name__ == "__main__":
    main()
