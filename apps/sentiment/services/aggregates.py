"""Hourly aggregates: what one scored document adds to (or takes out of) the counts per
(subject kind, subject key, hour), and the race-safe writes of those counts."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Greatest

from .. import selectors
from ..models import Aggregate, DocumentEntity, Score

log = logging.getLogger(__name__)
# Counts per (subject kind, subject key, hour) that a batch adds to (or takes from) Aggregate.
AggregateTotals = dict[tuple[str, str, datetime], dict[str, float]]


def contribution_add(
    totals: AggregateTotals,
    *,
    published_at: datetime,
    label: str,
    value: float,
    entity_ids: Sequence[int],
    topic_keys: Sequence[str],
    entity_scores: Mapping[int, tuple[str, float]] | None = None,
) -> None:
    """Add one scored document's counts to `totals`: one in its hour for everything, for each
    company tagged and for each topic. The one definition of a document's contribution, used
    both to add it (scoring) and to take it out again (rescoring, deletion).

    A company counts with its own (label, value) from `entity_scores` when it has one (a text
    naming several companies: "A beats estimates, while rival B slumps" is positive for A and
    negative for B), else with the document's."""
    own = entity_scores or {}
    subjects = [(Aggregate.SubjectKind.ALL.value, "all", label, value)]
    subjects += [
        (Aggregate.SubjectKind.ENTITY.value, str(pk), *own.get(pk, (label, value)))
        for pk in entity_ids
    ]
    subjects += [(Aggregate.SubjectKind.TOPIC.value, key, label, value) for key in topic_keys]
    bucket = selectors.hour_floor(published_at)
    for kind, key, label, value in subjects:
        counts = totals.setdefault(
            (kind, key, bucket),
            {"n": 0, "score_sum": 0.0, "n_positive": 0, "n_neutral": 0, "n_negative": 0},
        )
        counts["n"] += 1
        counts["score_sum"] += value
        counts[f"n_{label}"] += 1


def documents_contribution(document_ids: Sequence[int]) -> AggregateTotals:
    """What the stored scores and entity tags of these documents added to the aggregates
    (documents without a score added nothing)."""
    totals: AggregateTotals = {}
    ids = list(document_ids)
    tagged: dict[int, list[int]] = {}
    own: dict[int, dict[int, tuple[str, float]]] = {}
    for doc_id, entity_id, entity_label, entity_value in (
        DocumentEntity.objects.filter(document_id__in=ids)
        .order_by("document_id", "entity_id")
        .values_list("document_id", "entity_id", "label", "value")
    ):
        tagged.setdefault(doc_id, []).append(entity_id)
        if entity_label and entity_value is not None:  # tagged before per-company scores: none
            own.setdefault(doc_id, {})[entity_id] = (entity_label, entity_value)
    scores = Score.objects.filter(document_id__in=ids).values_list(
        "document_id", "document__published_at", "label", "value", "topics"
    )
    for doc_id, published_at, label, value, topics in scores:
        contribution_add(
            totals,
            published_at=published_at,
            label=label,
            value=value,
            entity_ids=tagged.get(doc_id, []),
            topic_keys=list(topics or {}),
            entity_scores=own.get(doc_id),
        )
    return totals


def aggregates_add(*, totals: AggregateTotals) -> None:
    """Add counts into the hourly buckets of (subject kind, key, hour), race-safe, in key order."""
    for (kind, key, bucket), counts in sorted(totals.items()):
        increments = {field: F(field) + amount for field, amount in counts.items() if amount}
        lookup = {"subject_kind": kind, "subject_key": key, "bucket_start": bucket}
        if not Aggregate.objects.filter(**lookup).update(**increments):
            try:
                with transaction.atomic():
                    Aggregate.objects.create(**lookup)
            except IntegrityError:
                pass  # created concurrently; the update below counts us in
            Aggregate.objects.filter(**lookup).update(**increments)


def aggregates_subtract(*, totals: AggregateTotals) -> None:
    """Take counts out of the hourly buckets again, in the same key order as `aggregates_add`
    (so it cannot deadlock with a scoring batch). A bucket left with no documents is removed,
    as if it had never been counted. Counts never go below zero: a bucket that holds less than
    what is taken out (edited by hand) is logged and floored at zero."""
    int_fields = ("n", "n_positive", "n_neutral", "n_negative")
    for (kind, key, bucket), counts in sorted(totals.items()):
        lookup = {"subject_kind": kind, "subject_key": key, "bucket_start": bucket}
        rows = Aggregate.objects.filter(**lookup)
        short = Q()
        for name in int_fields:
            if counts.get(name):
                short |= Q(**{f"{name}__lt": counts[name]})
        if not rows.exists() or (short and rows.filter(short).exists()):
            log.warning("aggregate %s:%s @ %s holds less than is taken out", kind, key, bucket)
        decrements: dict[str, Any] = {
            name: Greatest(F(name) - counts[name], Value(0))
            for name in int_fields
            if counts.get(name)
        }
        if counts.get("score_sum"):
            decrements["score_sum"] = F("score_sum") - counts["score_sum"]
        if decrements:
            rows.update(**decrements)
        rows.filter(n=0).delete()
