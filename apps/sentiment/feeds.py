"""Fetching RSS/Atom feeds with conditional GET and turning entries into plain items."""

from __future__ import annotations

import calendar
import html
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urljoin, urlparse

import feedparser
import httpx

from apps.core.outbound import OutboundError, outbound_fetch, outbound_url_check

from .uploads import unstorable_strip

USER_AGENT = "Textsuite-Sentiment/1.0 (+feed poller)"
MAX_FEED_BYTES = 10 * 1024 * 1024
# The whole download, not each read: a server trickling bytes must not hold a worker until the
# task's time limit kills it (which would leave the source unmarked and re-polled every minute).
FETCH_DEADLINE_S = 60.0
# The only files a feed URL may name: the feeds shipped with the app (the demo's). A user's URL
# is http(s) only (feed_url_check); this also stops a file:// URL written straight to the database.
BUNDLED_FEEDS = Path(__file__).resolve().parent / "data"


class FeedError(Exception):
    """A feed could not be fetched or is not a valid RSS/Atom document; the message says why."""

    def __init__(self, message: str, *, retry_after_s: int | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s  # the server's Retry-After, when it sent one


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
    url: str = ""  # where the document was read from, after redirects (base of relative links)
    content_type: str = ""
    moved_to: str = ""  # the new address when every redirect was permanent (301/308)


def feed_url_check(url: str) -> str:
    """The URL a user gave for a feed, stripped; FeedError unless it is http(s) with a host."""
    url = url.strip()
    try:
        parsed = urlparse(url)
        host = parsed.hostname
        parsed.port  # noqa: B018  # raises ValueError for a port out of range
        httpx.URL(url)
    except (ValueError, httpx.InvalidURL) as exc:
        raise FeedError(f"not a valid URL: {exc}") from None
    if parsed.scheme.lower() not in ("http", "https"):
        raise FeedError("a feed URL must start with http:// or https://")
    if not host:
        raise FeedError("a feed URL needs a host name, e.g. https://example.com/feed.xml")
    try:
        outbound_url_check(url)
    except OutboundError as exc:
        # Only a refused address stops the save; a name that does not resolve yet may later.
        if exc.reason == "not_allowed":
            raise FeedError(
                "this address is not allowed: feeds are fetched from public addresses only"
            ) from None
    return url


def _retry_after(value: str | None) -> int | None:
    """Seconds from a Retry-After header (seconds or an HTTP date); None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return int(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0, int((when - datetime.now(UTC)).total_seconds()))


def feed_fetch(
    url: str,
    *,
    etag: str = "",
    last_modified: str = "",
    deadline_s: float = FETCH_DEADLINE_S,
) -> FetchResult:
    """GET a feed, sending If-None-Match / If-Modified-Since; file:// reads BUNDLED_FEEDS only."""
    try:
        parsed = urlparse(url)
    except ValueError as exc:  # a bad URL already stored, e.g. "http://[::1"
        raise FeedError(f"could not fetch {url}: not a valid URL ({exc})") from None
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
        # Through the guarded fetch: public addresses only (every redirect too), one deadline for
        # the whole download, and the size cap kept while it streams.
        fetched = outbound_fetch(
            url, headers=headers, max_bytes=MAX_FEED_BYTES, deadline_s=deadline_s
        )
    except OutboundError as exc:
        raise _feed_error(url, exc, deadline_s=deadline_s) from None
    if fetched.status_code == 304:
        return FetchResult(True, b"", etag, last_modified, fetched.url)
    permanent = bool(fetched.redirects) and all(code in (301, 308) for code in fetched.redirects)
    return FetchResult(
        False,
        fetched.content,
        fetched.headers.get("ETag", ""),
        fetched.headers.get("Last-Modified", ""),
        fetched.url,
        fetched.headers.get("Content-Type", ""),
        fetched.url if permanent and fetched.url != url else "",
    )


def _feed_error(url: str, exc: OutboundError, *, deadline_s: float) -> FeedError:
    """The source's last_error for a failed fetch: what went wrong, never what came back."""
    if exc.reason == "http":
        wait = _retry_after(exc.retry_after)
        return FeedError(
            f"{url} answered {exc}" + (f" (retry after {wait} s)" if wait is not None else ""),
            retry_after_s=wait,
        )
    if exc.reason == "too_large":
        return FeedError(
            f"{url} sent more than {MAX_FEED_BYTES // (1024 * 1024)} MiB; not read as a feed"
        )
    if exc.reason == "timeout":
        return FeedError(f"{url} took longer than {deadline_s:g} s to send the feed")
    return FeedError(f"could not fetch {url}: {exc}")


# A tag starts with a letter, '/', '!' or '?' (as in an HTML parser): "<5%" or "a < b" is text.
_TAG = re.compile(r"<[A-Za-z/!?][^>]*>")


def _plain(value: str, kind: str = "text/html") -> str:
    """Text of a feed field: HTML loses its tags and entities; plain text (already unescaped by
    feedparser) keeps what it says, so 'AT&T beats <estimates>' is not cut down. Characters
    that cannot be stored (NUL, e.g. from '&#0;') are dropped."""
    value = value or ""
    if "html" in kind:
        value = html.unescape(_TAG.sub(" ", value))
    return re.sub(r"\s+", " ", unstorable_strip(value)).strip()


def _field(entry: Any, key: str) -> str:
    detail = entry.get(f"{key}_detail") or {}
    return _plain(entry.get(key, ""), detail.get("type", "text/html"))


def _link(link: str, base: str) -> str:
    """An http(s) address for the item, relative links resolved against `base`; '' otherwise,
    so a javascript: or relative link is never stored or shown as a link."""
    link = (link or "").strip()
    if not link:
        return ""
    if base:
        link = urljoin(base, link)
    try:
        parsed = urlparse(link)
        ok = parsed.scheme.lower() in ("http", "https") and bool(parsed.hostname)
    except ValueError:
        return ""
    return link if ok else ""


def _when(entry: Any) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        stamp = entry.get(key)
        if stamp:
            return datetime.fromtimestamp(calendar.timegm(stamp), tz=UTC)
    return None


def _http_base(url: str) -> str:
    try:
        return url if urlparse(url).scheme.lower() in ("http", "https") else ""
    except ValueError:
        return ""


def feed_parse(
    content: bytes, *, base_url: str = "", content_type: str = ""
) -> tuple[str, list[FeedItem]]:
    """('rss' | 'atom', items) of a feed document; FeedError when it is not a feed.

    `base_url` (where it was read from) resolves relative item links, else the feed's own link
    does; `content_type` (the HTTP header) gives the charset when the document does not."""
    if not content.strip():
        raise FeedError("the feed is empty")
    # Only a declared charset is passed on: a bare text/xml would make feedparser assume ASCII.
    headers = {"content-type": content_type} if "charset=" in content_type.lower() else {}
    parsed = feedparser.parse(content, response_headers=headers)
    version = parsed.get("version") or ""
    if not version:
        reason = parsed.get("bozo_exception")
        raise FeedError(
            "not an RSS or Atom feed" + (f": {type(reason).__name__}: {reason}" if reason else "")
        )
    feed_language = (parsed.feed.get("language") or "")[:2].lower()
    base = _http_base(base_url) or _http_base(parsed.feed.get("link") or "")
    items = []
    for entry in parsed.entries:
        title = _field(entry, "title")
        body = ""
        if entry.get("content"):
            first = entry.content[0]
            body = _plain(first.get("value", ""), first.get("type", "text/html"))
        body = body or _field(entry, "summary")
        link = _link(unstorable_strip(entry.get("link") or ""), base)
        if not (title or body):
            continue
        language = (entry.get("language") or feed_language or "")[:2].lower()
        items.append(
            FeedItem(
                external_id=unstorable_strip(entry.get("id") or link or "")[:500],
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
