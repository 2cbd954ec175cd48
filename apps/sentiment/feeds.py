"""Fetching RSS/Atom feeds with conditional GET and turning entries into plain items."""

from __future__ import annotations

import calendar
import html
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import formatdate
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import feedparser
import httpx

USER_AGENT = "Textsuite-Sentiment/1.0 (+feed poller)"
MAX_FEED_BYTES = 10 * 1024 * 1024
# The only files a feed URL may name: the feeds shipped with the app (the demo's). A user's URL
# is http(s) only (feed_url_check); this also stops a file:// URL written straight to the database.
BUNDLED_FEEDS = Path(__file__).resolve().parent / "data"


class FeedError(Exception):
    """A feed could not be fetched or is not a valid RSS/Atom document; the message says why."""


@dataclass(frozen=True)
class FeedItem:
    external_id: str
    url: str
    title: str
    body: str
    published_at: datetime | None
    language: str


@dataclass(frozen=True)
class FetchResult:
    not_modified: bool
    content: bytes
    etag: str
    last_modified: str


def feed_url_check(url: str) -> str:
    """The URL a user gave for a feed, stripped; FeedError unless it is http(s) with a host."""
    url = url.strip()
    parsed = urlparse(url)
    if parsed.scheme.lower() not in ("http", "https"):
        raise FeedError("a feed URL must start with http:// or https://")
    if not parsed.hostname:
        raise FeedError("a feed URL needs a host name, e.g. https://example.com/feed.xml")
    return url


def feed_fetch(
    url: str, *, etag: str = "", last_modified: str = "", timeout: float = 20.0
) -> FetchResult:
    """GET a feed, sending If-None-Match / If-Modified-Since; file:// reads BUNDLED_FEEDS only."""
    parsed = urlparse(url)
    if parsed.scheme == "file":
        path = Path(unquote(parsed.path)).resolve()
        if not path.is_relative_to(BUNDLED_FEEDS):
            raise FeedError("file:// feeds are limited to the bundled demo feeds; use http(s)")
        if not path.is_file():
            raise FeedError(f"no feed file at {path}")
        stamp = formatdate(path.stat().st_mtime, usegmt=True)
        if last_modified and stamp == last_modified:
            return FetchResult(True, b"", etag, last_modified)
        return FetchResult(False, path.read_bytes()[:MAX_FEED_BYTES], "", stamp)
    if parsed.scheme not in ("http", "https"):
        raise FeedError(f"unsupported URL scheme {parsed.scheme!r} (use http or https)")
    headers = {
        "User-Agent": USER_AGENT,
        "Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.5",
    }
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    try:
        response = httpx.get(url, headers=headers, timeout=timeout, follow_redirects=True)
    except httpx.HTTPError as exc:
        raise FeedError(f"could not fetch {url}: {type(exc).__name__}: {exc}") from exc
    if response.status_code == 304:
        return FetchResult(True, b"", etag, last_modified)
    if response.status_code >= 400:
        raise FeedError(f"{url} answered HTTP {response.status_code}")
    return FetchResult(
        False,
        response.content[:MAX_FEED_BYTES],
        response.headers.get("ETag", ""),
        response.headers.get("Last-Modified", ""),
    )


_TAG = re.compile(r"<[^>]+>")


def _plain(value: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(_TAG.sub(" ", value or ""))).strip()


def _when(entry: Any) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        stamp = entry.get(key)
        if stamp:
            return datetime.fromtimestamp(calendar.timegm(stamp), tz=UTC)
    return None


def feed_parse(content: bytes) -> tuple[str, list[FeedItem]]:
    """('rss' | 'atom', items) of a feed document; FeedError when it is not a feed."""
    if not content.strip():
        raise FeedError("the feed is empty")
    parsed = feedparser.parse(content)
    version = parsed.get("version") or ""
    if not version:
        reason = parsed.get("bozo_exception")
        raise FeedError(
            "not an RSS or Atom feed" + (f": {type(reason).__name__}: {reason}" if reason else "")
        )
    feed_language = (parsed.feed.get("language") or "")[:2].lower()
    items = []
    for entry in parsed.entries:
        title = _plain(entry.get("title", ""))
        body = ""
        if entry.get("content"):
            body = _plain(entry.content[0].get("value", ""))
        body = body or _plain(entry.get("summary", ""))
        link = entry.get("link", "") or ""
        if not (title or body):
            continue
        language = (entry.get("language") or feed_language or "")[:2].lower()
        items.append(
            FeedItem(
                external_id=(entry.get("id") or link or "")[:500],
                url=link[:1000],
                title=title[:1000],
                body=body,
                published_at=_when(entry),
                language=language,
            )
        )
    if parsed.get("bozo") and not items:
        raise FeedError(f"malformed feed: {parsed.get('bozo_exception')}")
    return ("atom" if version.startswith("atom") else "rss"), items
