"""Which llama.cpp settings are fastest on this CPU: the figures behind `dallm.llm_backends.LLAMA_SETTINGS`.

For each offline GGUF model, llama.cpp (in process, through llama-cpp-python, no dallm call layer) reads a prompt of
`--prompt` tokens and then decodes `--decode` tokens, under llama-cpp-python's defaults and under one change at a time:
micro-batch and batch size, flash attention, a q8_0 KV cache, the thread count. Each figure is the best of `--reps`
runs (prompt tokens/s, decode tokens/s). `--pair` adds the parallel notebook tests' case: two processes at once, each
with one thread for decoding and either one or all cores for reading the prompt (llama-cpp-python's default).

Usage: python bench/bench_llama_settings.py [--models smollm2 qwen2.5-coder-1.5b] [--prompt 1024] [--decode 64]
"""
import argparse
import multiprocessing as mp
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

PROMPT_TEXT = ("Findings: the cardiac silhouette is mildly enlarged; small bilateral pleural effusions with adjacent "
               "basilar atelectasis; no pneumothorax. ")


def measure(path, n_prompt, n_decode, reps, **kw):
    "Best-of-reps prompt and decode tokens/s of one llama.cpp configuration."
    from dallm.llm_backends import llama_cpu_backend
    llama_cpu_backend()
    from llama_cpp import Llama
    llm = Llama(model_path=str(path), n_ctx=4096, seed=0, verbose=False, **kw)
    toks = llm.tokenize(PROMPT_TEXT.encode() * (n_prompt // 20 + 1))[:n_prompt]
    best_p = best_d = 0.0
    for _ in range(reps):
        llm.reset()
        t0 = time.perf_counter(); llm.eval(toks); tp = time.perf_counter() - t0
        t0 = time.perf_counter()
        for _ in range(n_decode):
            llm.eval([llm.sample(temp=0.0)])
        td = time.perf_counter() - t0
        best_p, best_d = max(best_p, n_prompt / tp), max(best_d, n_decode / td)
    return best_p, best_d


def _pair_worker(args):
    path, n_prompt, n_decode, reps, kw = args
    return measure(path, n_prompt, n_decode, reps, **kw)


def configs(threads):
    "llama-cpp-python's defaults, then one change at a time."
    base = dict(n_threads=threads, n_threads_batch=threads, n_batch=512, n_ubatch=512)
    from llama_cpp import GGML_TYPE_Q8_0
    return {
        "defaults (n_batch 512, n_ubatch 512, no flash attention, f16 KV)": base,
        "n_ubatch 128": {**base, "n_ubatch": 128},
        "n_ubatch 256": {**base, "n_ubatch": 256},
        "n_batch 1024, n_ubatch 1024": {**base, "n_batch": 1024, "n_ubatch": 1024},
        "flash attention": {**base, "flash_attn": True},
        "flash attention, n_ubatch 256": {**base, "flash_attn": True, "n_ubatch": 256},
        "flash attention + q8_0 KV": {**base, "flash_attn": True, "type_k": GGML_TYPE_Q8_0, "type_v": GGML_TYPE_Q8_0},
        "1 thread": {**base, "n_threads": 1, "n_threads_batch": 1},
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", nargs="*", default=["smollm2", "qwen2.5-coder-1.5b"])
    ap.add_argument("--prompt", type=int, default=1024)
    ap.add_argument("--decode", type=int, default=64)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--pair", action="store_true", help="also two processes at once (the parallel notebook tests)")
    a = ap.parse_args()

    from dallm.llm_backends import llama_cpu_backend
    from dallm.llm_registry import gguf_path, load_registry
    print(f"llama.cpp CPU backend: {llama_cpu_backend()['summary']}")
    for name in a.models:
        path = gguf_path(load_registry()[name])
        print(f"\n{name} ({path.name}), prompt {a.prompt} tokens, decode {a.decode} tokens, best of {a.reps}")
        print(f"  {'configuration':68} {'prompt tok/s':>12} {'decode tok/s':>12}")
        for label, kw in configs(a.threads).items():
            with mp.get_context("spawn").Pool(1) as pool:  # a fresh process per configuration
                p, d = pool.apply(_pair_worker, ((path, a.prompt, a.decode, a.reps, kw),))
            print(f"  {label:68} {p:12.1f} {d:12.1f}")
        if a.pair:
            for tb in (a.threads, 1):
                kw = dict(n_threads=1, n_threads_batch=tb)
                with mp.get_context("spawn").Pool(2) as pool:
                    res = pool.map(_pair_worker, [(path, a.prompt, a.decode, a.reps, kw)] * 2)
                p, d = sum(r[0] for r in res), sum(r[1] for r in res)
                print(f"  {'2 processes at once, 1 decode thread, ' + str(tb) + ' prompt thread(s) each (sum)':68} "
                      f"{p:12.1f} {d:12.1f}")


if __name__ == "__main__":
    main()
