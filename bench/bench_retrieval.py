"""Benchmark of the vector stores: ingest throughput and query latency at 100, 1,000 and 10,000 chunks.

Chunks are the bundled corpus's chunks repeated with a numbered suffix (distinct texts and ids). For each size:
  - ingest chunks/s with the embedding excluded (vectors computed beforehand) and included (MiniLM, 2 cores);
  - query latency p50/p95 over 200 questions, embedding excluded (search by vector) and included (question embedded).
Stores: in-process numpy vector store and the Neo4j vector index (langchain_neo4j.Neo4jVector on the local server;
`make bench` starts it). Targets at 10,000 chunks: in-process p95 < 5 ms, Neo4j p95 < 50 ms (embedding excluded).
The graph stores' ingest is LLM-bound (one triple-extraction call per chunk, about 2-5 s with SmolLM2 on 2 cores);
their timings are in Experiment 2's metrics table.

Usage: python bench/bench_retrieval.py [--sizes 100 1000 10000] [--no-neo4j]
"""
import argparse
import os
import time
import uuid

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def pct(xs, q):
    return float(np.percentile(np.asarray(xs) * 1000, q))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="*", default=[100, 1000, 10000])
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--no-neo4j", action="store_true")
    a = ap.parse_args()

    from dallm.embed import MiniLMEmbeddings
    from dallm.knowledge import RETRIEVAL_QUESTIONS, LESION_QUERIES, chunk_documents, load_bundled_corpus
    from dallm.neo4j_server import reachable
    from dallm.stores import Neo4jVectorStore, VectorStore

    emb = MiniLMEmbeddings()
    base = chunk_documents(load_bundled_corpus(), 256, 32)
    questions = [t.format(lesion=l) for _, t, _ in RETRIEVAL_QUESTIONS for l in LESION_QUERIES]
    qs = [questions[i % len(questions)] + f" ({i})" for i in range(a.queries)]
    t0 = time.perf_counter(); QE = emb.encode(qs); q_embed_s = (time.perf_counter() - t0) / len(qs)
    use_neo4j = not a.no_neo4j and reachable()
    print(f"MiniLM query embedding: {q_embed_s * 1000:.1f} ms per question; Neo4j: {'yes' if use_neo4j else 'not reachable, skipped'}")
    for n in a.sizes:
        chunks = [{"chunk_id": f"{c.id}-{i}", "text": f"{c.text} [{i}]", "source": c.source, "title": c.title}
                  for i in range(n // len(base) + 1) for c in base][:n]
        t0 = time.perf_counter(); E = emb.encode([c["text"] for c in chunks]); embed_s = time.perf_counter() - t0

        class Pre:  # embeddings already computed: measures the store alone
            def embed_documents(self, texts): return E[:len(texts)].tolist()
            def embed_query(self, t): return QE[0].tolist()
        vs = VectorStore(Pre(), "bench")
        t0 = time.perf_counter(); vs.ingest(chunks); ing = time.perf_counter() - t0
        lat = []
        for q in QE:
            t0 = time.perf_counter(); vs.search_vector(q, 4); lat.append(time.perf_counter() - t0)
        print(f"{n:6d} chunks  in-process  ingest {n / ing:9.0f} chunks/s (embedding excluded), "
              f"{n / (ing + embed_s):6.0f} chunks/s (included); query p50 {pct(lat, 50):6.2f} ms p95 {pct(lat, 95):6.2f} ms "
              f"(embedding excluded), p95 {pct(lat, 95) + q_embed_s * 1000:6.1f} ms (included)")
        if use_neo4j:
            store = Neo4jVectorStore(Pre(), "bench_" + uuid.uuid4().hex[:8])
            try:
                t0 = time.perf_counter()
                for i in range(0, n, 1000):
                    part = chunks[i:i + 1000]
                    store.vs.add_embeddings([c["text"] for c in part], E[i:i + len(part)].tolist(),
                                            [{"chunk_id": c["chunk_id"], "source": c["source"], "title": c["title"]} for c in part],
                                            ids=[c["chunk_id"] for c in part])
                ing = time.perf_counter() - t0
                for q in QE[:10]: store.vs.similarity_search_by_vector(q.tolist(), k=4)  # warm the index
                lat = []
                for q in QE:
                    t0 = time.perf_counter(); store.vs.similarity_search_by_vector(q.tolist(), k=4); lat.append(time.perf_counter() - t0)
                print(f"{n:6d} chunks  neo4j       ingest {n / ing:9.0f} chunks/s (embedding excluded), "
                      f"{n / (ing + embed_s):6.0f} chunks/s (included); query p50 {pct(lat, 50):6.2f} ms p95 {pct(lat, 95):6.2f} ms "
                      f"(embedding excluded), p95 {pct(lat, 95) + q_embed_s * 1000:6.1f} ms (included)")
            finally:
                store.clear()


if __name__ == "__main__":
    main()
