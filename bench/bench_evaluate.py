"""Benchmark of the downstream evaluation grid (chapter 04) on 2 cores.

The grid of the issue: 4 models x 4 feature sets x 10 repeats on 799 readings, the largest set with 91 features.
Feature sets: original (8 + dummy), report keywords (8 + dummy + 22), and two augmented-size tables of 78 and 91
columns (the original ones plus seeded binary and numeric columns, some weakly tied to the labels), because the
augmentation chapter's tables are not on disk yet; model cost depends on the shape, not on the meaning.

Each model runs in its own process (wall time and peak RSS per model). Protocols:
  paper: 10 repeats of the authors' split (10 fits per cell; TabNet 1000 epochs, no validation set, as the authors);
  clean: 2 repeats x 5 grouped folds (10 fits per cell, as the paper profile; TabNet at most 1000 epochs, patience 100
         on a validation split of training patients).
Fits run in 2 processes (one thread each).
Target: the paper-profile grid under 10 minutes in all.

Usage: python bench/bench_evaluate.py [--protocol paper clean] [--repeats 10] [--tabnet_max_epochs 1000]
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
MODELS = ["decision_tree", "random_forest", "xgboost", "tabnet"]


def feature_sets(seed=0):
    import numpy as np
    import pandas as pd
    from dallm.cohort import LABEL_COLS
    from dallm.evaluate import keyword_features, original_features
    from dallm.synth import synthesize
    df = synthesize(799, seed=seed).tidy
    X0 = original_features(df, seed)
    rng = np.random.default_rng(seed)
    Y = df[LABEL_COLS].to_numpy(float)

    def wide(n_cols):
        extra = {}
        for i in range(n_cols - X0.shape[1] + 1):  # the dummy does not count as a feature
            tie = Y[:, i % 5] * rng.uniform(0, 0.6)
            extra[f"gen_{i}"] = ((rng.random(len(df)) + tie) > 0.8).astype(float) if i % 2 else rng.normal(tie, 1.0)
        return pd.concat([X0, pd.DataFrame(extra, index=X0.index)], axis=1)
    return df, {"original": X0, "keywords": pd.concat([X0, keyword_features(df)], axis=1),
                "augmented_78": wide(78), "augmented_91": wide(91)}


def one(model, protocol, repeats, max_epochs):
    from dallm.evaluate import run_grid
    df, fsets = feature_sets()
    t0 = time.perf_counter()
    res = run_grid(fsets, df, [model], [protocol], "stated", repeats=repeats, folds=5, seed=0, tabnet_max_epochs=max_epochs, clean_repeats=max(1, repeats // 5))
    wall = time.perf_counter() - t0
    epochs = [e for r in res for e in r.epochs if e]
    print(json.dumps({"model": model, "protocol": protocol, "seconds": wall,
                      "fits": sum(len(r.preds.groupby(["repeat", "fold"])) for r in res),
                      "mean_epochs": (sum(epochs) / len(epochs)) if epochs else None,
                      "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--protocol", nargs="*", default=["paper", "clean"])
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--tabnet_max_epochs", type=int, default=1000)
    ap.add_argument("--models", nargs="*", default=MODELS)
    ap.add_argument("--one", nargs=2, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.one:
        return one(a.one[0], a.one[1], a.repeats, a.tabnet_max_epochs)
    _, fs = feature_sets()
    print(f"feature sets: {', '.join(f'{k} ({v.shape[1] - 1} + dummy)' for k, v in fs.items())}; 799 readings; "
          f"{a.repeats} repeats; {os.cpu_count()} cores")
    for protocol in a.protocol:
        total = 0.0
        for m in a.models:
            out = subprocess.run([sys.executable, __file__, "--one", m, protocol, "--repeats", str(a.repeats),
                                  "--tabnet_max_epochs", str(a.tabnet_max_epochs)], capture_output=True, text=True)
            if out.returncode:
                print(out.stderr[-2000:]); raise SystemExit(1)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            total += r["seconds"]
            ep = f", mean TabNet epochs {r['mean_epochs']:.0f}" if r["mean_epochs"] else ""
            print(f"{protocol:5} {m:14} {r['fits']:4d} fits {r['seconds']:8.1f}s  peak {r['peak_mib']:6.0f} MiB{ep}")
        print(f"{protocol:5} total          {total:8.1f}s = {total / 60:.1f} min (target for the paper profile: < 10 min)")


if __name__ == "__main__":
    main()
