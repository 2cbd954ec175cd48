"""Reads: the watchlist, documents with scores, trend series, alerts."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Exists, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from .models import (
    Aggregate,
    Alert,
    AlertRule,
    Document,
    DocumentEntity,
    Entity,
    Source,
    TopicCorrection,
    Unsubscribe,
)
from .text import TOPICS, WatchItem, topic_label


def watchlist_items() -> list[WatchItem]:
    return [
        WatchItem(e.id, e.name, e.ticker, tuple(e.aliases or ()), e.ticker_needs_context)
        for e in Entity.objects.filter(active=True)
    ]


def hour_floor(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class WindowStat:
    start: datetime
    end: datetime
    n: int
    n_positive: int
    n_neutral: int
    n_negative: int
    score_sum: float

    @property
    def negative_share(self) -> float:
        return self.n_negative / self.n if self.n else 0.0

    @property
    def mean_score(self) -> float:
        return self.score_sum / self.n if self.n else 0.0

    def metric(self, name: str) -> float:
        if name == AlertRule.Metric.VOLUME:
            return float(self.n)
        if name == AlertRule.Metric.MEAN_SCORE_DROP:
            return self.mean_score
        return self.negative_share


def window_series(
    *, subject_kind: str, subject_key: str, end: datetime, window_hours: int, count: int
) -> list[WindowStat]:
    """`count` consecutive windows of `window_hours` ending at `end` (oldest first)."""
    start = end - timedelta(hours=window_hours * count)
    sums = [[0, 0, 0, 0, 0.0] for _ in range(count)]
    rows = Aggregate.objects.filter(
        subject_kind=subject_kind,
        subject_key=subject_key,
        bucket_start__gte=start,
        bucket_start__lt=end,
    ).values_list("bucket_start", "n", "n_positive", "n_neutral", "n_negative", "score_sum")
    for bucket, n, pos, neu, neg, score in rows:
        i = int((bucket - start).total_seconds() // (window_hours * 3600))
        if 0 <= i < count:
            acc = sums[i]
            acc[0] += n
            acc[1] += pos
            acc[2] += neu
            acc[3] += neg
            acc[4] += score
    width = timedelta(hours=window_hours)
    return [
        WindowStat(
            start + width * i,
            start + width * (i + 1),
            int(a[0]),
            int(a[1]),
            int(a[2]),
            int(a[3]),
            float(a[4]),
        )
        for i, a in enumerate(sums)
    ]


def subject_label(subject_kind: str, subject_key: str) -> str:
    if subject_kind == Aggregate.SubjectKind.ENTITY:
        entity = (
            Entity.objects.filter(pk=int(subject_key)).first() if subject_key.isdigit() else None
        )
        return str(entity) if entity else f"entity {subject_key}"
    if subject_kind == Aggregate.SubjectKind.TOPIC:
        return topic_label(subject_key)
    return "All documents"


def subject_documents(subject_kind: str, subject_key: str) -> QuerySet[Document]:
    docs = Document.objects.all()
    if subject_kind == Aggregate.SubjectKind.ENTITY:
        return docs.filter(documententity__entity_id=int(subject_key))
    if subject_kind == Aggregate.SubjectKind.TOPIC:
        return docs.filter(score__topics__has_key=subject_key)
    return docs


def documents_by_negativity(
    docs: QuerySet[Document], subject_kind: str, subject_key: str
) -> QuerySet[Document]:
    """`docs` most negative first, each annotated with `negativity`: for a company, how negative
    the text is about that company (its own score), else the text's negative probability."""
    if subject_kind == Aggregate.SubjectKind.ENTITY and subject_key.isdigit():
        own = DocumentEntity.objects.filter(document=OuterRef("pk"), entity_id=int(subject_key))
        docs = docs.annotate(
            negativity=Coalesce(Subquery(own.values("negative")[:1]), F("score__negative"))
        )
    else:
        docs = docs.annotate(negativity=F("score__negative"))
    return docs.order_by("-negativity", "-published_at")


def alert_documents(alert: Alert) -> QuerySet[Document]:
    """The texts that drove an alert, most negative about its subject first."""
    docs = alert.documents.select_related("score")
    return documents_by_negativity(docs, alert.subject_kind, alert.subject_key)


def rule_subjects(rule: AlertRule) -> list[tuple[str, str]]:
    """(kind, key) pairs a rule watches; no entities and no topics means the whole watchlist."""
    subjects = [
        (Aggregate.SubjectKind.ENTITY.value, str(pk))
        for pk in rule.entities.filter(active=True).values_list("pk", flat=True)
    ]
    subjects += [(Aggregate.SubjectKind.TOPIC.value, key) for key in rule.topics or []]
    if not subjects and not rule.entities.exists():
        subjects = [
            (Aggregate.SubjectKind.ENTITY.value, str(pk))
            for pk in Entity.objects.filter(active=True).values_list("pk", flat=True)
        ]
    return subjects


def rules_widened_by_deleting(entity_ids: Iterable[int]) -> list[AlertRule]:
    """Rules that watch only these companies and no topic: deleting them all would leave the
    rule with no companies, which means the whole watchlist."""
    doomed = set(entity_ids)
    return [
        rule
        for rule in AlertRule.objects.filter(entities__in=doomed)
        .distinct()
        .select_related("owner")
        .prefetch_related("entities")
        if not rule.topics and {e.pk for e in rule.entities.all()} <= doomed
    ]


def document_feed(
    *,
    entity_id: int | None = None,
    topic: str = "",
    label: str = "",
    source_id: int | None = None,
    query: str = "",
    since_id: int | None = None,
    published_after: datetime | None = None,
    published_before: datetime | None = None,
    scored_only: bool = True,
) -> QuerySet[Document]:
    """Newest documents first with their score, entities and source, filtered."""
    docs = Document.objects.select_related("source", "score").prefetch_related(
        "entities", "documententity_set__entity"
    )
    if scored_only:
        docs = docs.filter(status=Document.Status.SCORED)
    # 0 is an id like any other (no company has it): no texts, as for a company not listed.
    if entity_id is not None and label:
        # The company's own label (its passages), in one filter so both name the same row;
        # rows tagged before per-company scores carry the document's.
        docs = docs.filter(
            Q(documententity__label=label) | Q(documententity__label="", score__label=label),
            documententity__entity_id=entity_id,
        )
    elif entity_id is not None:
        docs = docs.filter(documententity__entity_id=entity_id)
    elif label:
        docs = docs.filter(score__label=label)
    if topic:
        docs = docs.filter(score__topics__has_key=topic)
    if source_id is not None:
        docs = docs.filter(source_id=source_id)
    if query:
        docs = docs.filter(Q(title__icontains=query) | Q(body__icontains=query))
    if since_id:
        docs = docs.filter(pk__gt=since_id)
    if published_after:
        docs = docs.filter(published_at__gte=published_after)
    if published_before:
        docs = docs.filter(published_at__lt=published_before)
    return docs.order_by("-published_at", "-id")


def trend_series(
    *,
    subject_kind: str,
    subject_key: str,
    days: int = 14,
    bucket_hours: int = 6,
    now: datetime | None = None,
    min_count: int | None = None,
) -> dict[str, Any]:
    """Chart data: labels, volume per class, negative share and mean score per bucket.

    Buckets are aligned in UTC to multiples of `bucket_hours` (6 h: 00, 06, 12, 18 UTC), so a
    bucket means the same hours whenever it is asked for; the last one holds now. The share and
    mean of a bucket with fewer than `min_count` texts (SENTIMENT_CHART_MIN_COUNT) are None: a
    gap in the line, never 0%."""
    moment = now or timezone.now()
    floor = settings.SENTIMENT_CHART_MIN_COUNT if min_count is None else max(1, min_count)
    hours = int(moment.timestamp() // 3600)
    end = datetime.fromtimestamp((hours - hours % bucket_hours + bucket_hours) * 3600, tz=UTC)
    count = max(1, days * 24 // bucket_hours)
    series = window_series(
        subject_kind=subject_kind,
        subject_key=subject_key,
        end=end,
        window_hours=bucket_hours,
        count=count,
    )
    return {
        "subject_kind": subject_kind,
        "subject_key": subject_key,
        "label": subject_label(subject_kind, subject_key),
        "bucket_hours": bucket_hours,
        "buckets": [w.start.isoformat() for w in series],
        "volume": [w.n for w in series],
        "positive": [w.n_positive for w in series],
        "neutral": [w.n_neutral for w in series],
        "negative": [w.n_negative for w in series],
        "negative_share": [round(w.negative_share, 4) if w.n >= floor else None for w in series],
        "mean_score": [round(w.mean_score, 4) if w.n >= floor else None for w in series],
        "min_count": floor,
    }


def topic_examples() -> tuple[tuple[int, int], list[tuple[str, list[str]]]]:
    """The analysts' topic corrections as classifier examples, the latest per text: (a key that
    changes whenever a correction is added or removed, [(text, topics)])."""
    # The latest per document, picked here rather than by DISTINCT ON, which SQLite (the
    # embedded profile's database) refuses: there the topic model failed every batch.
    rows = TopicCorrection.objects.order_by("document_id", "-created_at", "-id").values_list(
        "document_id", "text", "topics"
    )
    latest: dict[int, tuple[str, list[str]]] = {}
    for document_id, text, topics in rows:
        latest.setdefault(document_id, (text, list(topics or [])))
    examples = list(latest.values())
    newest = TopicCorrection.objects.order_by("-id").values_list("id", flat=True).first() or 0
    return (len(examples), newest), examples


def subject_choices() -> list[tuple[str, str, str]]:
    """(kind, key, label) of every entity and topic, for the chart picker."""
    choices = [(Aggregate.SubjectKind.ALL.value, "all", "All documents")]
    choices += [
        (Aggregate.SubjectKind.ENTITY.value, str(e.pk), str(e))
        for e in Entity.objects.filter(active=True)
    ]
    choices += [
        (Aggregate.SubjectKind.TOPIC.value, key, label) for key, (label, _words) in TOPICS.items()
    ]
    return choices


def alerts_all_visible(user: Any) -> bool:
    """Staff and superusers see and handle every alert; an analyst, those of their own rules."""
    return bool(getattr(user, "is_staff", False) or getattr(user, "is_superuser", False))


def alert_list(*, user: Any, status: str = "") -> QuerySet[Alert]:
    """The alerts `user` may see and acknowledge or resolve (see alerts_all_visible)."""
    alerts = Alert.objects.select_related("rule", "rule__owner")
    if not alerts_all_visible(user):
        alerts = alerts.filter(rule__owner_id=getattr(user, "pk", None))
    if status:
        alerts = alerts.filter(status=status)
    return alerts


def source_list() -> QuerySet[Source]:
    return Source.objects.all()


def user_unsubscribed(*, user_id: int, rule_id: int) -> bool:
    return Unsubscribe.objects.filter(Q(rule_id=rule_id) | Q(rule=None), user_id=user_id).exists()


def user_unsubscribed_all(*, user_id: int) -> bool:
    """The user took the digest's link: no email from any rule."""
    return Unsubscribe.objects.filter(user_id=user_id, rule=None).exists()


def rule_list(*, owner_id: int) -> QuerySet[AlertRule]:
    """A user's rules, each with `emails_unsubscribed` (its emails are off, for this rule or
    for every rule)."""
    unsubscribed = Unsubscribe.objects.filter(
        Q(rule_id=OuterRef("pk")) | Q(rule=None), user_id=OuterRef("owner_id")
    )
    return (
        AlertRule.objects.filter(owner_id=owner_id)
        .annotate(emails_unsubscribed=Exists(unsubscribed))
        .prefetch_related("entities")
    )
