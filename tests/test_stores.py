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
from dallm.stores import GraphStore, Neo4jGraphStore, Neo4jVectorStore, VectorStore, _read_only_graph, _read_only_graph_class
from dallm.graph import Triple

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
    assert a.error == "" and a.text and a.meta["seeds"][0] == ent
    assert a.context and a.provenance and all(p["chunk_id"] in gs.chunks for p in a.provenance)


def test_scoring_functions():
    assert fact_recall("volume loss and collapse", {"volume loss", "collapse"}) == 1.0
    assert fact_recall("dyspnoea", {"shortness of breath"}) == 1.0  # a synonym the corpus lists, UK spelling
    assert fact_recall("tumour", {"tumour", "pleural effusion"}, "What causes pleural effusion?") == 1.0  # question facts excluded
    assert supported_share("Lung collapse occurs.", "the lung collapse occurs when") == 1.0
    assert is_refusal("I don't know") and not is_refusal("Collapse of the lung.")
    assert namespace_for("smoke", "vector", ["a", "b"]) == namespace_for("smoke", "vector", ["b", "a"])


def test_top1_can_be_off_target(emb):
    docs = load_bundled_corpus()
    all_wiki = config_documents(docs, "a_all_wikipedia", "atelectasis", emb)
    assert {d.source for d in all_wiki} == {"bundled-general"}
    assert len(config_documents(docs, "c_top1_wikipedia", "atelectasis", emb)) == 1
    # the source's own first result, as the authors' searches returned it
    assert config_documents(docs, "c_top1_wikipedia", "enlarged_cardiac_silhouette")[0].title == "Pericarditis"
    assert config_documents(docs, "c_top1_wikipedia", "enlarged_cardiac_silhouette", emb, rerank=True)[0].title == "Cardiomegaly"
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


TRIPLES = [Triple("atelectasis", "condition", "is caused by", "mucus plug", "cause", "c1"),
           Triple("atelectasis", "condition", "causes", "shortness of breath", "symptom", "c1"),
           Triple("mucus plug", "cause", "blocks", "airway", "anatomy", "c2"),
           Triple("atelectasis", "condition", "shows", "volume loss", "imaging feature", "c2"),
           Triple("smoking", "risk factor", "is a risk factor for", "atelectasis", "condition", "c2")]
CHUNKS = [{"chunk_id": "c1", "text": "", "source": "bundled-general", "title": "Atelectasis"},
          {"chunk_id": "c2", "text": "", "source": "bundled-radiology", "title": "Atelectasis (radiology)"}]


def _graph(llm, emb, triples=TRIPLES, chunks=CHUNKS, mode="traversal", name=None):
    g = Neo4jGraphStore(llm, name or ns(), embeddings=emb, mode=mode)
    g.write(chunks, triples)
    return g


@needs_neo4j
def test_same_triples_same_context_in_both_engines(llm, emb):
    g = _graph(llm, emb)
    x = GraphStore(llm, "same", emb)
    x.chunks = {c["chunk_id"]: c for c in CHUNKS}
    for t in TRIPLES: x.add(t)
    try:
        assert g.names() == x.names()
        for q in ["What can cause atelectasis?", "What blocks the airway?", "Is collapse of the lung linked to smoking?"]:
            a, b = g.answer(q, k=1), x.answer(q, k=1)
            assert a.error == "" and a.context, q
            assert (a.context, a.provenance, a.meta) == (b.context, b.provenance, b.meta), q
            assert {p["chunk_id"] for p in a.provenance} <= {"c1", "c2"} and all(p["title"] for p in a.provenance)
    finally:
        g.clear()


@needs_neo4j
def test_graph_namespaces_never_mix(llm, emb):
    mine = _graph(llm, emb)
    theirs = _graph(llm, emb, [Triple("zebra sign", "imaging feature", "indicates", "quokka syndrome", "condition", "z1")],
                    [{"chunk_id": "z1", "text": "", "source": "x", "title": "Quokka syndrome"}])
    cy = Neo4jGraphStore(llm, mine.namespace, embeddings=emb, mode="cypher")
    try:
        assert "zebra sign" not in mine.names() and "INDICATES" not in mine.rel_types()
        a = mine.answer("What does the zebra sign indicate in quokka syndrome?")
        assert "zebra" not in a.context and "quokka" not in a.context and {p["chunk_id"] for p in a.provenance} <= {"c1", "c2"}
        g = _read_only_graph_class()[1](url=get_settings().neo4j_uri, username=get_settings().neo4j_username,
                                         password=get_settings().neo4j_password.get_secret_value(), refresh_schema=False)
        g.use(mine.label, mine.rel_types())
        assert theirs.label not in g.schema and "INDICATES" not in g.schema and "zebra" not in g.schema
        for q in ["MATCH (n) RETURN n.name", f"MATCH (n:{theirs.label}) RETURN n.name", "CALL db.labels()",
                  f"MATCH (a:{mine.label})-[r:INDICATES]->(b:{mine.label}) RETURN b.name"]:
            with pytest.raises(InputError, match="query refused"):
                g.query(q)
        assert {r["name"] for r in g.query(f"MATCH (n:{mine.label}) RETURN n.name AS name")} == set(mine.names())
        g.close()
        c = cy.answer("What does the zebra sign indicate?")
        assert "zebra" not in c.context and "quokka" not in c.context and c.meta["attempts"] in (1, 2)
    finally:
        mine.clear(); theirs.clear()


@needs_neo4j
def test_neo4j_graph_ingest_idempotent_and_read_only(chunks, llm, emb):
    g = Neo4jGraphStore(llm, ns(), embeddings=emb)
    try:
        st = g.ingest(chunks[:3])
        assert st["documents"] == 3 and st["nodes"] > 0
        again = g.ingest(chunks[:3])
        assert (again["nodes"], again["edges"]) == (st["nodes"], st["edges"])  # idempotent
        assert set(g.chunk_info([c.id for c in chunks[:3]])) == {c.id for c in chunks[:3]}
        ent = g.names()[0]
        a = g.answer(f"What is {ent}?")
        assert a.error == "" and a.context and set(p["chunk_id"] for p in a.provenance) <= {c.id for c in chunks[:3]}
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


@needs_neo4j
def test_llm_cypher_with_the_quality_model(emb, tmp_path):
    """The 1.5B model writes Cypher that passes the namespace check and answers (one retry allowed)."""
    qwen = get_llm("qwen2.5-coder-1.5b", cache=tmp_path / "c.sqlite")
    g = _graph(qwen, emb, mode="cypher")
    try:
        ok = 0
        for q in ["What can cause atelectasis?", "What are the symptoms of atelectasis?"]:
            a = g.answer(q)
            assert a.meta["cypher"] and a.meta["attempts"] in (1, 2)
            ok += a.error == "" and "{" in a.context
        assert ok >= 1, "the 1.5B model's Cypher failed on both questions"
    finally:
        g.clear()
