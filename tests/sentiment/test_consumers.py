"""The dashboard's live feed socket: analysts get scored texts and alerts as they happen."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser
from django.db import transaction
from django.utils import timezone

from apps.accounts.models import Role
from apps.accounts.services import user_create
from apps.sentiment import realtime, services
from apps.sentiment.models import AlertRule, Document, Source
from apps.sentiment.routing import websocket_urlpatterns
from apps.sentiment.uploads import DocumentRow
from tests.sentiment.factories import AlertFactory, AlertRuleFactory

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("memory_channel_layer"),
]


def _socket(user: Any) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), "/ws/sentiment/feed/")
    communicator.scope["user"] = user
    return communicator


def _ingest_and_score(titles: list[str], source_name: str = "Wire") -> list[int]:
    source = services.source_get_or_create(name=source_name, kind=Source.Kind.API)
    now = timezone.now()
    rows = [DocumentRow(i + 1, "", "", t, "", now, "en") for i, t in enumerate(titles)]
    created = services.documents_ingest(source_id=source.pk, rows=rows, now=now).created_ids
    services.documents_score(document_ids=created)  # nothing left to do if a task scored them
    return created


async def _next(communicator: WebsocketCommunicator, kind: str) -> dict[str, Any]:
    for _ in range(10):
        event: dict[str, Any] = await communicator.receive_json_from(timeout=5)
        if event["type"] == kind:
            return event
    raise AssertionError(f"no {kind} event")


def test_an_analyst_hears_about_a_document_when_it_is_scored(analyst, scorer):  # type: ignore[no-untyped-def]
    async_to_sync(_document_scored)(analyst)


async def _document_scored(analyst: Any) -> None:
    kestrel = await database_sync_to_async(services.entity_upsert)(
        name="Kestrel Airlines", ticker="KSTL", aliases=["Kestrel"]
    )
    communicator = _socket(analyst)
    connected, _ = await communicator.connect()

    ids = await database_sync_to_async(_ingest_and_score)(
        ["<b>Kestrel</b> shares plunge after profit warning"]
    )
    event = await _next(communicator, "documents")
    await communicator.disconnect()

    assert connected
    [doc] = event["documents"]
    assert doc["id"] == ids[0]
    assert doc["text"] == "<b>Kestrel</b> shares plunge after profit warning"  # data, not markup
    assert doc["label"] == "negative" and doc["confidence"] == "0.90"
    assert doc["entities"] == [{"id": kestrel.pk, "label": "KSTL", "sentiment": "negative"}]
    assert doc["source"]["name"] == "Wire"
    assert doc["url"] == f"/sentiment/documents/{ids[0]}/"


def test_alerts_are_pushed_when_they_open_and_when_they_are_acknowledged(analyst, scorer):  # type: ignore[no-untyped-def]
    async_to_sync(_alert_lifecycle)(analyst)


async def _alert_lifecycle(analyst: Any) -> None:
    def arrange() -> None:
        kestrel = services.entity_upsert(name="Kestrel Airlines", ticker="KSTL")
        rule = AlertRuleFactory(
            owner=analyst,
            name="Kestrel chatter",
            metric=AlertRule.Metric.VOLUME,
            mode=AlertRule.Mode.THRESHOLD,
            threshold=2,
            min_volume=2,
            delivery=AlertRule.Delivery.NONE,
        )
        rule.entities.set([kestrel])

    await database_sync_to_async(arrange)()
    communicator = _socket(analyst)
    await communicator.connect()

    await database_sync_to_async(_ingest_and_score)(
        ["Kestrel Airlines grounds fleet", "Kestrel Airlines cancels flights"]
    )
    await database_sync_to_async(services.alerts_evaluate)()  # a no-op if the task ran first
    opened = (await _next(communicator, "alert"))["alert"]
    await database_sync_to_async(services.alert_transition)(
        alert_id=opened["id"], action="acknowledge", user=analyst
    )
    acknowledged = (await _next(communicator, "alert"))["alert"]
    await communicator.disconnect()

    assert opened["status"] == "open" and opened["subject"] == "Kestrel Airlines (KSTL)"
    assert opened["acknowledge_url"] == f"/sentiment/alerts/{opened['id']}/acknowledge/"
    assert acknowledged["id"] == opened["id"]
    assert acknowledged["status"] == "acknowledged"
    assert acknowledged["status_label"] == "Acknowledged"


def test_alert_events_reach_the_rules_owner_and_staff_only(analyst, scorer):  # type: ignore[no-untyped-def]
    olga = user_create(username="olga", password="pw-olga-123", roles=[Role.ANALYST.value])
    boss = user_create(username="boss", password="pw-boss-123", is_superuser=True)
    async_to_sync(_alert_audience)(analyst, olga, boss)


async def _alert_audience(analyst: Any, olga: Any, boss: Any) -> None:
    def arrange() -> None:
        rule = AlertRuleFactory(
            owner=analyst, name="Kestrel chatter", metric=AlertRule.Metric.VOLUME
        )
        alert = AlertFactory(
            rule=rule,
            subject_kind="entity",
            subject_key="1",
            subject_label="Kestrel Airlines",
            metric="volume",
            value=12,
            baseline=3,
            window_start=timezone.now(),
            window_end=timezone.now(),
            reason="12 texts in 6 h, usually 3",
        )
        realtime.alert_broadcast(alert_id=alert.pk)

    sockets = {user.username: _socket(user) for user in (analyst, olga, boss)}
    for communicator in sockets.values():
        await communicator.connect()

    await database_sync_to_async(arrange)()
    owner_heard = (await _next(sockets["ann"], "alert"))["alert"]
    staff_heard = (await _next(sockets["boss"], "alert"))["alert"]
    olga_heard = await sockets["olga"].receive_nothing(timeout=0.5)
    staff_again = await sockets["boss"].receive_nothing(timeout=0.2)
    for communicator in sockets.values():
        await communicator.disconnect()

    assert owner_heard["subject"] == staff_heard["subject"] == "Kestrel Airlines"
    assert olga_heard  # another analyst hears nothing of it
    assert staff_again  # staff hear it once, not once per group


def test_anonymous_users_and_other_roles_are_refused(analyst):  # type: ignore[no-untyped-def]
    agent = user_create(username="sam", password="pw-sam-123", roles=[Role.SUPPORT_AGENT.value])
    async_to_sync(_refused)(agent)


async def _refused(agent: Any) -> None:
    anonymous = await _socket(AnonymousUser()).connect()
    other = await _socket(agent).connect()

    assert anonymous == (False, 4403)
    assert other == (False, 4403)


def test_the_event_goes_out_after_commit_only(scorer, monkeypatch):  # type: ignore[no-untyped-def]
    sent: list[dict[str, Any]] = []
    monkeypatch.setattr(realtime, "_send", sent.append)

    with transaction.atomic():
        _ingest_and_score(["Acme beats estimates"])
        before_commit = list(sent)

    assert before_commit == []
    assert [d["text"] for e in sent if e["type"] == "documents" for d in e["documents"]] == [
        "Acme beats estimates"
    ]


def test_a_failed_broadcast_never_fails_scoring(scorer, monkeypatch, caplog):  # type: ignore[no-untyped-def]
    def broken(payload: dict[str, Any]) -> None:
        raise ConnectionError("redis is down")

    monkeypatch.setattr(realtime, "_send", broken)

    ids = _ingest_and_score(["Acme beats estimates", "Acme shares plunge"])

    assert set(Document.objects.filter(pk__in=ids).values_list("status", flat=True)) == {"scored"}
    assert "could not broadcast" in caplog.text
