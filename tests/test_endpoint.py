"""dallm's endpoint path at scale, against the simulated OpenAI-compatible endpoint (`dallm.sim_endpoint`: a real HTTP
server on 127.0.0.1 whose answers are random). It stands in for a remote API, which cannot be reached here; it is a
fake of an endpoint's timing and faults only, never of a model, and no result table is made from it."""
import time

import numpy as np
import pytest

from dallm.experiment1 import values_clean
from dallm.llm import LLM, LLMCache, ModelSpec, failed
from dallm.llm_registry import LLMCallError
from dallm.pipeline import sample_readings
from dallm.sim_endpoint import SimEndpoint

SCHEMA = {"type": "object", "properties": {"heart_rate": {"type": "number", "minimum": 20, "maximum": 250}},
          "required": ["heart_rate"]}


def sim_llm(url, cache, **kw):
    return LLM(ModelSpec(name="sim", backend="openai", model="sim", base_url=url), LLMCache(cache), **kw)


def ask(m):
    return lambda i: m.chat(f"Reading {i}: heart rate?", schema=SCHEMA, seed=i, max_tokens=20)


def test_order_kept_failures_isolated_and_only_failed_items_asked_again(tmp_path):
    with SimEndpoint(latency=0.0) as ref:  # fault-free: the answer each item should get
        r = sim_llm(ref.url, tmp_path / "ref.sqlite")
        want = r.map(ask(r), range(60))
    with SimEndpoint(latency=0.05, jitter=1.0, rate_500=0.3, seed=3) as sim:
        port = sim.port
        m = sim_llm(sim.url, tmp_path / "c.sqlite", retries=0)
        got = m.map(ask(m), range(60), concurrency=16)
        served = sim.stats()
    bad = [i for i, g in enumerate(got) if failed(g)]
    assert 5 <= len(bad) == served["outcomes"]["500"] == m.ledger.failures
    assert all(got[i] == want[i] for i in range(60) if i not in bad)  # in input order, whatever finished first
    assert "500" in got[bad[0]].reason
    with SimEndpoint(latency=0.0, port=port) as again:  # same endpoint, healthy now: the rerun asks for the failed only
        m2 = sim_llm(again.url, tmp_path / "c.sqlite", retries=0)
        got2 = m2.map(ask(m2), range(60), concurrency=16)
        assert again.stats()["requests"] == len(bad)
    assert got2 == want and m2.ledger.cache_hits == 60 - len(bad)


def test_retry_after_is_obeyed(tmp_path):
    with SimEndpoint(latency=0.0, rate_429=1.0, retry_after=0.6) as sim:
        m = sim_llm(sim.url, tmp_path / "c.sqlite", retries=2)
        t0 = time.perf_counter()
        with pytest.raises(LLMCallError, match="429"):
            ask(m)(0)
        dt = time.perf_counter() - t0
        arr = sim.stats()["arrivals"]
    assert len(arr) == 3 and dt >= 1.2
    assert min(np.diff(arr)) >= 0.55  # backoff alone would wait less than 0.5 s before the first retry
    assert (m.ledger.failures, m.ledger.retries) == (1, 2)


def test_rpm_budget_holds_over_every_window(tmp_path):
    with SimEndpoint(latency=0.05) as sim:
        m = sim_llm(sim.url, tmp_path / "c.sqlite", rpm=10, rate_window=2.0)  # 10 requests per 2 s window
        t0 = time.perf_counter()
        got = m.map(ask(m), range(30), concurrency=8)
        dt = time.perf_counter() - t0
        arr = np.array(sim.stats()["arrivals"])
    assert not any(map(failed, got)) and dt >= 4.0
    assert max(((arr >= a) & (arr < a + 1.95)).sum() for a in arr) <= 10


def test_faults_are_retried_counted_and_nothing_is_lost(tmp_path):
    with SimEndpoint(latency=0.02, rate_429=0.1, retry_after=0.05, rate_503=0.05, rate_drop=0.05, rate_malformed=0.1,
                     rate_slow=0.03, slow_s=5.0, seed=7) as sim:
        # a third of the requests fail (0.1 + 0.05 + 0.05 + 0.1 + 0.03), and which ones depends on the arrival order:
        # with 6 retries an item fails 7 times in a row with P 0.33^7, one of 120 in about 5% of runs (seen once);
        # with 10, about 1 run in 1,700
        m = sim_llm(sim.url, tmp_path / "c.sqlite", timeout=1.0, retries=10)
        got = m.map(ask(m), range(120), concurrency=24)
        st = sim.stats()
    assert not any(map(failed, got)) and all(20 <= g["heart_rate"] <= 250 for g in got)
    faults = st["requests"] - st["outcomes"]["ok"]
    assert faults > 10 and m.ledger.retries == faults == st["requests"] - 120
    assert m.ledger.calls == 120 and m.cache.misses == 120 and len(m.cache) == 120  # each answer recorded once
    assert st["distinct"] == 120  # every request beyond these 120 was a retry of one of them


def test_experiment1_clean_values_through_an_endpoint(synth799, tmp_path):
    rows = sample_readings(synth799.tidy, 12, seed=2)
    with SimEndpoint(latency=0.05, rate_500=0.25, seed=1) as sim:
        m = sim_llm(sim.url, tmp_path / "c.sqlite", retries=0)
        v = values_clean(m, rows)
        st = sim.stats()
    assert len(v) == 12 * 6 and list(v["reading_id"].unique()) == list(rows["reading_id"])
    lost = v[v["reason"].str.startswith("call failed")]
    assert len(lost) == 6 * st["outcomes"].get("500", 0) > 0 and lost["value"].isna().all()
    assert (v["value"].notna() | (v["reason"].str.len() > 0)).all()
