"""Benchmark lesson 02's skip-gram trainer against gensim on the same corpus and settings.

Corpus: ``course_lib.data.load_english_sentences()`` (gensim's Wikipedia sample + the Lee news
corpus, about 511,000 tokens). Settings, for both: skip-gram, window 5, 5 negatives, 100
dimensions, min_count 5, sample 1e-3, 5 epochs, learning rate 0.025 -> 0.0001. gensim runs with
``workers=2``; ours with one torch thread (``train_word2vec``'s default). The two alternate seed by
seed, so a busy machine slows both alike.

For every seed it measures training seconds (wall and CPU of this process), words per second
(corpus tokens x epochs / seconds, the same numerator for both), analogy accuracy (Mikolov et
al.'s questions-words.txt), WordSim-353 and SimLex-999 Spearman, all evaluated with
``course_lib.embeddings``, whose numbers equal gensim's own evaluation (tested in
``tests/test_embeddings.py``).

The issue's targets: ours' analogy accuracy and WordSim-353 Spearman at least gensim's (mean of 3
seeds; within one standard deviation counts as equal: we use the larger of the two standard
deviations) and training time at most 3x gensim's (median over seeds, same run).

    python benchmarks/bench_embeddings.py              # table, 3 seeds
    python benchmarks/bench_embeddings.py --json       # one JSON object
    python benchmarks/bench_embeddings.py --epochs 20 --seeds 1   # the lesson's full mode
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from course_lib.data import load_english_sentences  # noqa: E402
from course_lib.embeddings import WordVectors, evaluate, train_word2vec  # noqa: E402

METRICS = ("analogy_accuracy", "wordsim353", "simlex999")


def run_ours(sentences, seed: int, s: dict) -> tuple[WordVectors, float, float]:
    w, c = time.perf_counter(), time.process_time()
    wv = train_word2vec(
        sentences,
        dim=s["dim"],
        window=s["window"],
        negative=s["negative"],
        min_count=s["min_count"],
        sample=s["sample"],
        epochs=s["epochs"],
        seed=seed,
        progress=False,
    )
    return wv, time.perf_counter() - w, time.process_time() - c


def run_gensim(sentences, seed: int, s: dict, workers: int) -> tuple[WordVectors, float, float]:
    from gensim.models import Word2Vec

    w, c = time.perf_counter(), time.process_time()
    model = Word2Vec(
        sentences,
        sg=1,
        hs=0,
        vector_size=s["dim"],
        window=s["window"],
        negative=s["negative"],
        min_count=s["min_count"],
        sample=s["sample"],
        epochs=s["epochs"],
        alpha=0.025,
        min_alpha=0.0001,
        seed=seed,
        workers=workers,
    )
    return WordVectors.from_gensim(model.wv), time.perf_counter() - w, time.process_time() - c


def summarise(rows: list[dict]) -> dict:
    out = {}
    for key in ("seconds", "cpu_seconds", "words_per_second", *METRICS):
        values = [r[key] for r in rows]
        out[key] = {
            "mean": statistics.fmean(values),
            "std": statistics.stdev(values) if len(values) > 1 else 0.0,
            "median": statistics.median(values),
        }
    return out


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=3, help="seeds 1..N (default 3)")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--workers", type=int, default=2, help="gensim's worker threads")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)
    logging.getLogger("gensim").setLevel(logging.WARNING)

    import gensim
    import torch

    settings = dict(dim=100, window=5, negative=5, min_count=5, sample=1e-3, epochs=args.epochs)
    sentences = load_english_sentences()
    tokens = sum(map(len, sentences))
    rows = {"ours": [], "gensim": []}
    for seed in range(1, args.seeds + 1):
        for name in ("ours", "gensim"):
            if name == "ours":
                wv, secs, cpu = run_ours(sentences, seed, settings)
            else:
                wv, secs, cpu = run_gensim(sentences, seed, settings, args.workers)
            scores = evaluate(wv)
            rows[name].append(
                {
                    "seed": seed,
                    "seconds": secs,
                    "cpu_seconds": cpu,
                    "words_per_second": tokens * args.epochs / secs,
                    **{k: scores[k] for k in METRICS},
                    "analogy_coverage": scores["analogy_coverage"],
                    "vocab": len(wv),
                }
            )
            if not args.json:
                r = rows[name][-1]
                print(
                    f"  seed {seed} {name:>6}: {secs:6.2f} s, analogy {r['analogy_accuracy']:.4f}, "
                    f"WS353 {r['wordsim353']:.3f}, SimLex {r['simlex999']:.3f}",
                    file=sys.stderr,
                    flush=True,
                )
    summary = {name: summarise(r) for name, r in rows.items()}
    ours, theirs = summary["ours"], summary["gensim"]

    def at_least(metric):
        tol = max(ours[metric]["std"], theirs[metric]["std"])
        return ours[metric]["mean"] >= theirs[metric]["mean"] - tol

    ratio = ours["seconds"]["median"] / theirs["seconds"]["median"]
    out = {
        "benchmark": "bench_embeddings",
        "corpus_tokens": tokens,
        "settings": {**settings, "sg": 1, "alpha": 0.025, "min_alpha": 0.0001},
        "gensim_workers": args.workers,
        "ours_threads": 1,
        "seeds": list(range(1, args.seeds + 1)),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "gensim": gensim.__version__,
        "cpu_count": os.cpu_count(),
        "load_average": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "runs": rows,
        "summary": summary,
        "time_ratio_ours_over_gensim": ratio,
        "cpu_ratio_ours_over_gensim": ours["cpu_seconds"]["median"]
        / theirs["cpu_seconds"]["median"],
        "targets": {
            "analogy_at_least_gensim": at_least("analogy_accuracy"),
            "wordsim353_at_least_gensim": at_least("wordsim353"),
            "time_within_3x_gensim": ratio <= 3.0,
            "wordsim353_ge_0.45": ours["wordsim353"]["mean"] >= 0.45 if args.epochs >= 20 else None,
        },
    }
    if args.json:
        print(json.dumps(out))
    else:
        print_table(out)
    return out


def print_table(out: dict) -> None:
    s = out["settings"]
    print(
        f"skip-gram on {out['corpus_tokens']:,} tokens: dim {s['dim']}, window {s['window']}, "
        f"{s['negative']} negatives, min_count {s['min_count']}, sample {s['sample']}, "
        f"{s['epochs']} epochs; seeds {out['seeds']}; gensim {out['gensim']} with "
        f"{out['gensim_workers']} workers, ours with 1 thread; {out['cpu_count']} CPUs "
        f"(load {out['load_average']:.1f})"
    )
    print(
        f"{'':8} {'seconds':>15} {'cpu s':>7} {'words/s':>9} {'analogy acc':>17} "
        f"{'WordSim-353':>15} {'SimLex-999':>15}"
    )
    for name in ("ours", "gensim"):
        m = out["summary"][name]

        def ms(key, fmt="{:.3f}", m=m):
            return f"{fmt.format(m[key]['mean'])} ± {fmt.format(m[key]['std'])}"

        print(
            f"{name:8} {ms('seconds', '{:.2f}'):>15} {m['cpu_seconds']['median']:>7.2f} "
            f"{m['words_per_second']['median']:>9,.0f} {ms('analogy_accuracy', '{:.4f}'):>17} "
            f"{ms('wordsim353'):>15} {ms('simlex999'):>15}"
        )
    print(
        f"time ours / gensim (medians): {out['time_ratio_ours_over_gensim']:.2f}x wall, "
        f"{out['cpu_ratio_ours_over_gensim']:.2f}x CPU"
    )
    print("targets:", ", ".join(f"{k}={v}" for k, v in out["targets"].items()))


if __name__ == "__main__":
    main()
