"""The analyst pages as a demanding analyst uses them: odd query strings, more alerts than the
dashboard lists, companies set inactive, and times that say which time zone they are in."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from django.test import override_settings
from django.utils import timezone

from apps.accounts.models import Role
from apps.accounts.services import user_create
from apps.sentiment import services
from apps.sentiment.models import Alert, AlertRule, Entity, Source
from tests.sentiment.factories import AlertRuleFactory, DocumentFactory, volume_alert

pytestmark = pytest.mark.django_db


@pytest.fixture
def rule(analyst: Any) -> AlertRule:
    return AlertRuleFactory(owner=analyst, name="Chatter", metric="volume")


@pytest.mark.parametrize("url", ["/sentiment/", "/sentiment/feed/"])
@pytest.mark.parametrize("query", ["entity=%C2%B2", "source=%C2%B2", "entity=99999999999999999"])
def test_feed_filters_that_are_not_ids_are_ignored_instead_of_a_server_error(
    analyst_client: Any, url: str, query: str
) -> None:
    response = analyst_client.get(f"{url}?{query}")

    assert response.status_code == 200
    assert "No scored texts match these filters yet." in response.content.decode()


def test_alerts_page_lists_every_alert_of_mine_page_by_page_newest_first(
    analyst_client: Any, rule: AlertRule
) -> None:
    for i in range(55):
        volume_alert(rule, f"open-{i:02}", minutes_ago=10 + i)
    volume_alert(rule, "settled", minutes_ago=1, status="resolved")
    stranger = user_create(username="bo", password="pw-bo-1234", roles=[Role.ANALYST.value])
    theirs = AlertRuleFactory(owner=stranger, name="Theirs", metric="volume")
    volume_alert(theirs, "secret", minutes_ago=0)

    first = analyst_client.get("/sentiment/alerts/")
    second = analyst_client.get("/sentiment/alerts/?page=2")
    beyond = analyst_client.get("/sentiment/alerts/?page=99")

    listed = [a.subject_label for a in first.context["page"].object_list]
    assert first.status_code == 200
    assert listed[:2] == ["Company settled", "Company open-00"] and len(listed) == 50
    assert [a.subject_label for a in second.context["page"].object_list] == [
        f"Company open-{i:02}" for i in range(49, 55)
    ]
    assert "Page 1 of 2 · 56 alerts" in first.content.decode()
    assert 'href="?status=&page=2">Older' in first.content.decode()
    assert beyond.context["page"].number == 2  # past the end: the last page, not an error
    assert "secret" not in first.content.decode() + second.content.decode()


def test_alerts_page_filters_by_status_and_refuses_an_unknown_one(
    analyst_client: Any, rule: AlertRule
) -> None:
    volume_alert(rule, "fresh", minutes_ago=3)
    volume_alert(rule, "seen", minutes_ago=2, status="acknowledged")
    volume_alert(rule, "done", minutes_ago=1, status="resolved")

    def shown(query: str) -> list[str]:
        page = analyst_client.get(f"/sentiment/alerts/?{query}").context["page"]
        return [a.subject_label for a in page.object_list]

    bad = analyst_client.get("/sentiment/alerts/?status=closed")

    assert shown("status=resolved") == ["Company done"]
    assert shown("status=unresolved") == ["Company seen", "Company fresh"]
    assert shown("status=open") == ["Company fresh"]
    assert shown("") == ["Company done", "Company seen", "Company fresh"]
    assert bad.status_code == 400
    assert "Unknown status “closed”" in bad.content.decode()


def test_alerts_page_buttons_act_on_the_row(analyst_client: Any, rule: AlertRule) -> None:
    alert = volume_alert(rule, "fresh", minutes_ago=3)

    page = analyst_client.get("/sentiment/alerts/").content.decode()
    swapped = analyst_client.post(
        f"/sentiment/alerts/{alert.pk}/resolve/", HTTP_HX_REQUEST="true"
    ).content.decode()

    assert f'hx-post="/sentiment/alerts/{alert.pk}/acknowledge/"' in page
    assert "Resolved" in swapped and "hx-post" not in swapped
    assert Alert.objects.get(pk=alert.pk).status == "resolved"


def test_dashboard_links_to_the_alerts_it_has_no_room_for(
    analyst_client: Any, rule: AlertRule
) -> None:
    for i in range(23):
        volume_alert(rule, f"a{i}", minutes_ago=i)

    page = analyst_client.get("/sentiment/").content.decode()

    assert len(analyst_client.get("/sentiment/").context["alerts"]) == 20
    assert 'href="/sentiment/alerts/?status=unresolved"' in page
    assert "All 23 unresolved alerts" in page
    assert 'href="/sentiment/alerts/">Alerts</a>' in page  # in the menu of every page


def test_an_inactive_company_linked_from_the_watchlist_stays_picked_on_the_dashboard(
    analyst_client: Any,
) -> None:
    services.entity_upsert(name="Active Air", ticker="ACTA")
    dormant = services.entity_upsert(name="Dormant Rail", ticker="DRML", active=False)

    watchlist = analyst_client.get("/sentiment/watchlist/").content.decode()
    page = analyst_client.get(f"/sentiment/?subject=entity:{dormant.pk}").content.decode()

    assert f'href="/sentiment/?subject=entity:{dormant.pk}"' in watchlist
    assert f'<option value="entity:{dormant.pk}" selected>Dormant Rail (DRML) (inactive)' in page


@pytest.mark.parametrize("subject", ["entity:%C2%B2", "entity:424242", "topic:nope", "x"])
def test_dashboard_with_an_unknown_subject_still_opens(analyst_client: Any, subject: str) -> None:
    response = analyst_client.get(f"/sentiment/?subject={subject}")

    assert response.status_code == 200
    assert "(inactive)" not in response.content.decode()


@override_settings(TIME_ZONE="America/New_York")
def test_times_on_the_pages_say_which_time_zone_they_are_in(
    analyst_client: Any, scorer: Any
) -> None:
    source = services.source_get_or_create(name="Wire", kind=Source.Kind.API)
    doc = DocumentFactory(
        source=source,
        title="Osprey Freight beats estimates",
        published_at=datetime(2025, 1, 15, 12, 0, tzinfo=UTC),
        content_hash="x" * 64,
    )
    services.documents_score(document_ids=[doc.pk])

    document = analyst_client.get(f"/sentiment/documents/{doc.pk}/").content.decode()
    dashboard = analyst_client.get("/sentiment/").content.decode()
    feed = analyst_client.get("/sentiment/feed/").content.decode()
    sources = analyst_client.get("/sentiment/sources/").content.decode()

    assert "Jan 15, 2025, 07:00 EST" in document  # 12:00 UTC, in the site's zone, named
    assert "<th>Published (America/New_York)</th>" in feed
    assert "<th>Published (America/New_York)</th>" in dashboard
    assert 'data-tz="America/New_York"' in dashboard  # the chart's labels use it too
    assert "Times in America/New_York." in dashboard
    assert "<th>When (America/New_York)</th>" in dashboard
    assert "Last success (America/New_York)</th><th>Next poll (America/New_York)" in sources


def test_every_link_on_the_pages_opens(analyst_client: Any, rule: AlertRule, scorer: Any) -> None:
    entity = services.entity_upsert(name="Osprey Freight", ticker="OSPF")
    source = services.source_get_or_create(name="Wire", kind=Source.Kind.API)
    doc = DocumentFactory(
        source=source, title="Osprey Freight beats", published_at=timezone.now(), content_hash="y"
    )
    services.documents_score(document_ids=[doc.pk])
    alert = volume_alert(rule, str(entity.pk), minutes_ago=1)
    alert.documents.add(doc)
    pages = [
        "/sentiment/",
        "/sentiment/alerts/",
        f"/sentiment/alerts/{alert.pk}/",
        f"/sentiment/documents/{doc.pk}/",
        "/sentiment/watchlist/",
        f"/sentiment/watchlist/{entity.pk}/",
        "/sentiment/rules/",
        f"/sentiment/rules/{rule.pk}/",
        "/sentiment/sources/",
        "/sentiment/upload/",
        "/sentiment/training/",
    ]
    broken = []
    for page in pages:
        html = analyst_client.get(page).content.decode()
        for href in set(re.findall(r'href="(/sentiment/[^"]*)"', html)):
            status = analyst_client.get(href.replace("&amp;", "&")).status_code
            if status != 200:
                broken.append((page, href, status))

    assert Entity.objects.count() == 1
    assert broken == []


def test_the_feed_filters_in_the_address_show_in_the_form_that_keeps_polling_them(
    analyst_client: Any, scorer: Any
) -> None:
    osprey = services.entity_upsert(name="Osprey Freight", ticker="OSPF")
    source = services.source_get_or_create(name="Wire", kind=Source.Kind.API)
    for title in ("Osprey Freight plunge on loss", "Osprey Freight beats estimates"):
        doc = DocumentFactory(
            source=source, title=title, published_at=timezone.now(), content_hash=title
        )
        services.documents_score(document_ids=[doc.pk])

    page = analyst_client.get(
        f"/sentiment/?entity={osprey.pk}&topic=earnings&label=negative&source={source.pk}"
        "&q=%22plunge%22"
    ).content.decode()

    assert f'<option value="{osprey.pk}" selected>Osprey Freight (OSPF)</option>' in page
    assert '<option value="earnings" selected>' in page
    assert "<option selected>negative</option>" in page
    assert f'<option value="{source.pk}" selected>Wire</option>' in page
    search = (
        '<input type="search" name="q" placeholder="Search headlines" value="&quot;plunge&quot;">'
    )
    assert search in page


def test_the_alerts_page_is_for_analysts_only(client: Any, rule: AlertRule) -> None:
    volume_alert(rule, "private", minutes_ago=1)
    agent = user_create(username="sam", password="pw-sam-123", roles=[Role.SUPPORT_AGENT.value])

    anonymous = client.get("/sentiment/alerts/")
    client.force_login(agent)
    other_role = client.get("/sentiment/alerts/")

    assert anonymous.status_code == 302 and anonymous.url.startswith("/accounts/login/")
    assert other_role.status_code == 403
    assert "private" not in other_role.content.decode()


@pytest.mark.django_db
def test_the_sources_page_speaks_of_feeds_and_pushed_items_not_field_names(analyst_client):
    Source.objects.create(name="Wire push", kind=Source.Kind.API)

    page = analyst_client.get("/sentiment/sources/").content.decode()

    assert "Receives pushed items" in page and "Not polled yet" not in page
    assert "Feed address (RSS or Atom)" in page and "Check the feed every" in page
    assert "Url:" not in page and "Poll interval s" not in page


@pytest.mark.django_db
def test_a_rule_picks_its_companies_with_tick_boxes_not_a_ctrl_click_list(analyst_client):
    Entity.objects.create(name="Osprey Freight", ticker="OSPF")

    page = analyst_client.get("/sentiment/rules/").content.decode()

    assert re.search(r'<input type="checkbox" name="entities" value="\d+"', page)
    assert '<select name="entities"' not in page
