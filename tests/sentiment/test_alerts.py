"""Alert evaluation and episodes (cooldowns, paused rules, subjects watched again), the text of a
move, and handling an alert from its page or from the links in its email."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from apps.sentiment import services
from apps.sentiment.models import Alert, AlertRule, Entity
from apps.sentiment.selectors import hour_floor
from tests.sentiment.conftest import rule_create
from tests.sentiment.factories import (
    AggregateFactory,
    AlertFactory,
    AlertRuleFactory,
    EntityFactory,
)
from tests.sentiment.test_services import NOW, build_history, ingest_and_score, row, spike


def _busy_company(name: str = "Kestrel Airlines", texts: int = 8) -> Entity:
    """A watchlist company with `texts` texts in the current hour."""
    entity = EntityFactory(name=name, ticker="KSTL")
    AggregateFactory(
        subject_kind="entity",
        subject_key=str(entity.pk),
        bucket_start=hour_floor(timezone.now()),
        n=texts,
        n_negative=texts,
        score_sum=-0.8 * texts,
    )
    return entity


def _volume_rule(owner: Any, name: str, **fields: Any) -> AlertRule:
    values: dict[str, Any] = {
        "mode": "threshold",
        "threshold": 1,
        "min_volume": 1,
        "window_hours": 6,
        "delivery": "none",
        **fields,
    }
    return AlertRuleFactory(owner=owner, name=name, metric="volume", **values)


def test_one_rule_with_a_huge_cooldown_does_not_stop_every_other_rule_alerting(analyst) -> None:  # type: ignore[no-untyped-def]
    entity = _busy_company()
    # Stored before the limit existed (or by hand); checked first, since rules go by name.
    odd = _volume_rule(analyst, "Aardvark", cooldown_hours=99_999_999)
    earlier = AlertFactory(
        rule=odd,
        subject_key=str(entity.pk),
        subject_label=str(entity),
        metric="volume",
        value=3,
        baseline=1,
        window_start=timezone.now() - timedelta(days=30),
        window_end=timezone.now() - timedelta(days=30) + timedelta(hours=6),
        reason="earlier",
        episode_open=False,
    )
    plain = _volume_rule(analyst, "Zebra", cooldown_hours=12)

    opened = services.alerts_evaluate()

    assert [Alert.objects.get(pk=pk).rule_id for pk in opened] == [plain.pk]
    # The odd rule's last alert is within its (capped, one year) cooldown: no new one.
    assert list(Alert.objects.filter(rule=odd)) == [earlier]


def test_a_volume_alert_keeps_the_window_it_fired_in_after_the_rule_is_edited(analyst) -> None:  # type: ignore[no-untyped-def]
    _busy_company()
    rule = _volume_rule(analyst, "Busy", window_hours=6)
    [alert_id] = services.alerts_evaluate()
    AlertRule.objects.filter(pk=rule.pk).update(window_hours=24)

    alert = Alert.objects.select_related("rule").get(pk=alert_id)

    assert services.alert_move_text(alert).startswith("8 texts in 6h")


def test_a_paused_rule_switched_back_on_alerts_again_when_its_condition_holds(analyst) -> None:  # type: ignore[no-untyped-def]
    _busy_company()
    rule = _volume_rule(analyst, "Busy", cooldown_hours=0)
    [first] = services.alerts_evaluate()

    AlertRule.objects.filter(pk=rule.pk).update(active=False)
    services.alerts_evaluate()  # paused: its episode ends
    AlertRule.objects.filter(pk=rule.pk).update(active=True)
    again = services.alerts_evaluate()

    assert not Alert.objects.get(pk=first).episode_open
    assert len(again) == 1 and again != [first]


def test_a_second_click_on_an_email_link_says_there_is_nothing_to_do(client, analyst) -> None:  # type: ignore[no-untyped-def]
    _busy_company()
    _volume_rule(analyst, "Busy")
    [alert_id] = services.alerts_evaluate()
    token = Alert.objects.get(pk=alert_id).action_token
    ack = f"/sentiment/alerts/{alert_id}/email/acknowledge/{token}/"
    resolve = f"/sentiment/alerts/{alert_id}/email/resolve/{token}/"

    first = client.post(ack).content.decode()
    second = client.post(ack).content.decode()
    client.post(resolve)
    late = client.post(ack).content.decode()

    assert "Alert is now <b>acknowledged</b>" in first
    assert "already acknowledged; there is nothing to acknowledge" in second
    assert "already resolved; there is nothing to acknowledge" in late
    assert Alert.objects.get(pk=alert_id).status == "resolved"


def test_an_empty_window_with_min_volume_zero_opens_no_alert(analyst, kestrel, source, scorer):  # type: ignore[no-untyped-def]
    rule = rule_create(analyst, [kestrel], metric="mean_score_drop", min_volume=0)
    # Positive history, then nothing at all in the current window.
    rows = [
        row(
            w * 100 + k, f"Kestrel shares jump {w}-{k}", NOW - timedelta(hours=6 * w + 1, minutes=k)
        )
        for w in range(2, 8)
        for k in range(6)
    ]
    ingest_and_score(source, rows)

    assert services.alerts_evaluate(now=NOW, rule_ids=[rule.pk]) == []


def test_a_subject_watched_again_can_alert_again(analyst, kestrel, source, scorer):  # type: ignore[no-untyped-def]
    other = services.entity_upsert(name="Acme Corp", ticker="ACME")
    rule = rule_create(analyst, [kestrel], cooldown_hours=0)
    build_history(source)
    spike(source)
    [first] = services.alerts_evaluate(now=NOW, rule_ids=[rule.pk])

    # The analyst takes Kestrel off the rule for a while, then puts it back during a spike.
    rule.entities.set([other])
    services.alerts_evaluate(now=NOW, rule_ids=[rule.pk])
    rule.entities.set([kestrel])
    # An hour later (the alert's created_at is the wall clock, and the cooldown counts from it).
    again = services.alerts_evaluate(now=NOW + timedelta(hours=1), rule_ids=[rule.pk])

    assert not Alert.objects.get(pk=first).episode_open
    assert len(again) == 1 and again[0] != first


def test_a_threshold_alert_below_its_baseline_reads_as_a_fall(analyst, kestrel):  # type: ignore[no-untyped-def]
    rule = rule_create(analyst, [kestrel], mode="threshold", threshold=0.3)
    alert = Alert(rule=rule, metric="negative_share", value=0.35, baseline=0.4)

    move = services.alert_move_text(alert)

    assert "-5 pts" in move and "+-" not in move


def test_an_alert_link_with_a_wrong_token_shows_a_clear_page(analyst, kestrel, client):  # type: ignore[no-untyped-def]
    rule = rule_create(analyst, [kestrel])
    alert = AlertFactory(
        rule=rule,
        subject_key=str(kestrel.pk),
        subject_label="Kestrel",
        window_start=NOW - timedelta(hours=6),
        window_end=NOW,
    )

    get = client.get(f"/sentiment/alerts/{alert.pk}/email/resolve/tampered/")
    post = client.post(f"/sentiment/alerts/{alert.pk}/email/resolve/tampered/")

    alert.refresh_from_db()
    assert get.status_code == 404 and post.status_code == 404
    assert "link is not valid" in get.content.decode()
    assert alert.status == "open"


def test_acknowledging_a_resolved_alert_from_the_email_offers_nothing_to_do(  # type: ignore[no-untyped-def]
    analyst, kestrel, client
):
    rule = rule_create(analyst, [kestrel])
    alert = AlertFactory(
        rule=rule,
        subject_key=str(kestrel.pk),
        subject_label="Kestrel",
        window_start=NOW - timedelta(hours=6),
        window_end=NOW,
    )
    services.alert_transition(alert_id=alert.pk, action="resolve")
    url = f"/sentiment/alerts/{alert.pk}/email/acknowledge/{alert.action_token}/"

    page = client.get(url).content.decode()

    assert "already resolved" in page
    assert "Acknowledge this alert</button>" not in page


def test_handling_an_alert_from_its_page_redirects_only_within_the_site(  # type: ignore[no-untyped-def]
    analyst_client, analyst, kestrel
):
    rule = rule_create(analyst, [kestrel])
    alert = AlertFactory(
        rule=rule,
        subject_key=str(kestrel.pk),
        subject_label="Kestrel",
        window_start=NOW - timedelta(hours=6),
        window_end=NOW,
    )

    away = analyst_client.post(
        f"/sentiment/alerts/{alert.pk}/acknowledge/", {"next": "https://evil.example/phish"}
    )
    back = analyst_client.post(
        f"/sentiment/alerts/{alert.pk}/resolve/", {"next": f"/sentiment/alerts/{alert.pk}/"}
    )

    assert away.status_code == 302 and away["Location"] == "/sentiment/"
    assert back.status_code == 302 and back["Location"] == f"/sentiment/alerts/{alert.pk}/"


def test_an_admin_status_change_goes_through_the_alert_service(admin_client, admin_user):  # type: ignore[no-untyped-def]
    alert = AlertFactory()
    url = f"/admin/sentiment/alert/{alert.pk}/change/"

    response = admin_client.post(url, {"status": "acknowledged", "value": 99})

    alert.refresh_from_db()
    assert response.status_code == 302
    assert alert.status == "acknowledged"
    assert alert.handled_by == admin_user and alert.acknowledged_at is not None
    assert alert.value == 0.8  # what the evaluation found stays


def test_the_admin_neither_reopens_nor_adds_alerts(admin_client):  # type: ignore[no-untyped-def]
    alert = AlertFactory()
    services.alert_transition(alert_id=alert.pk, action="resolve")
    url = f"/admin/sentiment/alert/{alert.pk}/change/"

    reopen = admin_client.post(url, {"status": "open"})
    add = admin_client.get("/admin/sentiment/alert/add/")

    alert.refresh_from_db()
    assert reopen.status_code == 200 and "not reopened" in reopen.content.decode()
    assert alert.status == "resolved"
    assert add.status_code == 403


def test_admin_actions_acknowledge_and_resolve_through_the_service(admin_client, admin_user):  # type: ignore[no-untyped-def]
    first, second = AlertFactory(), AlertFactory(subject_key="2")

    admin_client.post(
        "/admin/sentiment/alert/", {"action": "acknowledge", "_selected_action": [first.pk]}
    )
    admin_client.post(
        "/admin/sentiment/alert/",
        {"action": "resolve", "_selected_action": [first.pk, second.pk]},
    )

    first.refresh_from_db()
    second.refresh_from_db()
    assert first.acknowledged_at is not None and first.status == "resolved"
    assert second.acknowledged_at is None and second.status == "resolved"
    assert {first.handled_by, second.handled_by} == {admin_user}
