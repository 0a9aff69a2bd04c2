"""The paper profile's scale end to end through an endpoint: `dallm reproduce --profile paper-sim` (799 readings, five
lesions, every chapter; params/paper-sim.yaml) with DALLM_LLM pointed at the simulated OpenAI-compatible endpoint
(`dallm.sim_endpoint`, in its own process, at a given latency and fault rates).

The simulated endpoint answers at random: this measures dallm at scale (wall time per chapter, memory, the calls, the
faults survived), never a model; every table it writes is random and lives under --out, apart from real results.
Needs Neo4j up (`dallm neo4j start`, or run under scripts/with_neo4j.sh). Prints one JSON line at the end: each
chapter's seconds, the server's request and fault counts, and the ledgers' calls, retries and failures.

`--serve MODEL` runs the same path against a real engine instead: llama.cpp's OpenAI-compatible server (`dallm llm
serve MODEL`) on this machine, best with `--profile endpoint-smoke` (the smoke scope, every call through DALLM_LLM).

`--kill_after S` kills the run (SIGKILL, the whole process group) after S seconds and starts it again against the
same endpoint: the JSON line then says how many calls the cache held at the kill and how many of them the rerun served
from the cache, and how many requests the rerun sent.

Usage: python bench/paper_sim.py [--latency 1.0] [--concurrency 32] [--only 01_experiment1_mse ...] [--profile paper-sim]
                                 [--rate_429 0.05 --rate_500 0.02 --rate_slow 0.01 --rate_malformed 0.01]
                                 [--kill_after 300 --data_from .cache/paper-sim/data --out .cache/paper-sim-kill]
       python bench/paper_sim.py --serve smollm2 --profile endpoint-smoke --concurrency 2 --out .cache/endpoint-smoke
"""
import argparse
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

FAULTS = ("429", "500", "503", "slow", "drop", "malformed")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--latency", type=float, default=1.0)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--port", type=int, default=8799, help="fixed, so that a rerun hits the cache (its keys hold the URL)")
    ap.add_argument("--out", default=".cache/paper-sim", help="data, results, runs and the call cache of this run")
    ap.add_argument("--only", nargs="*", default=None, help="chapters to run (default: all)")
    ap.add_argument("--timeout", type=float, default=20.0, help="slow answers take 3x this (the client gives up first)")
    ap.add_argument("--kill_after", type=float, default=None, help="SIGKILL the run after this many seconds, then rerun")
    ap.add_argument("--data_from", default=None, help="copy this data folder first (e.g. an earlier run's 00_ingest)")
    ap.add_argument("--profile", default="paper-sim", help="parameter profile (every model list should say 'default')")
    ap.add_argument("--serve", default=None, help="a GGUF model of the registry: llama.cpp's server instead of the simulation")
    for f in FAULTS: ap.add_argument(f"--rate_{f}", type=float, default=0.0)
    a = ap.parse_args()
    import pandas as pd
    from dallm.llm_server import serve
    from dallm.sim_endpoint import SimConfig, SimEndpoint
    out = Path(a.out).resolve()
    cfg = SimConfig(latency=a.latency, jitter=0.2, slow_s=a.timeout * 3, **{f"rate_{f}": getattr(a, f"rate_{f}") for f in FAULTS})
    env = {**os.environ, "DALLM_LLM": f"openai:{a.serve or 'sim'}", "DALLM_CONCURRENCY": str(a.concurrency),
           "DALLM_DATA_DIR": str(out / "data"), "DALLM_RESULTS_DIR": str(out / "results"), "DALLM_RUNS_DIR": str(out / "runs"),
           "DALLM_CACHE_DIR": str(out / "cache"), "DALLM_PROFILE": a.profile}
    if a.data_from and not (out / "data").exists(): shutil.copytree(a.data_from, out / "data")
    cache = out / "cache" / "llm" / "calls.sqlite"
    rows = lambda: sqlite3.connect(cache).execute("SELECT COUNT(*) FROM calls").fetchone()[0] if cache.exists() else 0
    kill = {}
    with (serve(a.serve, port=a.port) if a.serve else SimEndpoint(cfg, port=a.port)) as sim:
        stats = (lambda: {"requests": None, "outcomes": None, "max_in_flight": None, "distinct": None}) if a.serve else sim.stats
        env["OPENAI_BASE_URL"] = sim.url
        cmd = [sys.executable, "-c", "import sys; from dallm.cli import main; sys.exit(main())", "reproduce",
               "--profile", a.profile] + (["--only", *a.only] if a.only else [])
        t0 = time.perf_counter()
        if a.kill_after:
            start = rows()
            p = subprocess.Popen(cmd, env=env, start_new_session=True)
            time.sleep(a.kill_after)
            os.killpg(p.pid, signal.SIGKILL); p.wait()
            kill = {"cached_at_start": start, "cached_at_kill": rows(), "requests_before_kill": stats()["requests"]}
        rc = subprocess.call(cmd, env=env)
        wall = time.perf_counter() - t0
        st = stats()
        if kill: kill.update(rerun_requests=None if a.serve else st["requests"] - kill["requests_before_kill"],
                             cached_at_end=rows())
    res = out / "results" / a.profile
    times = pd.read_csv(res / "run_times.csv") if (res / "run_times.csv").exists() else pd.DataFrame()
    led = pd.concat([pd.read_csv(f) for f in sorted((res / "ledgers").glob("*.csv"))]) if (res / "ledgers").is_dir() else pd.DataFrame()
    print(json.dumps({"rc": rc, "wall_s": round(wall, 1), "endpoint": f"llama.cpp server: {a.serve}" if a.serve else "simulated",
                      "profile": a.profile, "latency_s": None if a.serve else a.latency, "concurrency": a.concurrency,
                      "chapters_s": dict(zip(times.get("notebook", []), times.get("seconds", []))),
                      "server_requests": st["requests"], "server_outcomes": st["outcomes"],
                      "max_in_flight": st["max_in_flight"], "distinct_requests": st["distinct"], "kill": kill,
                      "ledger": led.groupby("chapter")[["calls", "cache_hits", "retries", "failures"]].sum().to_dict("index")
                      if len(led) else {}}, default=str))
    return rc


if __name__ == "__main__":
    sys.exit(main())
