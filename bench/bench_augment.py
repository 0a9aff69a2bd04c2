"""Phase III-b speed: every reading's values for the augmentation chapter, with the default model (SmolLM2-135M through
llama.cpp) on the synthetic cohort.

Prints, for `--n` readings (default 100), clean mode, with the ACK:
  1. readings per minute;
  2. the share of wall time spent in the model (the backend's own calls) and in dallm (prompts, parsing, cache), and
     dallm's overhead as a share of model time (target: at most 20%);
  3. prompt tokens sent vs prompt tokens llama.cpp actually evaluated (the shared system + ACK prefix is reused from
     its KV cache: the report is the only new text);
  4. the cold run vs a warm-cache rerun (target: at least 100x faster).
The ACK is built once through the in-process vector store over the bundled corpus (top-1 Wikipedia), with the same
model; features: two per lesion (hand-picked, so the figure does not depend on proposal quality) plus the 13 expert ones.
Run: python bench/bench_augment.py [--n 100] [--lesions atelectasis pleural_abnormality]
"""
import argparse
import os
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

FEATURES = {"enlarged_cardiac_silhouette": ["leg swelling at rest", "orthopnea"], "atelectasis": ["recent surgery", "cough"],
            "pleural_abnormality": ["pleuritic chest pain", "shortness of breath"], "consolidation": ["fever", "productive cough"],
            "pulmonary_edema": ["crackles on auscultation", "frothy sputum"]}


def p_eval(llm) -> int:
    "Prompt tokens llama.cpp has evaluated so far in this model's context."
    import llama_cpp
    return llama_cpp.llama_perf_context(llm.backend.llm._ctx.ctx).n_p_eval


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--lesions", nargs="*", default=["atelectasis", "pleural_abnormality"])
    a = ap.parse_args()
    from dallm.augment import FeatureSpec, build_ack, load_expert_features, load_questions, make_groups, run_values
    from dallm.embed import MiniLMEmbeddings
    from dallm.knowledge import chunk_documents, load_bundled_corpus
    from dallm.llm import get_llm
    from dallm.pipeline import sample_readings
    from dallm.synth import synthesize
    df = synthesize(799, seed=0).tidy
    rows = sample_readings(df.drop_duplicates("dicom_id"), a.n, seed=0)
    docs = load_bundled_corpus()
    chunks = chunk_documents(docs, 256, 32)
    queries, qs = load_questions()
    with tempfile.TemporaryDirectory() as d:
        llm = get_llm(cache=f"{d}/ack.sqlite")
        ack = build_ack(docs, chunks, a.lesions, queries, qs, llm=llm, embeddings=MiniLMEmbeddings(), store="vector")
        feats = [FeatureSpec(name=n, lesions=[l]) for l in a.lesions for n in FEATURES[l]] + load_expert_features()
        groups = make_groups(feats, ack, max_chars=300)
        cold = get_llm(cache=f"{d}/values.sqlite")
        cold.complete("warm up", max_tokens=1)  # load the model outside the timed run
        cold.ledger.calls = 0; cold.ledger.model_seconds = 0.0; cold.ledger.prompt_tokens = 0; cold.ledger.completion_tokens = 0
        e0, t0 = p_eval(cold), time.perf_counter()
        out = run_values(cold, rows, groups, "clean")
        wall, L = time.perf_counter() - t0, cold.ledger
        evaluated = p_eval(cold) - e0
        warm = get_llm(cache=f"{d}/values.sqlite")
        t1 = time.perf_counter(); out2 = run_values(warm, rows, groups, "clean"); wall2 = time.perf_counter() - t1
        assert out.equals(out2) and warm.ledger.calls == 0
    over = (wall - L.model_seconds) / L.model_seconds
    print(f"Phase III-b, clean mode, {cold.spec.name} via llama.cpp, {len(rows)} readings x {len(groups)} groups "
          f"({len(feats)} features, {L.calls} calls, {len(out)} values, {out['value'].isna().mean():.0%} missing)")
    print(f"  {len(rows) / wall * 60:.1f} readings/min ({wall:.0f} s)")
    print(f"  time in the model {L.model_seconds / wall:.1%}, in dallm {1 - L.model_seconds / wall:.1%}: "
          f"dallm overhead {over:.1%} of model time (target <= 20%)")
    print(f"  prompt tokens sent {L.prompt_tokens}, evaluated by llama.cpp {evaluated} "
          f"({evaluated / L.prompt_tokens:.1%}; the shared system + ACK prefix is reused from the KV cache)")
    print(f"  warm-cache rerun {wall2:.2f} s, {wall / wall2:.0f}x faster than cold (target >= 100x), 0 model calls")


if __name__ == "__main__":
    main()
