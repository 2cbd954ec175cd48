"""Rows of the sentiment app for tests that need them as they stand, not as a service makes
them: sources, documents with scores, watchlist companies, trend buckets, rules and alerts."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import factory
from django.utils import timezone

from apps.sentiment.models import (
    Aggregate,
    Alert,
    AlertRule,
    Document,
    Entity,
    Score,
    Source,
    Unsubscribe,
)
from mlcore.text import content_hash
from tests.accounts.factories import AnalystFactory


class SourceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Source

    name = factory.Sequence(lambda n: f"Wire {n}")
    kind = Source.Kind.API


class DocumentFactory(factory.django.DjangoModelFactory):
    """A stored text; its content hash is the one ingest would give it."""

    class Meta:
        model = Document

    source = factory.SubFactory(SourceFactory)
    title = factory.Sequence(lambda n: f"Kestrel Airlines news {n}")
    body = ""
    published_at = factory.LazyFunction(timezone.now)
    content_hash = factory.LazyAttribute(lambda d: content_hash(d.title, d.body, normalised=True))


class ScoreFactory(factory.django.DjangoModelFactory):
    """A negative reading by model "v1" (of a document marked scored)."""

    class Meta:
        model = Score

    document = factory.SubFactory(DocumentFactory, status=Document.Status.SCORED)
    label = "negative"
    positive = 0.1
    neutral = 0.1
    negative = 0.8
    value = factory.LazyAttribute(lambda s: round(s.positive - s.negative, 6))
    model_version = "v1"


class EntityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Entity

    name = factory.Sequence(lambda n: f"Company {n}")


class AggregateFactory(factory.django.DjangoModelFactory):
    """One hour's counts for every document (subject "all") unless told otherwise."""

    class Meta:
        model = Aggregate

    subject_kind = Aggregate.SubjectKind.ALL
    subject_key = "all"
    bucket_start = factory.LazyFunction(
        lambda: timezone.now().replace(minute=0, second=0, microsecond=0)
    )


class AlertRuleFactory(factory.django.DjangoModelFactory):
    """A rule of an analyst (the model's defaults: negative share, spike mode, immediate email);
    `entities=[...]` sets the companies it watches."""

    class Meta:
        model = AlertRule

    owner = factory.SubFactory(AnalystFactory)
    name = factory.Sequence(lambda n: f"Rule {n}")

    @factory.post_generation
    def entities(self, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create and extracted:
            self.entities.set(extracted)


class AlertFactory(factory.django.DjangoModelFactory):
    """An open alert on a spike of negative texts in the last six hours."""

    class Meta:
        model = Alert

    rule = factory.SubFactory(AlertRuleFactory)
    subject_kind = Aggregate.SubjectKind.ENTITY
    subject_key = "1"
    subject_label = "Kestrel Airlines"
    metric = AlertRule.Metric.NEGATIVE_SHARE
    value = 0.8
    baseline = 0.1
    window_end = factory.LazyFunction(timezone.now)
    window_start = factory.LazyAttribute(lambda a: a.window_end - timedelta(hours=6))
    reason = "spike"


class UnsubscribeFactory(factory.django.DjangoModelFactory):
    """The user asked for no more email from `rule` (None: from every rule)."""

    class Meta:
        model = Unsubscribe

    user = factory.SubFactory(AnalystFactory)
    rule = None


def volume_alert(
    rule: AlertRule, key: str, minutes_ago: int, status: str = "open", reason: str = ""
) -> Alert:
    """An alert of `rule` on the volume of texts about company `key` (12 in 6 h, usually 3),
    raised `minutes_ago` minutes ago: distinct times make "newest first" unambiguous."""
    alert = AlertFactory(
        rule=rule,
        subject_kind="entity",
        subject_key=key,
        subject_label=f"Company {key}",
        metric="volume",
        value=12,
        baseline=3,
        window_start="2025-06-10T00:00Z",
        window_end="2025-06-10T06:00Z",
        reason=reason or f"{key}: 12 texts in 6 h, usually 3",
        status=status,
        episode_open=status != "resolved",
    )
    # created_at is auto_now_add: set afterwards
    Alert.objects.filter(pk=alert.pk).update(
        created_at=timezone.now() - timedelta(minutes=minutes_ago)
    )
    alert.refresh_from_db()
    return alert
