"""Knowledge stores against real components: MiniLM embeddings, SmolLM2 through llama.cpp and the real Neo4j server
that `make test` starts (scripts/with_neo4j.sh sets DALLM_REQUIRE_NEO4J=1, so a missing server fails the run there;
a plain `pytest` without a server skips the Neo4j tests with the reason)."""
import os
import uuid

import pytest

from dallm.config import InputError, get_settings
from dallm.embed import MiniLMEmbeddings
from dallm.knowledge import chunk_documents, load_bundled_corpus
from dallm.llm import get_llm
from dallm.neo4j_server import driver, reachable
from dallm.knowledge import config_documents
from dallm.retrieval import fact_recall, is_refusal, supported_share
from dallm.stores import namespace_for
from dallm.stores import GraphStore, Neo4jGraphStore, Neo4jVectorStore, VectorStore, _read_only_graph

needs_neo4j = pytest.mark.skipif(not reachable() and not os.environ.get("DALLM_REQUIRE_NEO4J"),
                                 reason="no Neo4j at NEO4J_URI (make test starts one: dallm neo4j start)")


@pytest.fixture(scope="module")
def emb():
    return MiniLMEmbeddings()


@pytest.fixture(scope="module")
def chunks():
    return chunk_documents(load_bundled_corpus(), 256, 32)


@pytest.fixture(scope="module")
def llm(tmp_path_factory):
    return get_llm("smollm2", cache=tmp_path_factory.mktemp("c") / "c.sqlite")


def ns():
    return "t" + uuid.uuid4().hex[:10]


def test_vector_store_answers_with_provenance_and_reloads(emb, chunks, llm, tmp_path):
    vs = VectorStore(emb, "unit")
    assert vs.ingest(chunks)["added"] == len(chunks) and vs.ingest(chunks)["added"] == 0
    a = vs.answer("What are the radiographic features of atelectasis?", llm, k=3)
    assert len(a.provenance) == 3 and all(p["chunk_id"] in vs.ids for p in a.provenance)
    assert "atelectasis" in a.provenance[0]["title"].lower() and a.text
    again = VectorStore.load(vs.save(tmp_path / "vs"), emb)
    assert [c["chunk_id"] for c, _ in again.search("pleural effusion", 2)] == [c["chunk_id"] for c, _ in vs.search("pleural effusion", 2)]


def test_networkx_store_merges_every_chunk_and_reloads(chunks, llm, tmp_path):
    gs = GraphStore(llm, "unit")
    st = gs.ingest(chunks[:5])
    sources = {d["chunk_id"] for _, _, d in gs.g.edges(data=True)}
    assert len(sources) >= 3, "triples of more than the first chunk are merged"
    assert gs.ingest(chunks[:5])["added_chunks"] == 0 and gs.g.number_of_edges() == st["edges"]
    back = GraphStore.load(gs.save(tmp_path / "g.json"), llm)
    assert back.g.number_of_edges() == gs.g.number_of_edges() and set(back.g.nodes) == set(gs.g.nodes)
    ent = next(iter(gs.g.nodes))
    a = gs.answer(f"What is {ent}?")
    assert a.context and all(p["chunk_id"] in gs.chunks for p in a.provenance)


def test_scoring_functions():
    assert fact_recall("volume loss and collapse", {"volume loss", "collapse"}) == 1.0
    assert supported_share("Lung collapse occurs.", "the lung collapse occurs when") == 1.0
    assert is_refusal("I don't know") and not is_refusal("Collapse of the lung.")
    assert namespace_for("smoke", "vector", ["a", "b"]) == namespace_for("smoke", "vector", ["b", "a"])


def test_top1_can_be_off_target(emb):
    docs = load_bundled_corpus()
    all_wiki = config_documents(docs, "a_all_wikipedia", "atelectasis", emb)
    assert {d.source for d in all_wiki} == {"bundled-general"}
    assert len(config_documents(docs, "c_top1_wikipedia", "atelectasis", emb)) == 1
    with pytest.raises(InputError, match="unknown configuration"):
        config_documents(docs, "z", "atelectasis", emb)


def test_unreachable_neo4j_names_the_uri(emb):
    s = get_settings(neo4j_uri="bolt://127.0.0.1:1")
    with pytest.raises(InputError, match="NEO4J_URI=bolt://127.0.0.1:1"):
        Neo4jVectorStore(emb, "x", settings=s)


@needs_neo4j
def test_neo4j_vector_store_namespace_and_idempotence(emb, chunks, llm):
    other = ns()
    with driver() as d:  # "someone else's" data: a node of another label and a chunk of another namespace
        d.execute_query("CREATE (:SomeoneElse {name: $n})", n=other)
    mine = Neo4jVectorStore(emb, ns())
    theirs = Neo4jVectorStore(emb, other)
    try:
        assert mine.ingest(chunks[:6])["total"] == 6
        assert mine.ingest(chunks[:6])["total"] == 6  # idempotent
        theirs.ingest(chunks[:2])
        a = mine.answer("What causes pulmonary edema?", llm, k=2)
        assert len(a.provenance) == 2 and all(p["chunk_id"] for p in a.provenance)
        mine.clear()
        assert mine.count() == 0 and theirs.count() == 2
        with driver() as d:
            assert d.execute_query("MATCH (n:SomeoneElse {name: $n}) RETURN count(n) AS c", n=other).records[0]["c"] == 1
    finally:
        mine.clear(); theirs.clear()
        with driver() as d: d.execute_query("MATCH (n:SomeoneElse {name: $n}) DELETE n", n=other)


@needs_neo4j
def test_neo4j_hybrid_search(emb, chunks):
    s = Neo4jVectorStore(emb, ns(), hybrid=True)
    try:
        s.ingest(chunks)
        hits = s.search("pleural effusion blunting of the costophrenic angle", 3)
        assert len(hits) == 3 and any("pleural" in h[0]["title"].lower() for h in hits)
    finally:
        s.clear()


@needs_neo4j
def test_neo4j_graph_store_and_read_only_cypher(chunks, llm):
    g = Neo4jGraphStore(llm, ns())
    try:
        st = g.ingest(chunks[:3])
        assert st["documents"] == 3 and st["nodes"] > 0
        again = g.ingest(chunks[:3])
        assert (again["nodes"], again["edges"]) == (st["nodes"], st["edges"])  # idempotent
        a = g.answer("What is atelectasis?")  # generated Cypher: a failure is recorded, never raised
        assert a.error or isinstance(a.text, str)
        ro = _read_only_graph(None, g.namespace)
        with pytest.raises(Exception, match="(?i)write|read"):
            ro.query("CREATE (n:DallmWriteProbe) RETURN n")
        ro.close()
        with driver() as d:
            assert d.execute_query("MATCH (n:DallmWriteProbe) RETURN count(n) AS c").records[0]["c"] == 0
    finally:
        g.clear()
        with driver() as d:
            left = d.execute_query(f"MATCH (n:`{g.label}`) RETURN count(n) AS c").records[0]["c"]
        assert left == 0
