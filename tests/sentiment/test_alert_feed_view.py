"""The dashboard's alert list as JSON: how the page catches up after the socket was down."""

from __future__ import annotations

from typing import Any

import pytest

from apps.accounts.models import Role
from apps.accounts.services import user_create
from apps.sentiment import realtime
from apps.sentiment.models import Alert, AlertRule
from tests.sentiment.factories import AlertRuleFactory, volume_alert

pytestmark = pytest.mark.django_db

URL = "/sentiment/alerts/feed/"


@pytest.fixture
def rule(analyst: Any) -> AlertRule:
    return AlertRuleFactory(owner=analyst, name="Kestrel chatter", metric="volume")


def _alert(rule: AlertRule, key: str, minutes_ago: int, status: str = "open") -> Alert:
    """A volume alert whose reason holds markup: the feed must send it as data."""
    reason = f"<b>{key}</b>: 12 texts in 6 h, usually 3"
    return volume_alert(rule, key, minutes_ago, status, reason=reason)


def test_anonymous_users_sign_in_and_other_roles_are_refused(client, rule) -> None:  # type: ignore[no-untyped-def]
    _alert(rule, "1", minutes_ago=1)
    agent = user_create(username="sam", password="pw-sam-123", roles=[Role.SUPPORT_AGENT.value])

    anonymous = client.get(URL)
    client.force_login(agent)
    other_role = client.get(URL)

    assert anonymous.status_code == 302 and anonymous.url.startswith("/accounts/login/")
    assert other_role.status_code == 403
    assert "Company 1" not in anonymous.content.decode() + other_role.content.decode()


def test_lists_unresolved_alerts_newest_first_as_alert_events(analyst_client, rule) -> None:  # type: ignore[no-untyped-def]
    acknowledged = _alert(rule, "ack", minutes_ago=2, status="acknowledged")
    _alert(rule, "gone", minutes_ago=0, status="resolved")
    for i in range(25):
        _alert(rule, f"old-{i}", minutes_ago=10 + i)

    response = analyst_client.get(URL)
    dashboard = analyst_client.get("/sentiment/")

    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    alerts = response.json()["alerts"]
    assert len(alerts) == 20
    assert [a["id"] for a in alerts] == [a.pk for a in dashboard.context["alerts"]]
    assert [a["subject"] for a in alerts[:3]] == ["Company ack", "Company old-0", "Company old-1"]
    assert alerts[0] == realtime.alert_event(acknowledged)
    assert alerts[0]["status"] == "acknowledged" and alerts[0]["status_label"] == "Acknowledged"
    assert alerts[0]["reason"] == "<b>ack</b>: 12 texts in 6 h, usually 3"  # data, not markup
    assert alerts[0]["resolve_url"] == f"/sentiment/alerts/{acknowledged.pk}/resolve/"


def test_rows_the_page_shows_come_back_with_their_current_state(analyst_client, rule) -> None:  # type: ignore[no-untyped-def]
    still_open = _alert(rule, "open", minutes_ago=1)
    resolved_elsewhere = _alert(rule, "resolved", minutes_ago=5, status="resolved")
    deleted = _alert(rule, "deleted", minutes_ago=3)
    deleted_id = deleted.pk
    deleted.delete()

    shown = [still_open.pk, resolved_elsewhere.pk, deleted_id, "x", "²", "9" * 40]
    response = analyst_client.get(URL, {"shown": shown})
    plain = analyst_client.get(URL)

    alerts = response.json()["alerts"]
    assert [(a["id"], a["status"]) for a in alerts] == [
        (still_open.pk, "open"),
        (resolved_elsewhere.pk, "resolved"),
    ]
    assert alerts[1] == realtime.alert_event(resolved_elsewhere)
    assert [a["id"] for a in plain.json()["alerts"]] == [still_open.pk]


def test_an_analyst_gets_only_alerts_of_their_own_rules_and_staff_get_all(  # type: ignore[no-untyped-def]
    client, analyst_client, rule
) -> None:
    mine = _alert(rule, "mine", minutes_ago=1)
    olga = user_create(username="olga", password="pw-olga-123", roles=[Role.ANALYST.value])
    theirs = _alert(AlertRuleFactory(owner=olga, name="Olga's", metric="volume"), "theirs", 2)
    boss = user_create(username="boss", password="pw-boss-123", is_superuser=True)

    asked = analyst_client.get(URL, {"shown": [mine.pk, theirs.pk]})  # even when asked by id
    client.force_login(boss)
    staff = client.get(URL)

    assert [a["id"] for a in asked.json()["alerts"]] == [mine.pk]
    assert [a["id"] for a in staff.json()["alerts"]] == [mine.pk, theirs.pk]
