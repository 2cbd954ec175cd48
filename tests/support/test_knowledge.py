from __future__ import annotations

import socket

import pytest

from apps.mlops.vectors import named_index
from apps.support import services
from apps.support.bm25 import BM25
from apps.support.models import FAQ, Article, Chunk, PastConversation
from apps.support.retrieval import CHUNK_INDEX, passages_retrieve
from apps.support.text import InvalidText, chunks_split, markdown_render
from tests.listener import endless, listening, reply, trickle
from tests.support.conftest import CARD_ARTICLE

pytestmark = pytest.mark.django_db


def test_chunks_follow_headings():
    drafts = chunks_split("Card delivery", CARD_ARTICLE, "markdown")

    assert [d.heading for d in drafts] == ["How long delivery takes", "Tracking your card"]
    assert "5 to 7 working days" in drafts[0].text


def test_bm25_ranks_the_document_with_the_rare_word_first():
    index = BM25([["card", "arrive"], ["pin", "change", "atm"], ["card", "fee"]])

    hits = index.search(["pin"], 3)

    assert hits[0][0] == 1
    assert len(hits) == 1


def test_retrieval_finds_the_right_article(kb):
    passages = passages_retrieve(kb_id=kb.pk, query="how do I change my PIN at an ATM", k=3)

    assert passages[0].title == "Changing your PIN"
    assert passages[0].heading == "At an ATM"


def test_editing_an_article_reembeds_only_the_changed_chunk(kb, fake_embedder):
    article = Article.objects.get(kb=kb, title="Card delivery")
    before = set(Chunk.objects.filter(article=article).values_list("id", flat=True))
    fake_embedder.calls.clear()

    services.article_upsert(
        kb_id=kb.pk,
        title="Card delivery",
        source_key=article.source_key,
        body=article.body.replace("Open the app", "Open the mobile app"),
        intents=article.intents,
    )

    after = set(Chunk.objects.filter(article=article).values_list("id", flat=True))
    assert len(fake_embedder.calls) == 1
    assert "Open the mobile app" in fake_embedder.calls[0]
    assert len(before & after) == 1
    assert Chunk.objects.filter(article=article, embedded=False).count() == 0


def test_deleting_an_article_removes_its_vectors(kb):
    article = Article.objects.get(kb=kb, title="Changing your PIN")
    chunk_ids = list(article.chunks.values_list("id", flat=True))

    services.article_delete(article_id=article.pk)

    index = named_index(CHUNK_INDEX).current()
    assert not any(cid in index for cid in chunk_ids)
    passages = passages_retrieve(kb_id=kb.pk, query="change my PIN", k=3)
    assert all(p.title != "Changing your PIN" for p in passages)


def test_draft_articles_are_not_retrieved(kb):
    services.article_upsert(
        kb_id=kb.pk, title="Secret launch", body="Crypto wallets arrive soon.", status="draft"
    )

    passages = passages_retrieve(kb_id=kb.pk, query="crypto wallets", k=5)

    assert all(p.title != "Secret launch" for p in passages)


def test_reimporting_a_file_updates_instead_of_duplicating(kb):
    first = services.knowledge_import_file(
        kb_id=kb.pk, name="fees.md", data=b"# Fees\n\nTransfers cost 1 EUR."
    )
    second = services.knowledge_import_file(
        kb_id=kb.pk, name="fees.md", data=b"# Fees\n\nTransfers cost 2 EUR."
    )
    third = services.knowledge_import_file(
        kb_id=kb.pk, name="fees.md", data=b"# Fees\n\nTransfers cost 2 EUR."
    )

    assert (first.created, second.updated, third.unchanged) == (1, 1, 1)
    assert Article.objects.filter(kb=kb, title="Fees").count() == 1
    assert "2 EUR" in Article.objects.get(kb=kb, title="Fees").body


def test_csv_import_of_faq_pairs_and_past_conversations(kb):
    faq = services.knowledge_import_file(
        kb_id=kb.pk,
        name="faq.csv",
        data=b"question,answer,intent\nWhen does my card come?,In 5-7 days.,card_arrival\n",
    )
    past = services.knowledge_import_file(
        kb_id=kb.pk,
        name="past.jsonl",
        data=b'{"question": "card not here yet", "best_reply": "Wait 7 days.", '
        b'"intent": "card_arrival"}\n',
    )

    assert faq.kind == "faq" and faq.created == 1
    assert past.kind == "past_conversations" and past.created == 1
    assert FAQ.objects.get(kb=kb).intent == "card_arrival"
    assert PastConversation.objects.get(kb=kb).best_reply == "Wait 7 days."


def test_a_faq_file_over_the_row_cap_is_refused_with_nothing_stored(kb, settings):
    settings.UPLOAD_MAX_ROWS = 3
    before = services.knowledge_import_file(
        kb_id=kb.pk, name="kept.csv", data=b"question,answer\nWhen?,Soon.\n"
    )
    rows = b"".join(b"Question %d?,Answer %d.\n" % (i, i) for i in range(4))

    with pytest.raises(InvalidText, match="more than 3 rows"):
        services.knowledge_import_file(
            kb_id=kb.pk, name="faq.csv", data=b"question,answer\n" + rows
        )

    assert before.created == 1
    assert list(FAQ.objects.filter(kb=kb).values_list("question", flat=True)) == ["When?"]


@pytest.mark.parametrize(
    ("name", "data", "needle"),
    [
        ("empty.md", b"", "empty"),
        ("blob.md", b"\x00\x01\x02binary", "binary"),
        ("virus.exe", b"MZ....", "unsupported"),
        ("fake.pdf", b"not a pdf", "not a PDF"),
        ("rows.csv", b"foo,bar\n1,2\n", "columns"),
    ],
)
def test_bad_imports_are_refused_with_a_reason(kb, name, data, needle):
    with pytest.raises(InvalidText, match=needle):
        services.knowledge_import_file(kb_id=kb.pk, name=name, data=data)
    assert not Article.objects.filter(source_key=f"file:{name}").exists()


def test_html_import_drops_scripts_and_keeps_headings(kb):
    page = (
        b"<html><head><title>ATM help</title><script>alert(1)</script></head><body>"
        b"<h2>Withdrawing cash</h2><p>Free up to 200 EUR a month.</p></body></html>"
    )

    services.knowledge_import_file(kb_id=kb.pk, name="atm.html", data=page)

    article = Article.objects.get(kb=kb, title="ATM help")
    chunk = article.chunks.get()
    assert chunk.heading == "Withdrawing cash"
    assert "alert" not in chunk.text


def test_markdown_rendering_is_sanitised():
    html = markdown_render("Hi <script>alert(1)</script> [x](javascript:alert(1))", "markdown")

    assert "<script>" not in html
    assert "javascript:" not in html


def test_url_import_uses_the_url_as_key(kb, settings):
    settings.OUTBOUND_ALLOW_HOSTS = ["127.0.0.1"]  # an intranet help centre, allowed by name
    page = b"<h1>Limits</h1><p>Top up up to 10,000 EUR.</p>"
    with listening({"/help/limits": reply(200, page, "text/html")}) as intranet:
        for _ in range(2):
            services.knowledge_import_url(kb_id=kb.pk, url=f"{intranet.url}/help/limits")

    assert Article.objects.filter(source_key=f"{intranet.url}/help/limits").count() == 1


# -- URL import fetches public addresses only (issue 17, findings 3 and 10) -----------------------
METRICS = b"# HELP secret_metric internal\nsecret_metric 42\n"


@pytest.fixture
def internal_service():
    """Stands for an internal service on the server's loopback (e.g. its own /metrics)."""
    with listening({"/metrics": reply(200, METRICS), "/slow": trickle, "/huge": endless}) as it:
        yield it


def test_an_agent_cannot_import_an_internal_address(client, agent, kb, internal_service):
    client.force_login(agent)

    response = client.post(
        "/api/support/import-url/",
        {"url": f"{internal_service.url}/metrics"},
        content_type="application/json",
    )

    assert response.status_code == 400
    assert "address not allowed" in response.content.decode()
    assert "secret_metric" not in response.content.decode()
    assert not Article.objects.filter(source_key__contains="metrics").exists()
    assert internal_service.requests == []


def test_the_refusal_does_not_tell_open_ports_from_closed_ones(kb, internal_service):
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()
    messages = []
    for port in (internal_service.port, closed_port):
        with pytest.raises(InvalidText) as refused:
            services.knowledge_import_url(kb_id=kb.pk, url=f"http://127.0.0.1:{port}/")
        messages.append(str(refused.value).replace(str(port), "PORT"))

    assert messages[0] == messages[1]
    assert internal_service.requests == []


def test_a_redirect_to_an_internal_address_is_not_followed(kb, internal_service, settings):
    settings.OUTBOUND_ALLOW_HOSTS = ["127.0.0.1"]  # the page's host, as if public
    target = f"http://localhost:{internal_service.port}/metrics"
    with (
        listening({"/article": reply(302, Location=target)}) as help_centre,
        pytest.raises(InvalidText, match="address not allowed"),
    ):
        services.knowledge_import_url(kb_id=kb.pk, url=f"{help_centre.url}/article")

    assert not Article.objects.filter(url__contains="article").exists()
    assert internal_service.requests == []


def test_a_page_over_the_cap_stops_while_it_streams(kb, internal_service, settings, monkeypatch):
    settings.OUTBOUND_ALLOW_NETWORKS = ["127.0.0.1/32"]
    monkeypatch.setattr(services.knowledge_import, "MAX_IMPORT_BYTES", 64 * 1024)

    with pytest.raises(InvalidText, match="is larger than"):  # the body never ends
        services.knowledge_import_url(kb_id=kb.pk, url=f"{internal_service.url}/huge")

    assert not Article.objects.filter(url__contains="huge").exists()


def test_a_trickling_page_stops_at_one_total_deadline(kb, internal_service, settings, monkeypatch):
    settings.OUTBOUND_ALLOW_NETWORKS = ["127.0.0.1/32"]
    monkeypatch.setattr(services.knowledge_import, "URL_IMPORT_DEADLINE_S", 0.5)

    # Each read gets a byte within 50 ms: only a deadline for the whole download stops it.
    with pytest.raises(InvalidText, match="timed out"):
        services.knowledge_import_url(kb_id=kb.pk, url=f"{internal_service.url}/slow")

    assert not Article.objects.filter(url__contains="slow").exists()
