"""Site crawls and sitemap imports: background jobs that find a site's pages and import each
as a web page of the knowledge base (re-synced on a schedule from then on).

Limits (docs/support.md, "Fresh knowledge"):
- every request, robots.txt and sitemaps included, goes through the guarded outbound fetch;
- a crawl stays on its start URL's host (name and port); links and redirects elsewhere are
  counted, never followed; sitemap entries on another host are skipped the same way;
- robots.txt is read first and obeyed (user agent Textsuite-support-import); a robots.txt that
  cannot be read (5xx, timeout) stops the crawl, a missing one (4xx) allows everything;
- `max_pages` caps the page fetches (at most SUPPORT_CRAWL_MAX_PAGES); sitemaps are capped at
  10 MB each (unpacked), 20 per import, and are parsed without DTDs or entities.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from datetime import timedelta
from typing import Any
from urllib.robotparser import RobotFileParser

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.core.outbound import (
    MAX_REDIRECTS,
    Fetched,
    OutboundError,
    outbound_fetch,
    outbound_url_check,
)

from ..models import Crawl, WebPage
from ..text import InvalidText, decode_upload
from ..web import (
    links_extract,
    robots_allow_all,
    robots_parse,
    same_host,
    sitemap_decompress,
    sitemap_parse,
    url_normalise,
)
from .web_pages import (
    HTML_TYPES,
    USER_AGENT,
    Redirected,
    content_type,
    page_fetch,
    web_page_store,
)

log = logging.getLogger(__name__)
DEFAULT_MAX_PAGES = 50
SITEMAP_MAX_BYTES = 10 * 1024 * 1024
MAX_SITEMAPS = 20
MAX_CRAWL_DELAY_S = 5.0  # robots.txt's Crawl-delay is obeyed up to this
STALE_AFTER_S = 900  # a running crawl silent this long lost its worker
TIME_BUDGET_S = 3000  # a crawl stops by itself before its task's time limit (3600 s)
MAX_ERRORS_KEPT = 50


class CrawlStopped(Exception):
    """The crawl cannot go on (robots.txt unreadable, the sitemap refused); says why."""


def _over_time(started: float) -> bool:
    return time.monotonic() - started > TIME_BUDGET_S


def crawl_start(
    *, kb_id: int, kind: str, url: str, max_pages: Any = None, user: Any = None
) -> Crawl:
    """Queue a site crawl or sitemap import (pages, API); raises InvalidText for a bad URL,
    kind or page cap, and for an address the guarded fetch refuses now (nothing is queued)."""
    if kind not in Crawl.Kind.values:
        raise InvalidText(f"Unknown kind {kind!r}: one of {', '.join(Crawl.Kind.values)}.")
    start = url_normalise(url or "")
    if start is None:
        raise InvalidText("The URL must be an http:// or https:// address.")
    limit = int(settings.SUPPORT_CRAWL_MAX_PAGES)
    if max_pages in (None, ""):
        pages = min(DEFAULT_MAX_PAGES, limit)
    else:
        try:
            pages = int(max_pages)
        except (TypeError, ValueError):
            raise InvalidText(f"The page cap must be a whole number from 1 to {limit}.") from None
        if isinstance(max_pages, bool) or not 1 <= pages <= limit:
            raise InvalidText(f"The page cap must be a whole number from 1 to {limit}.")
    try:
        outbound_url_check(start)
    except OutboundError as exc:
        raise InvalidText(f"Could not fetch {start}: {exc}.") from None
    with transaction.atomic():
        crawl = Crawl.objects.create(
            kb_id=kb_id,
            kind=kind,
            start_url=start,
            max_pages=pages,
            created_by=user if getattr(user, "is_authenticated", False) else None,
        )
        # Cycle break: tasks imports the services (a task calls one service).
        from ..tasks import crawl_run_task

        transaction.on_commit(lambda: crawl_run_task.delay(crawl.pk))
    return crawl


def _progress(crawl: Crawl, **more: int) -> None:
    for name, add in more.items():
        setattr(crawl, name, getattr(crawl, name) + add)
    crawl.save(update_fields=[*more, "errors", "updated_at"])


def _error(crawl: Crawl, url: str, reason: str) -> None:
    if len(crawl.errors) < MAX_ERRORS_KEPT:
        crawl.errors.append(f"{url}: {reason}"[:300])


def _robots(start: str) -> RobotFileParser:
    """The site's robots.txt, read through the guarded fetch (RFC 9309: a 4xx answer means
    there is none, so everything is allowed; one that cannot be read stops the crawl)."""
    robots_url = url_normalise("/robots.txt", start) or start
    try:
        fetched = outbound_fetch(
            robots_url, headers={"User-Agent": USER_AGENT}, max_bytes=512 * 1024, deadline_s=15.0
        )
    except OutboundError as exc:
        if exc.status_code is not None and 400 <= exc.status_code < 500:
            return robots_allow_all(robots_url)
        raise CrawlStopped(f"robots.txt could not be read ({exc}); nothing was crawled.") from None
    if fetched.status_code != 200:
        return robots_allow_all(robots_url)
    # Also when it redirected to another host (example.com -> www.example.com): its rules are
    # the site's rules (RFC 9309, 2.3.1.2).
    return robots_parse(fetched.content.decode("utf-8", "replace"), robots_url)


def _delay(robots: RobotFileParser) -> float:
    delay = robots.crawl_delay(USER_AGENT)
    return min(float(delay), MAX_CRAWL_DELAY_S) if delay else 0.0


class _Skipped(Exception):
    """A page left out: its redirect leaves the host ("other_host") or robots.txt forbids
    where it leads ("robots")."""

    def __init__(self, why: str, target: str) -> None:
        super().__init__(why)
        self.why, self.target = why, target


def _crawl_fetch(crawl: Crawl, url: str, robots: RobotFileParser) -> tuple[str, Fetched]:
    """GET a page following its redirects here, each hop checked before it is fetched: on the
    crawl's host and allowed by robots.txt (else _Skipped), through the guarded fetch."""
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        try:
            return current, page_fetch(current, follow_redirects=False)
        except Redirected as hop:
            target = url_normalise(hop.location)
            if target is None or not same_host(target, crawl.start_url):
                raise _Skipped("other_host", target or url) from None
            if not robots.can_fetch(USER_AGENT, target):
                raise _Skipped("robots", target) from None
            current = target
    raise InvalidText(f"Could not fetch {url}: too many redirects.")


def _page_import(crawl: Crawl, url: str, robots: RobotFileParser, origin: str) -> list[str]:
    """Fetch one page and import it; returns its links (for a site crawl)."""
    try:
        final, fetched = _crawl_fetch(crawl, url, robots)
    except InvalidText as exc:
        _error(crawl, url, str(exc))
        _progress(crawl, pages_fetched=1, pages_failed=1)
        return []
    except _Skipped as skipped:
        if skipped.why == "robots":
            _progress(crawl, pages_fetched=1, skipped_robots=1)
            return []
        _progress(crawl, pages_fetched=1, skipped_other_host=1)
        if url == crawl.start_url and origin == WebPage.Origin.CRAWL:
            raise CrawlStopped(
                f"{url} redirects to another host; start the crawl from {skipped.target} instead."
            ) from None
        return []
    links: list[str] = []
    index = True
    if content_type(fetched) in HTML_TYPES and origin == WebPage.Origin.CRAWL:
        try:
            found = links_extract(decode_upload(fetched.content, what=final), final)
        except InvalidText:
            found = None
        if found is not None:
            links = found.links if found.follow else []
            index = found.index
    if not index:  # <meta name="robots" content="noindex">: follow its links, keep it out
        _progress(crawl, pages_fetched=1, skipped_robots=1)
        return links
    try:
        _, outcome = web_page_store(
            kb_id=crawl.kb_id, url=final, fetched=fetched, origin=origin, crawl_id=crawl.pk
        )
    except InvalidText as exc:
        _error(crawl, final, str(exc))
        _progress(crawl, pages_fetched=1, pages_failed=1)
        return links
    if outcome == "unchanged":
        _progress(crawl, pages_fetched=1, pages_unchanged=1)
    else:
        _progress(crawl, pages_fetched=1, pages_imported=1)
    return links


def _site_crawl(crawl: Crawl, started: float) -> None:
    robots = _robots(crawl.start_url)
    delay = _delay(robots)
    queue = deque([crawl.start_url])
    seen = {crawl.start_url}
    elsewhere: set[str] = set()
    while queue and crawl.pages_fetched < crawl.max_pages and not _over_time(started):
        url = queue.popleft()
        if not robots.can_fetch(USER_AGENT, url):
            _progress(crawl, skipped_robots=1)
            continue
        if delay and crawl.pages_fetched:
            time.sleep(delay)
        new = away = 0
        for link in _page_import(crawl, url, robots, WebPage.Origin.CRAWL):
            if not same_host(link, crawl.start_url):
                away += link not in elsewhere  # counted once per link, never fetched
                elsewhere.add(link)
            elif link not in seen:
                seen.add(link)
                queue.append(link)
                new += 1
        _progress(crawl, links_found=new, skipped_other_host=away)


def _sitemap_read(url: str) -> bytes:
    fetched = page_fetch(url, max_bytes=SITEMAP_MAX_BYTES, deadline_s=60.0)
    return sitemap_decompress(fetched.content, max_bytes=SITEMAP_MAX_BYTES)


def _sitemap_import(crawl: Crawl, started: float) -> None:
    maps = deque([crawl.start_url])
    read: set[str] = set()
    pages: list[str] = []
    chosen: set[str] = set()
    while maps and len(read) < MAX_SITEMAPS and len(pages) < crawl.max_pages:
        sitemap_url = maps.popleft()
        read.add(sitemap_url)
        try:
            sitemap = sitemap_parse(_sitemap_read(sitemap_url))
        except InvalidText as exc:
            if sitemap_url == crawl.start_url:
                raise CrawlStopped(str(exc)) from None
            _error(crawl, sitemap_url, str(exc))
            _progress(crawl)  # a heartbeat: reading sitemaps counts no page
            continue
        _progress(crawl)
        for url in sitemap.urls:
            if not same_host(url, crawl.start_url):
                _progress(crawl, skipped_other_host=1)
            elif sitemap.is_index:
                if url not in read and url not in maps:
                    maps.append(url)
            elif url not in chosen and len(pages) < crawl.max_pages:
                chosen.add(url)
                pages.append(url)
    _progress(crawl, links_found=len(pages))
    robots = _robots(crawl.start_url)
    delay = _delay(robots)
    for url in pages:
        if _over_time(started):
            break
        if not robots.can_fetch(USER_AGENT, url):
            _progress(crawl, skipped_robots=1)
            continue
        if delay and crawl.pages_fetched:
            time.sleep(delay)
        _page_import(crawl, url, robots, WebPage.Origin.SITEMAP)


def crawl_run(*, crawl_id: int) -> Crawl:
    """Run a queued crawl to its end (the worker's task). Idempotent: only a queued crawl is
    claimed, so a redelivered task does nothing."""
    now = timezone.now()
    claimed = Crawl.objects.filter(pk=crawl_id, status=Crawl.Status.QUEUED).update(
        status=Crawl.Status.RUNNING, started_at=now, updated_at=now
    )
    crawl = Crawl.objects.get(pk=crawl_id)
    if not claimed:
        return crawl
    started = time.monotonic()
    try:
        if crawl.kind == Crawl.Kind.SITEMAP:
            _sitemap_import(crawl, started)
        else:
            _site_crawl(crawl, started)
    except CrawlStopped as exc:
        crawl.status, crawl.message = Crawl.Status.FAILED, str(exc)[:500]
    except Exception:
        log.exception("crawl %s failed", crawl_id)
        crawl.status, crawl.message = Crawl.Status.FAILED, "Stopped by an unexpected error."
    else:
        crawl.status = Crawl.Status.DONE
        if crawl.pages_fetched >= crawl.max_pages:
            crawl.message = f"Stopped at the page cap ({crawl.max_pages})."
        elif _over_time(started):
            crawl.message = (
                f"Stopped after {TIME_BUDGET_S // 60} minutes; the pages imported so far stay."
            )
    crawl.finished_at = timezone.now()
    crawl.save(update_fields=["status", "message", "finished_at", "errors", "updated_at"])
    log.info(
        "crawl %s %s: %d fetched, %d imported",
        crawl_id,
        crawl.status,
        crawl.pages_fetched,
        crawl.pages_imported,
    )
    return crawl


def crawls_rescue() -> int:
    """Mark crawls whose worker died (silent for STALE_AFTER_S) as failed; returns how many."""
    stale = timezone.now() - timedelta(seconds=STALE_AFTER_S)
    return Crawl.objects.filter(status=Crawl.Status.RUNNING, updated_at__lt=stale).update(
        status=Crawl.Status.FAILED,
        message="Stopped: the worker running it ended; the pages imported so far stay.",
        finished_at=timezone.now(),
    )
