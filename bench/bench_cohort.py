"""Benchmark: synthesize 799 and 100,000 readings; load 100,000 through the real loader.

Each step runs in a fresh subprocess so its peak memory (max RSS) is its own.
Target (issue 2): 100,000 readings through the loader in under 60 s and under 2 GiB on 2 cores.
Usage: python bench/bench_cohort.py [--big 100000]
"""
import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

STEP = r"""
import json, resource, sys, time
from pathlib import Path
kind, n, folder = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
t0 = time.perf_counter()
if kind == "synth":
    from dallm.synth import synthesize
    rows = len(synthesize(n, seed=0).tidy)
elif kind == "synth+write":
    from dallm.synth import synthesize, write_raw
    coh = synthesize(n, seed=0)
    write_raw(coh, folder)
    rows = len(coh.tidy)
elif kind == "load":
    from dallm.loader import load_mimic
    rows = len(load_mimic(folder).cohort)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux -> MiB
print(json.dumps({"seconds": time.perf_counter() - t0, "rows": rows, "peak_mib": peak}))
"""


def run(kind, n, folder):
    out = subprocess.run([sys.executable, "-c", STEP, kind, str(n), str(folder)], capture_output=True, text=True)
    if out.returncode: sys.exit(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--big", type=int, default=100_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        rows = []
        for kind, n in [("synth", 799), ("synth+write", 799), ("synth", args.big), ("synth+write", args.big),
                        ("load", args.big)]:
            r = run(kind, n, Path(d) / f"raw{n}")
            rows.append((kind, n, r["seconds"], r["peak_mib"]))
            print(f"{kind:12} n={n:>7}  {r['seconds']:7.2f} s  peak RSS {r['peak_mib']:7.0f} MiB", flush=True)
        load = rows[-1]
        ok = load[2] < 60 and load[3] < 2048
        print(f"target: load {args.big} readings < 60 s and < 2 GiB -> {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
