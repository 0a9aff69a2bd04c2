"""Knowledge loaders over real HTTP (a local server with saved responses), the bundled corpus, chunking."""
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from dallm.config import InputError
from dallm.knowledge import (PAPER_CHUNKING, Fetcher, chunk_documents, gather_corpus, gold_facts,
                             load_bundled_corpus, radiopaedia_search, wikipedia_search, LESION_QUERIES)

WEB = Path(__file__).parent / "fixtures" / "web"


class _Handler(BaseHTTPRequestHandler):
    hits: list = []

    def do_GET(self):
        u = urlparse(self.path)
        q = {k: v[0] for k, v in parse_qs(u.query).items()}
        self.hits.append(self.path)
        name = None
        if u.path == "/w/api.php":
            name = "wiki_search.json" if q.get("list") == "search" else "wiki_extracts.json"
        elif u.path == "/search": name = "radiopaedia_search.html"
        elif u.path == "/articles/atelectasis": name = "radiopaedia_atelectasis.html"
        elif u.path == "/articles/lobar-lung-collapse": name = "radiopaedia_lobar.html"
        if name is None:
            self.send_response(404); self.end_headers(); return
        body = (WEB / name).read_bytes()
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


@pytest.fixture(scope="module")
def site():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()


def test_wikipedia_top1_and_page(site, tmp_path):
    f = Fetcher(tmp_path, min_interval=0)
    top1 = wikipedia_search("atelectasis", f, 1, api_url=f"{site}/w/api.php", lesion="atelectasis")
    assert [d.title for d in top1] == ["Atelectasis"] and "mucus plug" in top1[0].text
    assert top1[0].id == "wikipedia:101" and top1[0].url.endswith("/?curid=101")
    both = wikipedia_search("atelectasis", f, 25, api_url=f"{site}/w/api.php")
    assert [d.title for d in both] == ["Atelectasis", "Pneumothorax"]


def test_radiopaedia_body_only(site, tmp_path):
    f = Fetcher(tmp_path, min_interval=0)
    docs = radiopaedia_search("atelectasis", f, 5, base_url=site, lesion="atelectasis")
    assert [d.id for d in docs] == ["radiopaedia:atelectasis", "radiopaedia:lobar-lung-collapse"]
    text = docs[0].text
    assert "loss of lung volume" in text and "elevation of the hemidiaphragm" in text
    for junk in ("Donate", "cookies", "supporter", "Related articles", "reference list", "Promoted", "Copyright", "track()"):
        assert junk not in text


def test_cache_and_rate_limit(site, tmp_path):
    _Handler.hits.clear()
    f = Fetcher(tmp_path, min_interval=0.2)
    import time
    t0 = time.monotonic()
    radiopaedia_search("atelectasis", f, 2, base_url=site)
    assert time.monotonic() - t0 >= 0.4  # three requests to one host, 0.2 s apart
    n = len(_Handler.hits)
    again = Fetcher(tmp_path, min_interval=0.2)
    radiopaedia_search("atelectasis", again, 2, base_url=site)
    assert len(_Handler.hits) == n and again.n_requests == 0  # all from the on-disk cache


def test_fetch_error_names_url(site, tmp_path):
    with pytest.raises(InputError, match="Could not fetch .*/nothing"):
        Fetcher(tmp_path, min_interval=0).get(f"{site}/nothing")


def test_gather_online(site, tmp_path):
    docs = gather_corpus("both", ["atelectasis"], top_k=1, fetcher=Fetcher(tmp_path, min_interval=0),
                         api_url=f"{site}/w/api.php", base_url=site)
    assert [d.source for d in docs] == ["wikipedia", "radiopaedia"]
    with pytest.raises(InputError, match="Unknown corpus source"):
        gather_corpus("pubmed")


def test_bundled_corpus_covers_every_lesion_and_question():
    docs = load_bundled_corpus()
    assert len({d.id for d in docs}) == len(docs)
    for l in LESION_QUERIES:
        roles = {d.role for d in docs if d.lesion == l}
        assert roles == {"general", "radiology"}, l
        for cat in ("definition", "causes", "symptoms", "signs", "labs", "imaging", "risk_factors"):
            assert gold_facts(docs, l, [cat]), (l, cat)
    assert {d.title for d in docs if d.role == "near-miss"} >= {"Pericarditis", "Chest radiograph"}
    for d in docs:
        for facts in d.facts.values():
            assert all(f.lower() in d.text.lower() for f in facts), d.id


def test_chunking_bounds_and_stable_ids():
    docs = load_bundled_corpus()
    a = chunk_documents(docs, 48, 8)
    assert all(c.n_tokens <= 48 for c in a) and len(a) > 2 * len(docs)
    assert [c.id for c in a] == [c.id for c in chunk_documents(docs, 48, 8)]
    assert all(c.text in next(d.text for d in docs if d.id == c.doc_id) for c in a)  # original text kept
    assert len(chunk_documents(docs, **PAPER_CHUNKING)) == len(docs)
    with pytest.raises(InputError, match="overlap"):
        chunk_documents(docs, 32, 32)
