"""Benchmark of the LLM layer on the default offline model (SmolLM2-135M through llama.cpp, 2 threads).

Prints:
  1. raw llama.cpp prompt and decode tokens/s (llama_cpp.Llama directly, no dallm call layer) of every offline GGUF model
     in `--raw_models` (default: SmolLM2-135M and Qwen2.5-Coder-1.5B side by side), under llama-cpp-python's defaults
     and under dallm's settings (`llama_kwargs`: the registry's measured settings), on the CPU variant that
     `llama_cpu_backend` names, and under a JSON-schema grammar with llama-cpp-python's sampler chain and with
     dallm's `GreedyGrammarSampler` (the best tokens checked first);
  2. dallm end-to-end values/s for Experiment 1 on N readings (default 100) in each mode, from a cold cache;
  3. dallm's overhead: end-to-end wall time against the model's own time inside llama.cpp (target: at most 30%);
  4. the warm-cache rerun: wall time and speed-up over cold (target: at least 100x).

Usage: python bench/bench_llm.py [--n 100] [--paper_rounds 1 5] [--raw_models smollm2 qwen2.5-coder-1.5b] [--raw_only]
       DALLM_LLAMA_CPU_VARIANT=x64 python bench/bench_llm.py --raw_only   # the same on one CPU variant
       python bench/bench_llm.py --replay --models qwen2.5-coder-1.5b smollm2 [--limit 36]

--replay: the 36 recorded clean-mode value prompts in bench/data/value_prompts.jsonl (03's smoke run: three groups,
ACK / ablation / no-findings variants, four readings each; synthetic reports and the project's own corpus) decoded
three ways on each model, greedy, in the same order and from the same empty KV cache:
  before   - plain decoding under llama-cpp-python's JSON-schema grammar (dallm before jump-forward decoding);
  compact  - one token per step under the template's grammar (fixed separators): what the shape alone gives;
  after    - jump-forward decoding under the template's grammar (dallm.jump, the default now).
One JSON line per model: seconds, tokens by kind (prompt, evaluated, sampled, jumped), the share of parsed feature
values that are the same before and after, the share of answers whose JSON is identical (whitespace aside), and every
value that differs.
"""
import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def raw_llamacpp(path, n_threads, settings, grammar_schema=None, fast_grammar=False):
    from llama_cpp import LlamaGrammar
    import json
    from dallm.llm_backends import fast_grammar_llama, llama_cpu_backend
    llama_cpu_backend()
    llm = fast_grammar_llama()(model_path=str(path), n_ctx=4096, seed=0, verbose=False, **settings)
    llm.fast_grammar = fast_grammar  # False: llama-cpp-python's own sampler chain
    kw = {"grammar": LlamaGrammar.from_json_schema(json.dumps(grammar_schema), verbose=False)} if grammar_schema else {}
    prompt = "The chest radiograph shows " + "mild cardiomegaly with small bilateral pleural effusions and " * 40
    n_prompt = len(llm.tokenize(prompt.encode()))
    llm.reset()
    t0 = time.perf_counter(); llm.create_completion(prompt, max_tokens=1, temperature=0); tp = time.perf_counter() - t0
    llm.reset()
    t0 = time.perf_counter(); out = llm.create_completion("Once upon a time", max_tokens=256, temperature=0, **kw)
    td = time.perf_counter() - t0
    n_dec = out["usage"]["completion_tokens"]
    return n_prompt / tp, n_dec / td


def _values(text, keys):
    from dallm.llm_backends import parse_json
    a = parse_json(text)
    a = a if isinstance(a, dict) else {}
    return {k: (a.get(k) or {}).get("value", "<missing>") if isinstance(a.get(k), dict) else "<missing>" for k in keys}


def _same(a, b):
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool) | isinstance(b, bool):
        return abs(a - b) <= 1e-9 * max(1.0, abs(a))
    return a == b


def replay(models, limit, threads, passes=("before", "compact", "after")):
    """Old and new decoding of the recorded value prompts, one JSON line per model."""
    import json
    from dallm.config import get_settings
    from dallm.jump import chat_prompt_tokens, json_template, jump_decode, template_gbnf
    from dallm.llm_backends import GreedyGrammarSampler, LlamaCppBackend, parse_json, _template_grammar
    from dallm.llm_registry import load_registry
    prompts = [json.loads(l) for l in open(Path(__file__).parent / "data" / "value_prompts.jsonl")][:limit]
    d = {"temperature": 0.0, "top_p": 1.0, "seed": 0, "stop": None}
    for name in models:
        b = LlamaCppBackend(load_registry()[name], get_settings(), n_threads=threads)
        runs = {}
        for how in passes:
            b.llm.reset()
            out = []
            for p in prompts:
                dd = {**d, "max_tokens": p["max_tokens"]}
                if how == "before":
                    c = b.chat(p["messages"], p["schema"], dd)
                    out.append(dict(text=c.text, seconds=c.seconds, completion=c.completion_tokens, sampled=
                                    c.completion_tokens + 1, jumped=0, prompt=c.prompt_tokens))
                    continue
                segs = json_template(p["schema"])
                s_ = GreedyGrammarSampler(b.llm._model, _template_grammar(template_gbnf(segs)))
                r = jump_decode(b.llm, chat_prompt_tokens(b.llm, p["messages"]), segs, s_, p["max_tokens"],
                                jump=how == "after")
                out.append(dict(text=r.text, seconds=r.prompt_seconds + r.decode_seconds,
                                completion=r.completion_tokens,
                                sampled=r.sampled, jumped=r.jumped, prompt=r.prompt_tokens, evaluated=r.evaluated,
                                prompt_seconds=r.prompt_seconds))
            runs[how] = out
        diffs, same, n, ident = [], 0, 0, 0
        for i, p in enumerate(prompts):
            keys = list(p["schema"]["properties"])
            vb, va = _values(runs["before"][i]["text"], keys), _values(runs["after"][i]["text"], keys)
            for k in keys:
                n += 1
                if _same(vb[k], va[k]): same += 1
                else: diffs.append({"prompt": i, "group": p["group"], "variant": p["variant"], "feature": k,
                                    "before": vb[k], "after": va[k]})
            ident += parse_json(runs["before"][i]["text"]) == parse_json(runs["after"][i]["text"])
        tot = lambda how, k: sum(r.get(k, 0) for r in runs.get(how, []))
        print(json.dumps({
            "model": name, "prompts": len(prompts), "threads": b.llm.context_params.n_threads,
            "seconds_before": round(tot("before", "seconds"), 2),
            "seconds_compact": round(tot("compact", "seconds"), 2),
            "seconds_after": round(tot("after", "seconds"), 2),
            "speedup": round(tot("before", "seconds") / tot("after", "seconds"), 2),
            "values": n, "values_same_share": round(same / n, 4),
            "text_identical_share": round(ident / len(prompts), 4),
            "prompt_tokens": tot("after", "prompt"), "prompt_tokens_evaluated": tot("after", "evaluated"),
            "prompt_seconds_after": round(tot("after", "prompt_seconds"), 2),
            "completion_tokens_before": tot("before", "completion"), "decode_steps_before": tot("before", "sampled"),
            "completion_tokens_compact": tot("compact", "completion"),
            "decode_steps_compact": tot("compact", "sampled"),
            "completion_tokens_after": tot("after", "completion"), "sampled_after": tot("after", "sampled"),
            "jumped_after": tot("after", "jumped"), "value_differences": diffs}), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--paper_rounds", type=int, nargs="*", default=[1, 5])
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--raw_models", nargs="*", default=["smollm2", "qwen2.5-coder-1.5b"])
    ap.add_argument("--raw_only", action="store_true", help="only the raw llama.cpp figures (e.g. per CPU variant)")
    ap.add_argument("--replay", action="store_true", help="old and new decoding of the recorded value prompts")
    ap.add_argument("--models", nargs="*", default=["qwen2.5-coder-1.5b", "smollm2"], help="--replay: the models")
    ap.add_argument("--limit", type=int, default=36, help="--replay: the first N recorded prompts")
    ap.add_argument("--skip_compact", action="store_true", help="--replay: leave out the one-token-per-step pass")
    a = ap.parse_args()
    if a.replay: return replay(a.models, a.limit, a.threads, ["before", "after"] if a.skip_compact else
                               ["before", "compact", "after"])

    from dallm.experiment1 import observed_ranges, values_clean, values_paper
    from dallm.pipeline import sample_readings
    from dallm.llm import LLM, LLMCache, gguf_path, load_registry
    from dallm.synth import synthesize

    from dallm.graph import TRIPLE_SCHEMA
    from dallm.llm_backends import llama_cpu_backend, llama_kwargs
    print(f"llama.cpp CPU backend: {llama_cpu_backend()['summary']}")
    raw = {}  # model -> (prompt, decode) tokens/s under dallm's settings
    for name in a.raw_models:
        spec = load_registry()[name]
        t0 = time.perf_counter(); path = gguf_path(spec); t_file = time.perf_counter() - t0
        ours = llama_kwargs(a.threads, spec)
        defaults = {"n_threads": a.threads}  # llama-cpp-python's defaults (prompt threads: every core)
        for label, settings in (("llama-cpp-python defaults", defaults), ("dallm's settings", ours)):
            p_tps, d_tps = raw_llamacpp(path, a.threads, settings)
            print(f"raw llama.cpp ({spec.model}, {path.stat().st_size / 2**20:,.0f} MiB, {a.threads} threads, {label}): "
                  f"prompt {p_tps:.0f} tok/s, decode {d_tps:.0f} tok/s (model file ready in {t_file:.1f}s)")
        raw[name] = (p_tps, d_tps)
        g = [raw_llamacpp(path, a.threads, ours, TRIPLE_SCHEMA, fast)[1] for fast in (False, True)]
        print(f"      decode under the triple-extraction JSON-schema grammar: {g[0]:.0f} tok/s with llama-cpp-python's "
              f"sampler chain, {g[1]:.0f} tok/s with dallm's GreedyGrammarSampler (x{g[1] / g[0]:.2f})")
    if a.raw_only: return
    spec = load_registry()["smollm2"]
    p_tps, d_tps = raw.get("smollm2") or raw_llamacpp(gguf_path(spec), a.threads, llama_kwargs(a.threads, spec))

    df = synthesize(799, seed=0).tidy
    rows, rng = sample_readings(df, a.n, seed=0), observed_ranges(df)
    with tempfile.TemporaryDirectory() as d:
        runs = {"clean": lambda llm: values_clean(llm, rows),
                "paper": lambda llm: values_paper(llm, rows, rng, templates=["report"], rounds=a.paper_rounds)}
        for mode, run in runs.items():
            cache = Path(d) / f"{mode}.sqlite"
            llm = LLM(spec, LLMCache(cache))
            _ = llm.backend  # load the model before timing (loading is a one-off, not per value)
            t0 = time.perf_counter(); v = run(llm); cold = time.perf_counter() - t0
            L = llm.ledger
            overhead = cold / L.model_seconds - 1
            warm_llm = LLM(spec, LLMCache(cache))
            t0 = time.perf_counter(); v2 = run(warm_llm); warm = time.perf_counter() - t0
            assert warm_llm.ledger.calls == 0 and warm_llm._backend is None and v2.equals(v)
            print(f"{mode:5} mode, {len(rows)} readings: {len(v)} values in {cold:.1f}s = {len(v) / cold:.2f} values/s "
                  f"({L.calls} model calls, {L.prompt_tokens} prompt + {L.completion_tokens} completion tokens, "
                  f"answered {v['value'].notna().mean():.0%})")
            est = L.prompt_tokens / p_tps + L.completion_tokens / d_tps
            print(f"      model time inside llama.cpp {L.model_seconds:.1f}s; dallm overhead {100 * overhead:.1f}% "
                  f"(target <= 30%); raw-speed estimate from the token counts {est:.1f}s "
                  f"(end-to-end / estimate = {cold / est:.2f})")
            print(f"      warm-cache rerun {warm:.3f}s, 0 model calls: {cold / warm:.0f}x faster (target >= 100x)")


if __name__ == "__main__":
    main()
