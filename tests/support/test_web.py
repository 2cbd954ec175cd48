"""Reading the web without fetching: URL normalisation, the same-host rule, links in HTML,
sitemaps (safely parsed) and robots.txt."""

from __future__ import annotations

import gzip

import pytest

from apps.support.text import InvalidText
from apps.support.web import (
    links_extract,
    robots_parse,
    same_host,
    sitemap_decompress,
    sitemap_parse,
    url_normalise,
)


@pytest.mark.parametrize(
    ("url", "normal"),
    [
        ("HTTP://Help.Example.COM", "http://help.example.com/"),
        ("https://help.example.com:443/a?b=1#top", "https://help.example.com/a?b=1"),
        ("http://help.example.com:8080/a", "http://help.example.com:8080/a"),
        ("mailto:help@example.com", None),
        ("javascript:alert(1)", None),
        ("ftp://example.com/file", None),
        ("http://user:secret@example.com/", None),
        ("http://[::1", None),
        ("http://example.com/" + "a" * 600, None),
    ],
)
def test_urls_have_one_spelling(url, normal):
    assert url_normalise(url) == normal


def test_relative_links_resolve_against_the_page():
    assert url_normalise("../fees", "https://example.com/cards/limits") == (
        "https://example.com/fees"
    )


def test_the_same_host_is_its_name_and_port():
    assert same_host("http://example.com/a", "https://example.com/b")
    assert not same_host("http://example.com/", "http://example.com:8080/")
    assert not same_host("http://example.com/", "http://evil.example.com/")
    assert not same_host("http://127.0.0.1:8000/", "http://localhost:8000/")


def test_links_are_found_once_each_and_nofollow_is_kept():
    html = (
        '<base href="https://example.com/help/"><a href="cards">Cards</a>'
        '<a href="cards#fees">Fees</a><a href="/ads" rel="sponsored nofollow">Ad</a>'
        '<a href="mailto:x@example.com">Mail</a><area href="pin">'
    )

    found = links_extract(html, "https://example.com/")

    assert found.links == ["https://example.com/help/cards", "https://example.com/help/pin"]
    assert found.follow and found.index


def test_a_robots_meta_tag_is_obeyed():
    found = links_extract(
        '<meta name="robots" content="noindex, nofollow"><a href="/x">x</a>', "https://e.com/"
    )

    assert not found.follow
    assert not found.index


def test_a_sitemap_and_an_index_are_read():
    urlset = (
        b'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        b"<url><loc> https://example.com/a </loc></url><url><loc>https://example.com/a</loc>"
        b"</url><url><loc>mailto:x@y</loc></url></urlset>"
    )
    index = b"<sitemapindex><sitemap><loc>https://example.com/s1.xml</loc></sitemap></sitemapindex>"

    assert sitemap_parse(urlset).urls == ["https://example.com/a"]
    assert not sitemap_parse(urlset).is_index
    assert sitemap_parse(index).is_index
    assert sitemap_parse(index).urls == ["https://example.com/s1.xml"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><urlset>&e;</urlset>', "DTD"),
        (b"<urlset><url>", "not valid XML"),
        (b"<html><body>hi</body></html>", "not a sitemap"),
    ],
)
def test_a_bad_sitemap_is_refused_with_a_reason(data, message):
    with pytest.raises(InvalidText, match=message):
        sitemap_parse(data)


def test_a_gzipped_sitemap_is_unpacked_within_its_cap():
    packed = gzip.compress(b"<urlset></urlset>")
    bomb = gzip.compress(b" " * 100_000)

    assert sitemap_decompress(packed, max_bytes=1000) == b"<urlset></urlset>"
    with pytest.raises(InvalidText, match="larger than"):
        sitemap_decompress(bomb, max_bytes=10_000)


def test_robots_txt_rules_apply_to_our_user_agent():
    robots = robots_parse(
        "User-agent: *\nDisallow: /private/\n\nUser-agent: Textsuite-support-import\n"
        "Disallow: /drafts/\n",
        "https://example.com/robots.txt",
    )

    assert not robots.can_fetch("Textsuite-support-import/1.0", "https://example.com/drafts/a")
    assert robots.can_fetch("Textsuite-support-import/1.0", "https://example.com/help")
