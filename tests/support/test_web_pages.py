"""Pages imported from the web stay fresh: a scheduled re-sync with a conditional GET, where a
304 or the same bytes change nothing and only changed passages are re-embedded."""

from __future__ import annotations

from datetime import timedelta
from http.server import BaseHTTPRequestHandler

import pytest
from django.utils import timezone

from apps.support import services, tasks
from apps.support.models import Article, Chunk, WebPage
from apps.support.schedules import BEAT_SCHEDULE
from tests.listener import listening, reply

pytestmark = pytest.mark.django_db

ETAG = '"v1"'
STAMP = "Wed, 02 Dec 2026 10:00:00 GMT"
PAGE_V1 = (
    b"<html><head><title>Card limits</title></head><body>"
    b"<h2>Daily limit</h2><p>You can pay up to 5,000 EUR a day with your card.</p>"
    b"<h2>Cash</h2><p>You can withdraw up to 1,000 EUR a day at ATMs.</p></body></html>"
)
PAGE_V2 = PAGE_V1.replace(b"5,000 EUR", b"7,500 EUR")


class Site:
    """A help page whose content the test changes; it answers a matching If-None-Match with
    304, like a real server."""

    def __init__(self) -> None:
        self.body, self.etag = PAGE_V1, ETAG
        self.honours_validators = True

    def route(self, handler: BaseHTTPRequestHandler) -> None:
        if self.honours_validators and handler.headers.get("If-None-Match") == self.etag:
            handler.send_response(304)
            handler.send_header("ETag", self.etag)
            handler.end_headers()
            return
        reply(200, self.body, "text/html", ETag=self.etag, Last_Modified=STAMP)(handler)


@pytest.fixture
def site(settings):
    settings.OUTBOUND_ALLOW_HOSTS = ["127.0.0.1"]  # an intranet help centre, allowed by name
    page = Site()
    with listening({"/help/limits": page.route, "/gone": reply(404)}) as server:
        page.url = f"{server.url}/help/limits"  # type: ignore[attr-defined]
        page.server = server  # type: ignore[attr-defined]
        yield page


def _imported(kb, site) -> WebPage:
    services.knowledge_import_url(kb_id=kb.pk, url=site.url)
    return WebPage.objects.get(kb=kb, url=site.url)


def test_a_url_import_is_kept_for_re_syncs_with_its_validators(kb, site):
    page = _imported(kb, site)

    assert page.article.title == "Card limits"
    assert page.etag == ETAG
    assert page.last_modified == STAMP
    assert page.last_status == WebPage.Status.NEW
    assert page.next_sync_at > timezone.now()


def test_a_re_sync_sends_the_stored_validators_and_a_304_changes_nothing(kb, site, fake_embedder):
    page = _imported(kb, site)
    before = Article.objects.get(pk=page.article_id).updated_at
    chunks = set(Chunk.objects.filter(article_id=page.article_id).values_list("id", flat=True))
    fake_embedder.calls.clear()

    status = services.web_page_sync(page_id=page.pk)

    _, _, headers = site.server.requests[-1]
    assert headers["If-None-Match"] == ETAG
    assert headers["If-Modified-Since"] == STAMP
    assert status == WebPage.Status.NOT_MODIFIED
    assert Article.objects.get(pk=page.article_id).updated_at == before
    assert set(Chunk.objects.filter(article_id=page.article_id).values_list("id", flat=True)) == (
        chunks
    )
    assert fake_embedder.calls == []
    page.refresh_from_db()
    assert page.last_status == WebPage.Status.NOT_MODIFIED
    assert page.last_synced_at is not None


def test_the_same_bytes_without_a_304_change_nothing(kb, site, fake_embedder):
    page = _imported(kb, site)
    site.honours_validators = False
    fake_embedder.calls.clear()

    status = services.web_page_sync(page_id=page.pk)

    assert status == WebPage.Status.UNCHANGED
    assert fake_embedder.calls == []


def test_a_changed_page_re_embeds_only_its_changed_passage(kb, site, fake_embedder):
    page = _imported(kb, site)
    assert Chunk.objects.filter(article_id=page.article_id).count() == 2
    site.body, site.etag = PAGE_V2, '"v2"'
    fake_embedder.calls.clear()

    status = services.web_page_sync(page_id=page.pk)

    assert status == WebPage.Status.CHANGED
    # One passage changed: one text embedded, not the whole page.
    assert len(fake_embedder.calls) == 1
    assert "7,500 EUR" in fake_embedder.calls[0]
    page.refresh_from_db()
    assert page.etag == '"v2"'
    assert "7,500 EUR" in page.article.body
    assert page.last_changed_at is not None


def test_a_re_sync_keeps_what_an_agent_set_on_the_article(kb, site):
    page = _imported(kb, site)
    Article.objects.filter(pk=page.article_id).update(
        status=Article.Status.DRAFT, intents=["card_limits"]
    )
    site.body, site.etag = PAGE_V2, '"v2"'

    services.web_page_sync(page_id=page.pk)

    article = Article.objects.get(pk=page.article_id)
    assert article.status == Article.Status.DRAFT
    assert article.intents == ["card_limits"]
    assert "7,500 EUR" in article.body


def test_a_failed_re_sync_keeps_the_article_and_backs_off(kb, site, settings):
    page = _imported(kb, site)
    body = page.article.body
    WebPage.objects.filter(pk=page.pk).update(url=f"{site.server.url}/gone")
    settings.SUPPORT_WEB_RESYNC_S = 3600

    status = services.web_page_sync(page_id=page.pk)

    page.refresh_from_db()
    assert status == WebPage.Status.FAILED
    assert page.last_error  # what went wrong, shown on the Sources page
    assert page.consecutive_failures == 1
    assert page.next_sync_at > timezone.now() + timedelta(seconds=3600 + 60)
    assert Article.objects.get(pk=page.article_id).body == body


def test_a_page_whose_article_was_deleted_is_forgotten(kb, site):
    page = _imported(kb, site)
    services.article_delete(article_id=page.article_id)
    before = len(site.server.requests)

    assert services.web_page_sync(page_id=page.pk) == "deleted"
    assert not WebPage.objects.filter(pk=page.pk).exists()
    assert len(site.server.requests) == before


def test_the_scheduled_task_syncs_due_pages_once(kb, site):
    page = _imported(kb, site)
    assert services.web_pages_due() == []  # just imported: not due
    WebPage.objects.filter(pk=page.pk).update(next_sync_at=timezone.now() - timedelta(minutes=1))
    before = len(site.server.requests)

    assert tasks.web_pages_sync_due_task() == 1
    assert len(site.server.requests) == before + 1
    # A redelivered task finds the page no longer due and fetches nothing.
    assert tasks.web_page_sync_task(page.pk) == "not_due"
    assert len(site.server.requests) == before + 1


def test_beat_runs_the_re_sync():
    entry = BEAT_SCHEDULE["support-web-pages-sync"]

    assert entry["task"] == "apps.support.tasks.web_pages_sync_due_task"
    assert entry["schedule"] <= 3600


# -- the Web sources page and API ----------------------------------------------------------------
def test_the_sources_page_shows_each_pages_last_sync_and_status(client, agent, kb, site):
    page = _imported(kb, site)
    WebPage.objects.filter(pk=page.pk).update(
        last_status=WebPage.Status.FAILED, last_error="Could not fetch it: HTTP 503."
    )
    client.force_login(agent)

    response = client.get("/support/knowledge/sources/", {"kb": kb.pk})

    html = response.content.decode()
    assert response.status_code == 200
    assert site.url in html
    assert "Card limits" in html
    assert "Failed" in html and "HTTP 503" in html
    assert page.last_synced_at.strftime("%Y-%m-%d %H:%M") in html


def test_re_sync_now_fetches_every_page_again(client, agent, kb, site):
    page = _imported(kb, site)
    client.force_login(agent)
    before = len(site.server.requests)

    response = client.post(
        "/support/knowledge/sources/", {"kb": kb.pk, "action": "sync_now"}, follow=True
    )

    page.refresh_from_db()
    assert "Re-syncing 1 page now" in response.content.decode()
    assert len(site.server.requests) == before + 1
    assert page.last_status == WebPage.Status.NOT_MODIFIED


def test_the_api_lists_web_pages_and_queues_a_re_sync(agent_api, kb, site):
    page = _imported(kb, site)

    listed = agent_api.get("/api/support/web-pages/", {"kb": kb.pk})
    queued = agent_api.post("/api/support/web-pages/sync/", {"kb": kb.pk}, format="json")
    bad = agent_api.get("/api/support/web-pages/", {"status": "sideways"})

    assert listed.status_code == 200
    assert [row["url"] for row in listed.json()] == [page.url]
    assert listed.json()[0]["last_status"] == "new"
    assert (queued.status_code, queued.json()) == (202, {"queued": 1})
    assert bad.status_code == 400


def test_the_admin_shows_web_pages_and_crawls_read_only(admin_client, kb, site):
    page = _imported(kb, site)

    listed = admin_client.get("/admin/support/webpage/")
    crawls = admin_client.get("/admin/support/crawl/")
    add = admin_client.get("/admin/support/webpage/add/")

    assert listed.status_code == 200 and page.url in listed.content.decode()
    assert crawls.status_code == 200
    assert add.status_code == 403
