"""Site crawls and sitemap imports: within the start URL's host, robots.txt obeyed, a page
cap, links deduped; sitemaps safely parsed; every request through the guarded fetch."""

from __future__ import annotations

import gzip
from datetime import timedelta

import pytest

from apps.support import services
from apps.support.models import Article, Crawl, WebPage
from apps.support.text import InvalidText
from tests.listener import listening, reply

pytestmark = pytest.mark.django_db

ROBOTS = b"User-agent: *\nDisallow: /private/\n"


def _html(title: str, *links: str) -> bytes:
    anchors = "".join(f'<a href="{link}">{link}</a> ' for link in links)
    return (
        f"<html><head><title>{title}</title></head><body><h2>{title}</h2>"
        f"<p>All about {title.lower()} for our customers.</p>{anchors}</body></html>"
    ).encode()


@pytest.fixture
def allow_local(settings):
    # The test sites listen on 127.0.0.1, reached by two names: both are "public" here, so only
    # the crawl's own same-host rule keeps it on one of them.
    settings.OUTBOUND_ALLOW_HOSTS = ["127.0.0.1", "localhost"]


@pytest.fixture
def site(allow_local):
    routes = {"/robots.txt": reply(200, ROBOTS)}
    with listening(routes) as server:
        other = f"http://localhost:{server.port}/elsewhere"
        routes.update(
            {
                "/": reply(
                    200,
                    _html("Help", "/cards", "/cards#fees", "/private/secret", other, "mailto:x@y"),
                    "text/html",
                ),
                "/cards": reply(200, _html("Cards", "/", "/pin", "./pin"), "text/html"),
                "/pin": reply(200, _html("PIN", "/cards"), "text/html"),
                "/private/secret": reply(200, _html("Secret"), "text/html"),
                "/elsewhere": reply(200, _html("Elsewhere"), "text/html"),
            }
        )
        yield server


def _crawl(kb, url: str, kind: str = Crawl.Kind.SITE, max_pages: int | None = None) -> Crawl:
    crawl = services.crawl_start(kb_id=kb.pk, kind=kind, url=url, max_pages=max_pages)
    crawl.refresh_from_db()  # the worker ran it (tasks are eager in tests)
    return crawl


def test_a_crawl_imports_the_pages_of_its_host_once_each(kb, site):
    crawl = _crawl(kb, f"{site.url}/")

    assert crawl.status == Crawl.Status.DONE
    urls = set(WebPage.objects.filter(kb=kb).values_list("url", flat=True))
    assert urls == {f"{site.url}/", f"{site.url}/cards", f"{site.url}/pin"}
    # "/cards#fees" is "/cards"; each page is fetched once however often it is linked.
    assert site.paths.count("/cards") == 1
    assert crawl.pages_imported == 3
    assert Article.objects.filter(kb=kb, source_key=f"{site.url}/pin").exists()
    assert WebPage.objects.get(url=f"{site.url}/pin").origin == WebPage.Origin.CRAWL


def test_a_link_to_another_host_is_not_followed(kb, site):
    crawl = _crawl(kb, f"{site.url}/")

    assert "/elsewhere" not in site.paths
    assert crawl.skipped_other_host == 1


def test_a_path_robots_txt_disallows_is_skipped(kb, site):
    crawl = _crawl(kb, f"{site.url}/")

    assert site.paths[0] == "/robots.txt"  # read before any page
    assert "/private/secret" not in site.paths
    assert crawl.skipped_robots == 1
    assert not WebPage.objects.filter(url__contains="private").exists()


def test_the_page_cap_holds(kb, allow_local):
    # An endless site: every page links to three new ones.
    routes = {"/robots.txt": reply(404)}
    with listening(routes) as server:
        for n in range(40):
            links = [f"/p/{3 * n + k}" for k in (1, 2, 3)]
            routes[f"/p/{n}"] = reply(200, _html(f"Page {n}", *links), "text/html")

        crawl = _crawl(kb, f"{server.url}/p/0", max_pages=4)

    fetched = [p for p in server.paths if p.startswith("/p/")]
    assert len(fetched) == 4
    assert WebPage.objects.filter(kb=kb).count() == 4
    assert crawl.pages_fetched == 4
    assert "page cap" in crawl.message


def test_a_crawl_stops_when_robots_txt_cannot_be_read(kb, allow_local):
    with listening({"/robots.txt": reply(503), "/": reply(200, _html("Home"), "text/html")}) as s:
        crawl = _crawl(kb, f"{s.url}/")

    assert crawl.status == Crawl.Status.FAILED
    assert "robots.txt could not be read" in crawl.message
    assert s.paths == ["/robots.txt"]


def test_a_missing_robots_txt_allows_the_crawl(kb, allow_local):
    with listening({"/robots.txt": reply(404), "/": reply(200, _html("Home"), "text/html")}) as s:
        crawl = _crawl(kb, f"{s.url}/")

    assert crawl.status == Crawl.Status.DONE
    assert crawl.pages_imported == 1


def test_a_start_url_at_an_internal_address_is_refused_and_nothing_is_queued(kb):
    with listening() as internal, pytest.raises(InvalidText, match="address not allowed"):
        services.crawl_start(kb_id=kb.pk, kind=Crawl.Kind.SITE, url=f"{internal.url}/")

    assert internal.requests == []
    assert not Crawl.objects.exists()


@pytest.mark.parametrize("cap", [0, -1, "many", 10_000])
def test_a_bad_page_cap_is_refused(kb, allow_local, cap):
    with pytest.raises(InvalidText, match="page cap"):
        services.crawl_start(
            kb_id=kb.pk, kind=Crawl.Kind.SITE, url="http://127.0.0.1/", max_pages=cap
        )

    assert not Crawl.objects.exists()


# -- sitemaps --------------------------------------------------------------------------------------
def _urlset(*urls: str) -> bytes:
    entries = "".join(f"<url><loc>{u}</loc></url>" for u in urls)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</urlset>'
    ).encode()


def _index(*urls: str) -> bytes:
    entries = "".join(f"<sitemap><loc>{u}</loc></sitemap>" for u in urls)
    return (
        f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}'
        "</sitemapindex>"
    ).encode()


def test_a_sitemap_index_imports_each_page_of_its_host(kb, allow_local):
    routes = {"/robots.txt": reply(404)}
    with listening(routes) as s:
        routes.update(
            {
                "/sitemap.xml": reply(200, _index(f"{s.url}/a.xml", f"{s.url}/b.xml.gz")),
                "/a.xml": reply(200, _urlset(f"{s.url}/one", f"http://localhost:{s.port}/x")),
                "/b.xml.gz": reply(200, gzip.compress(_urlset(f"{s.url}/two", f"{s.url}/one"))),
                "/one": reply(200, _html("One"), "text/html"),
                "/two": reply(200, _html("Two"), "text/html"),
            }
        )
        crawl = _crawl(kb, f"{s.url}/sitemap.xml", kind=Crawl.Kind.SITEMAP)

    assert crawl.status == Crawl.Status.DONE, crawl.message
    pages = WebPage.objects.filter(kb=kb)
    assert set(pages.values_list("url", flat=True)) == {f"{s.url}/one", f"{s.url}/two"}
    assert set(pages.values_list("origin", flat=True)) == {WebPage.Origin.SITEMAP}
    assert "/x" not in s.paths
    assert crawl.skipped_other_host == 1


def test_a_sitemap_at_an_internal_address_is_refused(kb):
    with listening({"/sitemap.xml": reply(200, _urlset("http://127.0.0.1/a"))}) as internal:
        with pytest.raises(InvalidText, match="address not allowed"):
            services.crawl_start(
                kb_id=kb.pk, kind=Crawl.Kind.SITEMAP, url=f"{internal.url}/sitemap.xml"
            )
        # Saved while allowed, run after the address became internal: the fetch refuses it too.
        crawl = Crawl.objects.create(
            kb=kb, kind=Crawl.Kind.SITEMAP, start_url=f"{internal.url}/sitemap.xml", max_pages=5
        )
        crawl = services.crawl_run(crawl_id=crawl.pk)

    assert crawl.status == Crawl.Status.FAILED
    assert "address not allowed" in crawl.message
    assert internal.requests == []
    assert not WebPage.objects.exists()


def test_a_sitemap_with_entities_is_refused_unexpanded(kb, allow_local):
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]>'
        b"<urlset><url><loc>&lol2;</loc></url></urlset>"
    )
    with listening({"/sitemap.xml": reply(200, bomb)}) as s:
        crawl = _crawl(kb, f"{s.url}/sitemap.xml", kind=Crawl.Kind.SITEMAP)

    assert crawl.status == Crawl.Status.FAILED
    assert "DTD or entities" in crawl.message


def test_the_sitemap_page_cap_holds(kb, allow_local):
    s_routes = {"/robots.txt": reply(404)}
    with listening(s_routes) as s2:
        urls = [f"{s2.url}/page/{n}" for n in range(30)]
        s_routes["/sitemap.xml"] = reply(200, _urlset(*urls))
        crawl = _crawl(kb, f"{s2.url}/sitemap.xml", kind=Crawl.Kind.SITEMAP, max_pages=5)

    assert crawl.pages_fetched == 5
    assert len([p for p in s2.paths if p.startswith("/page/")]) == 5


def test_a_crawl_that_lost_its_worker_is_marked_failed(kb):
    crawl = Crawl.objects.create(
        kb=kb, kind=Crawl.Kind.SITE, start_url="http://example.com/", max_pages=5
    )
    Crawl.objects.filter(pk=crawl.pk).update(status=Crawl.Status.RUNNING)
    Crawl.objects.filter(pk=crawl.pk).update(updated_at=crawl.created_at - timedelta(hours=1))

    assert services.crawls_rescue() == 1
    crawl.refresh_from_db()
    assert crawl.status == Crawl.Status.FAILED
    assert "worker" in crawl.message


# -- the Web sources page and API ----------------------------------------------------------------
def test_a_crawl_started_from_the_page_shows_its_progress(client, agent, kb, site):
    client.force_login(agent)

    response = client.post(
        "/support/knowledge/sources/",
        {"kb": kb.pk, "action": "site", "url": f"{site.url}/", "max_pages": "10"},
        follow=True,
    )

    html = response.content.decode()
    assert "Site crawl of" in html and "started" in html
    assert "3 of at most 10 pages fetched: 3 imported" in html
    assert "1 by robots.txt · 1 on other hosts" in html


def test_a_bad_crawl_from_the_page_is_a_400_that_keeps_the_form(client, agent, kb):
    client.force_login(agent)

    response = client.post(
        "/support/knowledge/sources/",
        {"kb": kb.pk, "action": "sitemap", "url": "ftp://example.com/sitemap.xml"},
    )

    assert response.status_code == 400
    assert "http:// or https://" in response.content.decode()
    assert "ftp://example.com/sitemap.xml" in response.content.decode()
    assert not Crawl.objects.exists()


def test_the_api_starts_a_crawl_and_reports_its_progress(agent_api, kb, site):
    started = agent_api.post(
        "/api/support/crawls/",
        {"kb": kb.pk, "kind": "site", "url": f"{site.url}/", "max_pages": 2},
        format="json",
    )
    crawl_id = started.json()["id"]
    progress = agent_api.get(f"/api/support/crawls/{crawl_id}/")
    refused = agent_api.post(
        "/api/support/crawls/", {"kind": "site", "url": "http://10.1.2.3/"}, format="json"
    )

    assert started.status_code == 202
    assert progress.json()["status"] == "done"
    assert progress.json()["pages_fetched"] == 2
    assert refused.status_code == 400
    assert "address not allowed" in refused.json()["detail"]


def test_a_crawl_stops_at_its_time_budget_and_keeps_what_it_imported(kb, site, monkeypatch):
    monkeypatch.setattr(services.crawls, "TIME_BUDGET_S", 0)

    crawl = _crawl(kb, f"{site.url}/")

    assert crawl.status == Crawl.Status.DONE
    assert "Stopped after 0 minutes" in crawl.message
    assert crawl.pages_fetched == 0


def test_the_page_updates_itself_only_while_a_crawl_runs(client, agent, kb):
    client.force_login(agent)
    idle = client.get("/support/knowledge/sources/", {"kb": kb.pk}).content.decode()
    Crawl.objects.create(
        kb=kb,
        kind=Crawl.Kind.SITE,
        start_url="https://example.com/",
        max_pages=10,
        status=Crawl.Status.RUNNING,
        pages_fetched=4,
    )

    running = client.get("/support/knowledge/sources/", {"kb": kb.pk}).content.decode()

    assert 'hx-trigger="every 3s"' not in idle
    assert 'hx-trigger="every 3s"' in running
    assert "4 of at most 10 pages fetched" in running


def test_a_start_url_that_redirects_to_another_host_says_where_to_start(kb, allow_local):
    routes = {"/robots.txt": reply(404)}
    with listening(routes) as s:
        routes["/"] = reply(302, Location=f"http://localhost:{s.port}/home")

        crawl = _crawl(kb, f"{s.url}/")

    assert crawl.status == Crawl.Status.FAILED
    assert f"start the crawl from http://localhost:{s.port}/home instead" in crawl.message
    assert "/home" not in s.paths


def test_a_redirect_into_a_disallowed_path_or_another_host_is_not_followed(kb, allow_local):
    routes = {"/robots.txt": reply(200, ROBOTS)}
    with listening(routes) as s:
        routes["/"] = reply(200, _html("Home", "/moved", "/away"), "text/html")
        routes["/moved"] = reply(302, Location="/private/secret")
        routes["/away"] = reply(301, Location=f"http://localhost:{s.port}/elsewhere")

        crawl = _crawl(kb, f"{s.url}/")

    assert {"/moved", "/away"} <= set(s.paths)
    assert "/private/secret" not in s.paths
    assert "/elsewhere" not in s.paths
    assert (crawl.skipped_robots, crawl.skipped_other_host) == (1, 1)
    assert crawl.pages_imported == 1
