"""The authors' retrieval chains (Experiment 2's paper mode) against real components: LangChain's own chains, SmolLM2
through llama.cpp and the real Neo4j server `make test` starts. Nothing is faked."""
import os
import uuid

import pytest
from langchain_community.graphs.networkx_graph import KnowledgeTriple, NetworkxEntityGraph

from dallm.authors import PAPER_CYPHER_FAILURE, PaperCypherQA, PaperGraphQA, PaperStuffQA, merge_graphs, paper_store
from dallm.config import InputError
from dallm.embed import MiniLMEmbeddings
from dallm.knowledge import chunk_documents, load_bundled_corpus
from dallm.llm import get_llm
from dallm.neo4j_server import reachable
from dallm.stores import READS_FROM, make_store, namespace_for

needs_neo4j = pytest.mark.skipif(not reachable() and not os.environ.get("DALLM_REQUIRE_NEO4J"),
                                 reason="no Neo4j at NEO4J_URI (make test starts one: dallm neo4j start)")


@pytest.fixture(scope="module")
def chunks():
    return chunk_documents([d for d in load_bundled_corpus() if d.id in ("gen-atelectasis", "rad-atelectasis")], 256, 24)


@pytest.fixture(scope="module")
def llm(tmp_path_factory):
    return get_llm("smollm2", cache=tmp_path_factory.mktemp("c") / "c.sqlite")


def _graph(*triples):
    g = NetworkxEntityGraph()
    for t in triples: g.add_triple(KnowledgeTriple(*t))
    return g


def test_authors_merge_keeps_only_the_first_chunk():
    parts = [("atelectasis", "is a", "lung collapse"), ("mucus plug", "can cause", "atelectasis"),
             ("surgery", "is a risk factor for", "atelectasis")]
    kept = merge_graphs([_graph(parts[0]), _graph(parts[1]), _graph(parts[2], parts[1])])
    assert kept.get_triples() == [("atelectasis", "lung collapse", "is a")]
    merged = merge_graphs([_graph(parts[0]), _graph(parts[1]), _graph(parts[2], parts[1])], merge_bug=False)
    assert sorted(merged.get_triples()) == sorted((s, o, r) for s, r, o in parts)
    with pytest.raises(InputError): merge_graphs([])


def test_paper_networkx_chain_runs_end_to_end(chunks, llm):
    pg = PaperGraphQA(llm, "unit")
    info = pg.ingest(chunks[:3])
    assert info["documents"] == 3 and len(pg.per_chunk) == 3
    # SmolLM2 at temperature 0 extracts no triple from these three chunks (recorded here so a change shows), so the
    # kept count cannot tell the first-chunk rule from any other: that rule is tested on built graphs above
    assert [n for _, n in pg.per_chunk] == [0, 0, 0] and info["triples_kept"] == info["triples_extracted"] == 0
    assert "of" in pg.note() and "first chunk only" in pg.note()
    a = pg.answer("What can cause atelectasis?")
    assert a.error == "" and a.text and "seeds" in a.meta


def test_paper_kinds_share_their_bases_namespace():
    ids = ["a#0", "a#1"]
    assert namespace_for("smoke", "paper_vector", ids) == namespace_for("smoke", "neo4j_vector", ids)
    assert namespace_for("smoke", "paper_cypher", ids, "m") == namespace_for("smoke", "neo4j_graph", ids, "m")
    assert set(READS_FROM) == {"neo4j_cypher", "paper_cypher", "paper_vector"}
    with pytest.raises(InputError, match="paper_vector"): paper_store("paper_faiss", "x", None, None)


@needs_neo4j
def test_paper_vector_stuff_chain_reads_the_same_index_as_neo4j_vector(chunks, llm):
    emb, ns = MiniLMEmbeddings(), "t" + uuid.uuid4().hex[:10]
    base = make_store("neo4j_vector", ns, llm, emb)
    try:
        base.ingest(chunks)
        pv = make_store("paper_vector", ns, llm, emb)
        assert isinstance(pv, PaperStuffQA)
        q = "What are the symptoms associated with atelectasis?"
        a = pv.answer(q, llm, k=4)
        assert a.error == "" and a.text
        want = [d["chunk_id"] for d, _ in base.search(q, 4)]
        assert [p["chunk_id"] for p in a.provenance] == want  # the same index, the same top 4
        assert all(d["text"] in a.context for d, _ in base.search(q, 4))
    finally: base.clear()


@needs_neo4j
def test_paper_cypher_fails_as_the_authors_did_when_its_query_is_refused(chunks, llm):
    ns = "t" + uuid.uuid4().hex[:10]
    pc = PaperCypherQA(llm, ns)
    try:
        pc.ingest(chunks[:2])
        for q in ["What can cause atelectasis?", "What are the symptoms associated with atelectasis?"]:
            a = pc.answer(q)
            # SmolLM2 never writes a query confined to this store's nodes: the authors' chain returns its failure
            # sentence as the answer, as theirs did, after exactly one try (no retry)
            assert a.text == PAPER_CYPHER_FAILURE and a.error.startswith(PAPER_CYPHER_FAILURE), a.error
            assert "query refused" in a.error and len(a.meta["cypher"]) == 1
    finally: pc.clear()
