"""Pages from the web in a knowledge base: fetched through the guarded outbound fetch, imported
as articles keyed by their URL, and re-synced on a schedule with a conditional GET.

A re-sync sends If-None-Match / If-Modified-Since from the stored ETag / Last-Modified. A 304,
or the same bytes as last time (sha256), changes nothing; a page whose content changed goes
through `article_upsert`, which re-chunks it and queues only its new passages for embedding.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from apps.core.outbound import MAX_REDIRECTS, Fetched, OutboundError, outbound_fetch

from ..models import Article, WebPage
from ..text import InvalidText, decode_upload, html_to_markdownish, pdf_to_text
from .knowledge import article_upsert

log = logging.getLogger(__name__)
USER_AGENT = "Textsuite-support-import/1.0"
PAGE_MAX_BYTES = 10 * 1024 * 1024
PAGE_DEADLINE_S = 30.0  # the whole download of one page
SYNC_CLAIM_S = 600  # a claimed page is not claimed again for this long
MAX_BACKOFF_S = 7 * 24 * 3600
HTML_TYPES = ("text/html", "application/xhtml+xml", "")


class Redirected(Exception):
    """A redirect that `page_fetch(follow_redirects=False)` left for its caller to judge."""

    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location


def page_fetch(
    url: str,
    *,
    etag: str = "",
    last_modified: str = "",
    max_bytes: int = PAGE_MAX_BYTES,
    deadline_s: float = PAGE_DEADLINE_S,
    follow_redirects: bool = True,
) -> Fetched:
    """GET a page through the guarded fetch (public addresses only on every hop, one deadline,
    the size cap kept while it streams); a 304 comes back with an empty body. Raises InvalidText
    with a message safe to show (it never carries what the server sent), and Redirected for a
    redirect when `follow_redirects` is off."""
    if not url.startswith(("http://", "https://")):
        raise InvalidText("The URL must start with http:// or https://.")
    headers = {"User-Agent": USER_AGENT}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    try:
        return outbound_fetch(
            url,
            headers=headers,
            max_bytes=max_bytes,
            deadline_s=deadline_s,
            max_redirects=MAX_REDIRECTS if follow_redirects else 0,
        )
    except OutboundError as exc:
        if not follow_redirects and exc.reason == "redirects" and exc.location:
            raise Redirected(exc.location) from None
        if exc.reason == "too_large":
            raise InvalidText(f"{url} is larger than {max_bytes // (1024 * 1024)} MB.") from None
        raise InvalidText(f"Could not fetch {url}: {exc}.") from None


def content_type(fetched: Fetched) -> str:
    return str(fetched.headers.get("content-type", "")).split(";")[0].strip().lower()


def page_content(url: str, fetched: Fetched) -> tuple[str, str, str]:
    """(title, body, body format) of a fetched page; InvalidText for a type that cannot be
    imported."""
    kind = content_type(fetched)
    data = fetched.content
    if kind == "application/pdf":
        return url.rsplit("/", 1)[-1], pdf_to_text(data), Article.Format.TEXT
    if kind in HTML_TYPES:
        body = decode_upload(data, what=url)
        return html_to_markdownish(body)[0] or url, body, Article.Format.HTML
    if kind in ("text/markdown", "text/x-markdown"):
        body = decode_upload(data, what=url)
        title = next((ln[2:].strip() for ln in body.splitlines() if ln.startswith("# ")), url)
        return title, body, Article.Format.MARKDOWN
    if kind.startswith("text/"):
        return url, decode_upload(data, what=url), Article.Format.TEXT
    raise InvalidText(f"{url} returned {kind or 'no content type'}, which cannot be imported.")


def _next_sync(failures: int = 0) -> timedelta:
    every = max(int(settings.SUPPORT_WEB_RESYNC_S), 60)
    return timedelta(seconds=min(every * 2**failures, max(MAX_BACKOFF_S, every)))


@transaction.atomic
def web_page_store(
    *,
    kb_id: int,
    url: str,
    fetched: Fetched,
    origin: str = WebPage.Origin.PAGE,
    crawl_id: int | None = None,
    status: str = Article.Status.PUBLISHED,
) -> tuple[WebPage, str]:
    """Import a fetched page as the article keyed by `url`, and keep the page for re-syncs;
    returns (page, created|updated|unchanged). An article an agent edited keeps its status,
    tags and intents."""
    title, body, body_format = page_content(url, fetched)
    current = Article.objects.filter(kb_id=kb_id, source_key=url).first()
    article, outcome = article_upsert(
        kb_id=kb_id,
        title=title[:300],
        body=body,
        body_format=body_format,
        source_key=url,
        url=url,
        status=current.status if current else status,
        tags=current.tags if current else None,
        intents=current.intents if current else None,
    )
    now = timezone.now()
    page, created = WebPage.objects.select_for_update().get_or_create(
        kb_id=kb_id, url=url, defaults={"origin": origin, "crawl_id": crawl_id}
    )
    page.article = article
    page.etag = fetched.headers.get("ETag", "")[:500]
    page.last_modified = fetched.headers.get("Last-Modified", "")[:100]
    page.body_hash = hashlib.sha256(fetched.content).hexdigest()
    page.last_error, page.consecutive_failures = "", 0
    page.last_synced_at, page.next_sync_at = now, now + _next_sync()
    if outcome != "unchanged":
        page.last_changed_at = now
    if created:
        page.last_status = WebPage.Status.NEW
    else:
        page.last_status = (
            WebPage.Status.UNCHANGED if outcome == "unchanged" else WebPage.Status.CHANGED
        )
    page.save()
    return page, outcome


def web_page_import(
    *,
    kb_id: int,
    url: str,
    status: str = Article.Status.PUBLISHED,
    max_bytes: int = PAGE_MAX_BYTES,
    deadline_s: float = PAGE_DEADLINE_S,
) -> tuple[WebPage, str]:
    """Fetch a page and import it (see `web_page_store`); it is re-synced from now on."""
    fetched = page_fetch(url, max_bytes=max_bytes, deadline_s=deadline_s)
    return web_page_store(kb_id=kb_id, url=url, fetched=fetched, status=status)


def _sync_failed(page: WebPage, error: str) -> str:
    failures = page.consecutive_failures + 1
    now = timezone.now()
    WebPage.objects.filter(pk=page.pk).update(
        last_status=WebPage.Status.FAILED,
        last_error=error[:500],
        consecutive_failures=failures,
        last_synced_at=now,
        next_sync_at=now + _next_sync(failures),
    )
    log.info("web page %s: re-sync failed (%s)", page.pk, error)
    return WebPage.Status.FAILED


def web_page_sync(*, page_id: int) -> str:
    """Fetch a page again with a conditional GET; returns the page's new status. A 304 or the
    same bytes change nothing but the sync time; changed content re-imports its article (only
    its new passages are embedded). A failure keeps the article and backs off. A page whose
    article an agent deleted is forgotten ("deleted")."""
    page = WebPage.objects.select_related("article").filter(pk=page_id).first()
    if page is None:
        return "deleted"
    if page.article is None:
        WebPage.objects.filter(pk=page.pk).delete()
        return "deleted"
    try:
        fetched = page_fetch(page.url, etag=page.etag, last_modified=page.last_modified)
    except InvalidText as exc:
        return _sync_failed(page, str(exc))
    now = timezone.now()
    same = fetched.status_code != 304 and (
        hashlib.sha256(fetched.content).hexdigest() == page.body_hash
    )
    if fetched.status_code == 304 or same:
        values = {
            "last_status": WebPage.Status.UNCHANGED if same else WebPage.Status.NOT_MODIFIED,
            "last_error": "",
            "consecutive_failures": 0,
            "last_synced_at": now,
            "next_sync_at": now + _next_sync(),
        }
        if same:  # a server may send new validators for the same bytes
            values["etag"] = fetched.headers.get("ETag", "")[:500]
            values["last_modified"] = fetched.headers.get("Last-Modified", "")[:100]
        WebPage.objects.filter(pk=page.pk).update(**values)
        return str(values["last_status"])
    try:
        page, _ = web_page_store(
            kb_id=page.kb_id, url=page.url, fetched=fetched, origin=page.origin
        )
    except InvalidText as exc:
        return _sync_failed(page, str(exc))
    return page.last_status


def web_pages_due(*, limit: int = 500) -> list[int]:
    """Pages whose next re-sync is due, the longest waiting first."""
    now = timezone.now()
    return list(
        WebPage.objects.filter(Q(next_sync_at__lte=now) | Q(next_sync_at__isnull=True))
        .order_by("next_sync_at", "id")
        .values_list("id", flat=True)[:limit]
    )


def web_page_claim(*, page_id: int) -> bool:
    """Claim a due page for one worker (a conditional update: 1 or 0 rows)."""
    now = timezone.now()
    return bool(
        WebPage.objects.filter(pk=page_id)
        .filter(Q(next_sync_at__lte=now) | Q(next_sync_at__isnull=True))
        .update(next_sync_at=now + timedelta(seconds=SYNC_CLAIM_S))
    )


def web_pages_sync_now(*, kb_id: int) -> int:
    """Make every web page of a knowledge base due now and queue the re-sync (the Sources page's
    button); returns how many pages it will fetch."""
    # Cycle break: tasks imports the services (a task calls one service).
    from ..tasks import web_pages_sync_due_task

    count = WebPage.objects.filter(kb_id=kb_id).update(next_sync_at=None)
    transaction.on_commit(web_pages_sync_due_task.delay)
    return count
