"""`dallm plan` against real runs: the plan is made first (nothing called), then the same work runs for real, with the
local model and through the simulated endpoint (a stand-in for a remote API's timing, see tests/test_endpoint.py),
and the ledger must agree with the plan."""
import pandas as pd
import pytest

from dallm.augment import Ack, AckAnswer, FeatureSpec, load_expert_features
from dallm.augmenter import augment_mode
from dallm.config import get_settings
from dallm.experiment1 import observed_ranges, values_clean, values_paper
from dallm.llm import LLM, LLMCache, ModelSpec, get_llm, resolve_spec
from dallm.pipeline import sample_readings
from dallm.plan import PlanLLM, plan_vs_actual, run_plan
from dallm.sim_endpoint import SimEndpoint

LES = ["atelectasis", "consolidation"]


@pytest.fixture(scope="module")
def rows(synth799):
    return sample_readings(synth799.tidy, 4, seed=5)


def planned(m: PlanLLM) -> pd.Series:
    return pd.DataFrame(m.records)[["calls", "cached", "prompt_tokens"]].sum()


def test_plan_of_experiment1_matches_the_real_run(rows, synth799, tmp_path):
    cache = LLMCache(tmp_path / "c.sqlite")
    plan = PlanLLM(resolve_spec("smollm2"), cache)
    values_clean(plan, rows)
    p = planned(plan)
    assert p["cached"] == 0 and len(cache) == 0  # planning called nothing and stored nothing
    real = get_llm("smollm2", cache=cache)
    values_clean(real, rows)
    assert real.ledger.calls == p["calls"] - p["cached"] and p["calls"] == len(rows)
    assert abs(real.ledger.prompt_tokens / p["prompt_tokens"] - 1) < 0.02  # the model's own tokenizer and template
    again = PlanLLM(resolve_spec("smollm2"), cache)
    values_clean(again, rows)
    assert planned(again)["cached"] == len(rows)  # after the run, the plan sees every call in the cache
    # paper mode on a local model: an upper bound (every round), never below what runs
    up = PlanLLM(resolve_spec("smollm2"), cache)
    rng = observed_ranges(synth799.tidy)
    values_paper(up, rows.head(2), rng, templates=["report"], rounds=[1, 2])
    real.ledger.calls = 0
    values_paper(real, rows.head(2), rng, templates=["report"], rounds=[1, 2])
    assert 0 < real.ledger.calls <= planned(up)["calls"] == 2 * 6 * 3


def test_plan_of_the_values_matches_a_run_through_an_endpoint(rows, tmp_path):
    ack = Ack(answers=[AckAnswer(lesion=l, question_id="symptoms", question=f"Symptoms of {l}?",
                                 answer=f"{l} causes cough and shortness of breath.") for l in LES],
              model="hand-written", stores={}, config="c_top1_wikipedia", k=4)
    fs = [FeatureSpec(name="cough", lesions=["atelectasis"]),
          FeatureSpec(name="respiratory rate", type="numeric", low=4, high=70, lesions=["consolidation"])]
    fs += load_expert_features()[:3]
    with SimEndpoint(latency=0.01) as sim:
        spec = ModelSpec(name="sim", backend="openai", model="sim", base_url=sim.url)
        cache = LLMCache(tmp_path / "c.sqlite")
        plan = PlanLLM(spec, cache)
        for mode in ("clean", "paper"): augment_mode(plan, rows, fs, ack, mode)
        p = planned(plan)
        real = LLM(spec, cache)
        for mode in ("clean", "paper"): augment_mode(real, rows, fs, ack, mode)
        served = sim.stats()
    assert real.ledger.calls + real.ledger.cache_hits == p["calls"]
    assert real.ledger.calls == p["calls"] - p["cached"] == served["requests"]  # every planned call, and no other, was sent
    assert abs(real.ledger.prompt_tokens / p["prompt_tokens"] - 1) < 0.10
    pva = plan_vs_actual(pd.DataFrame(plan.records).assign(cost_usd=0.0, hours=0.0).assign(chapter="03_augment"),
                         pd.DataFrame([{**real.ledger.row(), "chapter": "03_augment"}]))
    assert pva["calls_ratio"].iloc[0] == 1.0


def test_run_plan_of_the_smoke_profile(tmp_path):
    s = get_settings(results_dir=str(tmp_path / "results"), cache_dir=str(tmp_path / "cache"), data_dir=str(tmp_path / "data"))
    t = run_plan("smoke", chapters=["01_experiment1_mse", "03_augment"], settings=s)
    assert set(t["chapter"]) == {"01_experiment1_mse", "03_augment"}
    assert len(LLMCache(tmp_path / "cache" / "llm" / "calls.sqlite")) == 0  # a fresh cache, and planning stored nothing
    assert 0 < t["cached"].sum() < t["calls"].sum()  # only repeats of a planned request (readers of one image) count as cached
    assert (t["calls"] > 0).all() and (t["prompt_tokens"] > 0).all() and (t["cost_usd"] == 0).all()  # local: no price
    gpt = run_plan("smoke", llm="gpt-4", chapters=["03_augment"], settings=s)
    assert gpt.loc[gpt["model"] == "gpt-4", "cost_usd"].gt(0).all()
