"""Benchmark lesson 04's from-scratch attention against PyTorch's fused kernel, by sequence length.

For each sequence length T it times, in one run on this machine (median of ``--repeats`` runs
after a warm-up), for q, k, v of shape (B, H, T, D) in float32:

* forward: ``course_lib.attention.scaled_dot_product_attention`` (ours: scores, softmax and
  weighted sum as three separate steps, the (T, T) weights kept) vs
  ``torch.nn.functional.scaled_dot_product_attention`` (PyTorch's fused kernel);
* forward + backward of both;
* memory that autograd keeps for the backward pass (bytes of the tensors saved for backward),
  which for ours grows as T^2 (the weights) and for the fused kernel only as T.

With ``--causal`` both use a causal mask (ours: ``causal_mask(T)``; PyTorch: ``is_causal=True``).

    python benchmarks/bench_attention.py                       # table
    python benchmarks/bench_attention.py --json                # one JSON object
    python benchmarks/bench_attention.py --lengths 128 512 --repeats 3 --causal
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

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from course_lib.attention import causal_mask, scaled_dot_product_attention  # noqa: E402


def ours(q, k, v, causal):
    return scaled_dot_product_attention(q, k, v, causal_mask(q.size(-2)) if causal else None)[0]


def fused(q, k, v, causal):
    return F.scaled_dot_product_attention(q, k, v, is_causal=causal)


def median_seconds(fn, repeats: int) -> float:
    fn()  # warm-up: allocations, kernel selection
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def saved_bytes(fn, q, k, v) -> int:
    """Bytes of the distinct storages autograd saves for the backward pass of ``fn``."""
    seen: dict[int, int] = {}

    def pack(t):
        s = t.untyped_storage()
        seen[s.data_ptr()] = s.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn(q, k, v)
    inputs = {t.untyped_storage().data_ptr() for t in (q, k, v)}
    return sum(n for ptr, n in seen.items() if ptr not in inputs)  # q, k, v exist anyway


def measure(fn, q, k, v, grad, causal, repeats) -> dict:
    """Forward and forward+backward times (ms) and saved-for-backward memory (MB) of ``fn``."""

    def fwd():
        with torch.no_grad():
            fn(q, k, v, causal)

    def fwd_bwd():
        torch.autograd.grad(fn(q, k, v, causal), (q, k, v), grad)

    return {
        "fwd_ms": 1e3 * median_seconds(fwd, repeats),
        "fwd_bwd_ms": 1e3 * median_seconds(fwd_bwd, repeats),
        "saved_mb": saved_bytes(lambda *t: fn(*t, causal), q, k, v) / 2**20,
    }


def run(lengths, B, H, D, repeats, causal):
    rows = []
    for T in lengths:
        g = torch.Generator().manual_seed(T)
        q, k, v = (torch.randn(B, H, T, D, generator=g, requires_grad=True) for _ in range(3))
        grad = torch.randn(B, H, T, D, generator=g)
        row = {"T": T}
        for name, fn in (("ours", ours), ("torch", fused)):
            for key, value in measure(fn, q, k, v, grad, causal, repeats).items():
                row[f"{name}_{key}"] = value
        row["fwd_ratio"] = row["ours_fwd_ms"] / row["torch_fwd_ms"]
        row["fwd_bwd_ratio"] = row["ours_fwd_bwd_ms"] / row["torch_fwd_bwd_ms"]
        with torch.no_grad():
            row["max_abs_diff"] = float(
                (ours(q, k, v, causal) - fused(q, k, v, causal)).abs().max()
            )
        rows.append(row)
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lengths", type=int, nargs="+", default=[64, 128, 256, 512, 1024, 2048])
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--head-dim", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=5, help="timed runs per measurement (median)")
    ap.add_argument("--causal", action="store_true", help="causal mask in both")
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = run(args.lengths, args.batch, args.heads, args.head_dim, args.repeats, args.causal)
    out = {
        "benchmark": "attention",
        "config": {
            "batch": args.batch,
            "heads": args.heads,
            "head_dim": args.head_dim,
            "dtype": "float32",
            "causal": args.causal,
            "repeats": args.repeats,
            "threads": torch.get_num_threads(),
            "cpu_cores": os.cpu_count(),
            "torch": torch.__version__,
            "python": platform.python_version(),
        },
        "results": rows,
    }
    if args.json:
        print(json.dumps(out))
        return 0
    c = out["config"]
    print(
        f"attention (B={c['batch']}, H={c['heads']}, D={c['head_dim']}, float32, "
        f"{'causal' if c['causal'] else 'no mask'}), torch {c['torch']}, {c['threads']} threads, "
        f"median of {c['repeats']}"
    )
    head = (
        f"{'T':>6} | {'fwd ours':>9} {'fwd torch':>9} {'ratio':>6} | {'f+b ours':>9} "
        f"{'f+b torch':>9} {'ratio':>6} | {'saved MB ours':>13} {'torch':>7} | {'max diff':>8}"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        print(
            f"{r['T']:>6} | {r['ours_fwd_ms']:>7.2f}ms {r['torch_fwd_ms']:>7.2f}ms "
            f"{r['fwd_ratio']:>5.1f}x | {r['ours_fwd_bwd_ms']:>7.2f}ms "
            f"{r['torch_fwd_bwd_ms']:>7.2f}ms {r['fwd_bwd_ratio']:>5.1f}x | "
            f"{r['ours_saved_mb']:>13.2f} {r['torch_saved_mb']:>7.2f} | {r['max_abs_diff']:>8.1e}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
