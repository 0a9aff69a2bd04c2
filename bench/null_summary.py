"""Pool bench_null.py's per-simulation lines (its --progress output, kept in bench/results/null_sims.log) into one table:
the family-wise false-positive rate (share of simulations with any contrast called) of each test, with its Monte Carlo
standard error, per kind of null and sample size.

Usage: python bench/null_summary.py [bench/results/null_sims.log ...]
"""
import json
import math
import re
import sys
from collections import defaultdict

LINE = re.compile(r"(permuted|patients|effect[0-9.]*) (\d+) sim \d+/\d+: (\{.*\})")


def pool(paths):
    rows = defaultdict(list)
    for p in paths:
        for line in open(p, encoding="utf-8"):
            m = LINE.search(line)
            if m: rows[(m.group(1), int(m.group(2)))].append(json.loads(m.group(3)))
    return rows


def main():
    paths = sys.argv[1:] or ["bench/results/null_sims.log"]
    print("| null | readings | simulations | old: pooled AUROC, bootstrap | bootstrap within folds | corrected t-test | "
          "both (the verdict's rule) |")
    print("|---|---|---|---|---|---|---|")
    for (kind, n), sims in sorted(pool(paths).items(), key=lambda kv: (kv[0][0] != "permuted", kv[0][1])):
        cells = []
        for t in ("old", "boot", "ttest", "both"):
            f = sum(r[t] > 0 for r in sims) / len(sims)
            cells.append(f"{f:.3f} ± {math.sqrt(f * (1 - f) / len(sims)):.3f}")
        print(f"| {kind} | {n} | {len(sims)} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
