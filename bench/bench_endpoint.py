"""How fast dallm drives an OpenAI-compatible endpoint: N structured calls through `LLM.map` (cache, ledger, rate
budget, retries) against the simulated endpoint (`dallm.sim_endpoint`, in its own process) at a given latency and
concurrency, optionally with faults.

Prints one JSON line: calls_per_s, ideal_calls_per_s (concurrency / latency), cpu_ms_per_call (this process only:
dallm and the openai client; the server runs elsewhere), requests, retries, failures, max_in_flight (seen by the
server), and the fault counts the server drew. Every call misses the cache (a fresh one per run), so each is real.

Usage: python bench/bench_endpoint.py --calls 2000 --latency 1.0 --concurrency 32 [--rate_429 0.05 --rate_500 0.02 ...]
"""
import argparse
import json
import os
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

SCHEMA = {"type": "object", "properties": {"heart_rate": {"type": "number", "minimum": 20, "maximum": 250},
                                           "reason": {"type": "string", "maxLength": 40}}, "required": ["heart_rate"]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=2000)
    ap.add_argument("--latency", type=float, default=1.0, help="the endpoint's seconds per answer")
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--rpm", type=float, default=None, help="a requests-per-minute budget for the client")
    ap.add_argument("--timeout", type=float, default=10.0, help="the client's timeout per request (s)")
    for f in ("429", "500", "503", "slow", "drop", "malformed"):
        ap.add_argument(f"--rate_{f}", type=float, default=0.0)
    ap.add_argument("--retry_after", type=float, default=1.0)
    a = ap.parse_args()
    from dallm.bulk import failed
    from dallm.llm import LLM, LLMCache, ModelSpec
    from dallm.sim_endpoint import SimConfig, SimEndpoint
    cfg = SimConfig(latency=a.latency, retry_after=a.retry_after, slow_s=a.timeout * 3,
                    **{f"rate_{f}": getattr(a, f"rate_{f}") for f in ("429", "500", "503", "slow", "drop", "malformed")})
    with tempfile.TemporaryDirectory() as d, SimEndpoint(cfg) as sim:
        m = LLM(ModelSpec(name="sim", backend="openai", model="sim", base_url=sim.url), LLMCache(f"{d}/calls.sqlite"),
                timeout=a.timeout, rpm=a.rpm)
        m.backend  # the client is made before the clock starts
        ask = lambda i: m.chat([{"role": "user", "content": f"Reading {i}: the patient's heart rate?"}], schema=SCHEMA,
                               seed=i, max_tokens=40)
        c0, t0 = time.process_time(), time.perf_counter()
        out = m.map(ask, range(a.calls), concurrency=a.concurrency, desc="endpoint")
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        st = sim.stats()
    ideal = a.concurrency / a.latency if a.latency else float("inf")
    if a.rpm: ideal = min(ideal, a.rpm / 60)
    print(json.dumps({"calls": a.calls, "latency_s": a.latency, "concurrency": a.concurrency, "rpm": a.rpm,
                      "wall_s": round(wall, 2), "calls_per_s": round(a.calls / wall, 2),
                      "ideal_calls_per_s": round(ideal, 2), "share_of_ideal": round(a.calls / wall / ideal, 3),
                      "cpu_ms_per_call": round(1000 * cpu / a.calls, 2), "requests": st["requests"],
                      "retries": m.ledger.retries, "failures": sum(map(failed, out)), "answered": m.ledger.calls,
                      "max_in_flight": st["max_in_flight"], "server_outcomes": st["outcomes"]}))


if __name__ == "__main__":
    main()
