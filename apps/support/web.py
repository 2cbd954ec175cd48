"""Reading the web for knowledge imports, without any fetching or storing: URL normalisation,
the same-host rule, links in HTML, sitemaps (safely parsed) and robots.txt.

Fetches go through apps/core/outbound.py (services.web_pages); this module only reads bytes.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit, urlunsplit
from urllib.robotparser import RobotFileParser
from xml.etree import ElementTree

from .text import InvalidText

MAX_URL_CHARS = 500  # the stored source key's length
MAX_SITEMAP_URLS = 50_000  # the sitemaps protocol's limit per file
DEFAULT_PORTS = {"http": 80, "https": 443}


def url_normalise(url: str, base: str | None = None) -> str | None:
    """The one spelling of an http(s) URL used to dedupe pages: `url` resolved against `base`,
    scheme and host in lower case, the default port and the #fragment dropped, an empty path
    as "/". None for anything else (mailto:, javascript:, user:password@, too long)."""
    try:
        joined = urljoin(base, url.strip()) if base else url.strip()
        parts = urlsplit(joined)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname or parts.username or parts.password:
        return None
    host = parts.hostname.lower()
    if ":" in host:  # an IPv6 literal keeps its brackets
        host = f"[{host}]"
    netloc = host if port in (None, DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    normal = urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))
    return normal if len(normal) <= MAX_URL_CHARS else None


def host_key(url: str) -> str:
    """The host a crawl stays within: name and port (http and https on their default ports
    are the same site)."""
    parts = urlsplit(url)
    port = parts.port
    scheme = parts.scheme.lower()
    name = (parts.hostname or "").lower()
    return name if port in (None, DEFAULT_PORTS.get(scheme)) else f"{name}:{port}"


def same_host(url: str, other: str) -> bool:
    return host_key(url) == host_key(other)


# == HTML links ===================================================================================
@dataclass
class PageLinks:
    links: list[str] = field(default_factory=list)  # normalised, in page order, each once
    follow: bool = True  # <meta name="robots" content="nofollow"> says no
    index: bool = True  # <meta name="robots" content="noindex"> says no


class _LinkParser(HTMLParser):
    def __init__(self, base: str) -> None:
        super().__init__(convert_charrefs=True)
        self.base = base
        self.found = PageLinks()
        self._seen: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name.lower(): (value or "") for name, value in attrs}
        if tag == "base" and values.get("href"):
            self.base = urljoin(self.base, values["href"])
        elif tag == "meta" and values.get("name", "").lower() == "robots":
            words = {w.strip().lower() for w in values.get("content", "").split(",")}
            self.found.follow = self.found.follow and not ({"nofollow", "none"} & words)
            self.found.index = self.found.index and not ({"noindex", "none"} & words)
        elif tag in ("a", "area") and values.get("href"):
            if "nofollow" in values.get("rel", "").lower().split():
                return
            link = url_normalise(values["href"], self.base)
            if link is not None and link not in self._seen:
                self._seen.add(link)
                self.found.links.append(link)


def links_extract(html: str, base_url: str) -> PageLinks:
    """The http(s) links of a page (<a>/<area> href, against <base href>), and what its
    robots meta tag allows."""
    parser = _LinkParser(base_url)
    try:
        parser.feed(html)
        parser.close()
    except (AssertionError, ValueError):  # the parser gives up on some broken markup
        pass
    return parser.found


# == sitemaps =====================================================================================
@dataclass(frozen=True)
class Sitemap:
    is_index: bool  # a sitemap index: `urls` are further sitemaps
    urls: list[str]


def sitemap_decompress(data: bytes, *, max_bytes: int) -> bytes:
    """A gzipped sitemap (sitemap.xml.gz) unpacked, its unpacked size capped too."""
    if not data.startswith(b"\x1f\x8b"):
        return data
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, max_bytes + 1)
    except zlib.error:
        raise InvalidText("The sitemap is not valid gzip.") from None
    if len(out) > max_bytes or inflater.unconsumed_tail:
        raise InvalidText(f"The sitemap is larger than {max_bytes // (1024 * 1024)} MB unpacked.")
    return out


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def sitemap_parse(data: bytes) -> Sitemap:
    """A sitemap (<urlset>) or sitemap index (<sitemapindex>): its <loc> URLs, normalised.

    Safe parsing: a document with a DTD or entity declarations is refused before parsing (no
    entity expansion, no external entities); the caller caps the size."""
    head = data.lower()
    if b"<!doctype" in head or b"<!entity" in head:
        raise InvalidText("The sitemap declares a DTD or entities, which are not read.")
    try:
        root = ElementTree.fromstring(data)
    except ElementTree.ParseError as exc:
        raise InvalidText(f"The sitemap is not valid XML ({exc}).") from None
    kind = _local(root.tag)
    if kind not in ("urlset", "sitemapindex"):
        raise InvalidText("This is not a sitemap (no <urlset> or <sitemapindex>).")
    entry = "sitemap" if kind == "sitemapindex" else "url"
    urls: list[str] = []
    seen: set[str] = set()
    for element in root:
        if _local(element.tag) != entry:
            continue
        for child in element:
            if _local(child.tag) == "loc" and child.text:
                url = url_normalise(child.text)
                if url is not None and url not in seen:
                    seen.add(url)
                    urls.append(url)
        if len(urls) >= MAX_SITEMAP_URLS:
            break
    return Sitemap(is_index=kind == "sitemapindex", urls=urls)


# == robots.txt ===================================================================================
def robots_parse(text: str, url: str) -> RobotFileParser:
    """A robots.txt read from `text` (fetched by the caller through the guarded fetch)."""
    robots = RobotFileParser(url)
    robots.parse(text.splitlines())
    return robots


def robots_allow_all(url: str) -> RobotFileParser:
    """No robots.txt (a 4xx answer): everything may be fetched (RFC 9309, 2.3.1.3)."""
    return robots_parse("", url)  # no rules: every path may be fetched
