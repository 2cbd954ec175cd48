"""Scoring: claim pending documents, run the model, store scores and entity tags, add them to
the aggregates; and the sweeper that queues again what a dead worker left."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

import numpy as np
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from apps.mlops.runtime import inference_timer, rows_batched
from apps.mlops.services import model_load_versioned
from mlcore.text import sentences_split

from .. import realtime, recovery, selectors
from ..company_text import company_units
from ..models import Document, DocumentEntity, Score, Source
from ..text import LONG_TEXT_CHARS, EntityMatch, entities_match, topics_tag
from ..topic_model import topics_model_tag
from ..training import MODEL_NAME
from . import ingest
from .aggregates import AggregateTotals, aggregates_add, contribution_add

log = logging.getLogger(__name__)
# Sentences counted in one body (only the first settings.SENTIMENT_MAX_SENTENCES are scored).
ALL_SENTENCES = 100_000
# A document claimed this many times without finishing is marked failed (a scoring claim older
# than settings.SENTIMENT_SCORE_STALE_AFTER_S was left by a worker that died).
MAX_SCORE_ATTEMPTS = 3


class Scorer(Protocol):
    labels: list[str]

    def predict_proba(self, texts: Sequence[str]) -> Any: ...


def scorer_get() -> tuple[Scorer, str]:
    """The production sentiment model and its version label."""
    # The version of the very object returned: after a promotion, each score names its model.
    model, version = model_load_versioned(MODEL_NAME)
    return model, f"v{version}" if version else "unknown"


def _units(doc: Document) -> tuple[list[tuple[str, float]], int]:
    """(text, weight) pieces scored for a document: the whole text when short, else the
    headline (weighted double) and the body's first SENTIMENT_MAX_SENTENCES sentences; and how
    many sentences of the body were left unscored."""
    whole = doc.text
    if len(whole) <= LONG_TEXT_CHARS:
        return [(whole, 1.0)], 0
    cap = settings.SENTIMENT_MAX_SENTENCES
    body = sentences_split(doc.body, limit=ALL_SENTENCES)
    units = [(doc.title, 2.0)] if doc.title else []
    units += [(s, 1.0) for s in body[:cap]]
    return units or [(whole[:2000], 1.0)], max(0, len(body) - cap)


def probabilities_combine(
    probs: np.ndarray, weights: Sequence[float], labels: Sequence[str]
) -> np.ndarray:
    """One document's probabilities from its sentences': polar sentences weigh more than
    neutral filler, so one strongly negative sentence is not averaged away by boilerplate."""
    neutral = labels.index("neutral") if "neutral" in labels else None
    w = np.asarray(weights, dtype=np.float64)
    if neutral is not None:
        w = w * (0.25 + (1.0 - probs[:, neutral]))
    combined = (probs * w[:, None]).sum(axis=0) / max(w.sum(), 1e-9)
    result: np.ndarray = combined / combined.sum()
    return result


@dataclass
class _Analysis:
    """One document's model output and tags, worked out before anything is written.

    `probs` holds the rows of `pieces` (the document's own units) and then those of `extra`,
    the passages of its companies when it names several; `companies` maps a company to the
    (row in `extra`, weight) of its passages."""

    probs: np.ndarray
    pieces: list[tuple[str, float]]
    topics: dict[str, float]
    matches: list[EntityMatch]
    skipped: int = 0
    extra: list[str] = field(default_factory=list)
    companies: dict[int, list[tuple[int, float]]] = field(default_factory=dict)


def _documents_predict(
    scorer: Scorer, units: dict[int, list[tuple[str, float]]], labels: list[str]
) -> tuple[dict[int, np.ndarray], dict[int, Exception]]:
    """The model's probabilities per document; when the batch raises, each document is scored
    alone, so a text the model cannot take fails by itself instead of its whole batch."""

    def predict(doc_ids: list[int]) -> dict[int, np.ndarray]:
        texts = [text for pk in doc_ids for text, _weight in units[pk]]
        with inference_timer(MODEL_NAME, len(texts)) as observed:
            # Small batches of pushed documents scored at once in this process share a pass.
            probs = np.asarray(
                rows_batched(MODEL_NAME, scorer, texts, scorer.predict_proba), dtype=np.float64
            )
            observed.extend((labels[int(r.argmax())], float(r.max())) for r in probs)
        out, start = {}, 0
        for pk in doc_ids:
            out[pk] = probs[start : start + len(units[pk])]
            start += len(units[pk])
        return out

    doc_ids = list(units)
    try:
        return predict(doc_ids), {}
    except SoftTimeLimitExceeded:
        raise
    except Exception as exc:
        if len(doc_ids) == 1:
            return {}, {doc_ids[0]: exc}
        log.warning("scoring a batch of %d failed (%s); scoring each alone", len(doc_ids), exc)
    results: dict[int, np.ndarray] = {}
    errors: dict[int, Exception] = {}
    for pk in doc_ids:
        try:
            results.update(predict([pk]))
        except SoftTimeLimitExceeded:
            raise
        except Exception as exc:
            errors[pk] = exc
    return results, errors


def documents_score(
    *, document_ids: Sequence[int], scorer: Scorer | None = None, version: str = ""
) -> list[int]:
    """Score pending documents in one batch, tag entities and topics, update aggregates.

    Documents are claimed (pending -> scoring) first, so a redelivered task scores nothing twice,
    and only what the claim still holds is stored (recovery.py): a document the sweeper took back
    from this task meanwhile is scored by whichever task holds it now, never twice.
    A document the model or the tagger cannot take is marked failed with its error at once when
    others of the batch scored, or after MAX_SCORE_ATTEMPTS claims when it is alone; until then
    it goes back to pending and the error is raised for the task's retry. Returns the ids scored."""
    if scorer is None:
        # Before the claim: a model that cannot be loaded fails no document.
        scorer, version = scorer_get()
    with transaction.atomic():
        ids, claimed_at = recovery.documents_claim(document_ids=document_ids)
    if not ids:
        return []
    try:
        docs = list(Document.objects.filter(pk__in=ids).order_by("pk"))
        labels = list(scorer.labels)
        watchlist = selectors.watchlist_items()
        analysed: dict[int, _Analysis] = {}
        tagging_errors: dict[int, Exception] = {}
        try:  # the topic model reads the batch at once; keywords are its fallback
            topic_tags = _topics_by_source(docs)
        except Exception:
            log.warning("topic tagging of a batch failed; tagging each alone", exc_info=True)
            topic_tags = {}
        for doc in docs:
            try:
                pieces, skipped = _units(doc)
                matches = list(entities_match(doc.text, watchlist))
                extra, companies = company_units(
                    doc.title, doc.body, matches, watchlist, settings.SENTIMENT_MAX_SENTENCES
                )
                topics = topic_tags[doc.pk] if doc.pk in topic_tags else topics_tag(doc.text)
                analysed[doc.pk] = _Analysis(
                    np.empty(0), pieces, topics, matches, skipped, extra, companies
                )
            except Exception as exc:  # the tagger choked on this text
                tagging_errors[doc.pk] = exc
        units = {
            pk: found.pieces + [(text, 1.0) for text in found.extra]
            for pk, found in analysed.items()
        }
        probs, errors = _documents_predict(scorer, units, labels) if units else ({}, {})
        errors.update(tagging_errors)
        for pk in list(analysed):
            if pk in errors:
                del analysed[pk]
            else:
                analysed[pk].probs = probs[pk]
    except Exception:
        recovery.documents_release(document_ids=ids, claimed_at=claimed_at)
        raise
    attempts = {doc.pk: doc.score_attempts for doc in docs}
    give_up = {pk for pk in errors if analysed or attempts[pk] >= MAX_SCORE_ATTEMPTS}
    retry = [pk for pk in errors if pk not in give_up]
    for pk in sorted(give_up):
        log.error("document %s cannot be scored, marked failed: %r", pk, errors[pk])
    try:
        with transaction.atomic():
            held = recovery.documents_claim_held(document_ids=ids, claimed_at=claimed_at)
            if lost := set(ids) - held:
                log.warning("claim on documents %s was taken back; not storing them", sorted(lost))
            give_up &= held
            retry = [pk for pk in retry if pk in held]
            scored, totals = _scores_store(
                [doc for doc in docs if doc.pk in analysed and doc.pk in held],
                analysed,
                labels,
                version,
            )
            # One update per (subject, hour) for the whole batch, in a fixed order: concurrent
            # batches then lock shared aggregate rows in the same order and cannot deadlock.
            aggregates_add(totals=totals)
            Document.objects.filter(pk__in=scored).update(
                status=Document.Status.SCORED, scoring_since=None, score_error=""
            )
            for pk in give_up:
                Document.objects.filter(pk=pk).update(
                    status=Document.Status.FAILED,
                    scoring_since=None,
                    score_error=f"{type(errors[pk]).__name__}: {errors[pk]}"[:2000],
                )
            if scored:
                # Imported here: the tasks module imports this package (a cycle).
                from ..tasks import alerts_evaluate_task

                transaction.on_commit(lambda: alerts_evaluate_task.delay())
                # Robust: a failed broadcast is logged; the scoring stands.
                transaction.on_commit(
                    lambda: realtime.documents_broadcast(document_ids=scored), robust=True
                )
    except Exception:
        # Back to the queue, so the task's retry (or the rescue sweep) scores them again.
        recovery.documents_release(document_ids=ids, claimed_at=claimed_at)
        raise
    if retry:
        recovery.documents_release(document_ids=retry, claimed_at=claimed_at)
        raise errors[retry[0]]
    return scored


def _topics_by_source(docs: list[Document]) -> dict[int, dict[str, float]]:
    """Document id -> topics, each text tagged with its source's embedding model."""
    models = dict(
        Source.objects.filter(pk__in={doc.source_id for doc in docs}).values_list(
            "pk", "embedding_model"
        )
    )
    out: dict[int, dict[str, float]] = {}
    for model in sorted(set(models.values())):
        group = [doc for doc in docs if models.get(doc.source_id) == model]
        tagged = topics_model_tag([doc.text for doc in group], embedding_model=model)
        out.update({doc.pk: found for doc, found in zip(group, tagged, strict=True)})
    return out


def _scores_store(
    docs: list[Document], analysed: dict[int, _Analysis], labels: list[str], version: str
) -> tuple[list[int], AggregateTotals]:
    """Write each document's score and entity tags; returns the ids and the aggregate counts
    per (subject kind, key, hour) to add."""
    scored: list[int] = []
    totals: AggregateTotals = {}
    for doc in docs:
        found = analysed[doc.pk]
        probs = found.probs[: len(found.pieces)]
        combined = probabilities_combine(probs, [w for _text, w in found.pieces], labels)
        p = {label: float(combined[k]) for k, label in enumerate(labels)}
        label = labels[int(combined.argmax())]
        details = (
            [
                {
                    "text": text[:500],
                    "label": labels[int(probs[i].argmax())],
                    "scores": {lb: round(float(probs[i][k]), 4) for k, lb in enumerate(labels)},
                }
                for i, (text, _weight) in enumerate(found.pieces)
            ]
            if len(found.pieces) > 1
            else []
        )
        topics = found.topics
        matches = found.matches
        Score.objects.create(
            document=doc,
            label=label,
            positive=p.get("positive", 0.0),
            neutral=p.get("neutral", 0.0),
            negative=p.get("negative", 0.0),
            value=p.get("positive", 0.0) - p.get("negative", 0.0),
            model_version=version,
            sentences=details,
            sentences_skipped=found.skipped,
            topics=topics,
        )
        companies = {m.entity_id: _company_score(found, m.entity_id, p, labels) for m in matches}
        DocumentEntity.objects.bulk_create(
            [
                DocumentEntity(
                    document=doc,
                    entity_id=m.entity_id,
                    mentions=m.mentions,
                    matched=m.matched,
                    **companies[m.entity_id],
                )
                for m in matches
            ],
            ignore_conflicts=True,
        )
        contribution_add(
            totals,
            published_at=doc.published_at,
            label=label,
            value=p.get("positive", 0.0) - p.get("negative", 0.0),
            entity_ids=[m.entity_id for m in matches],
            topic_keys=list(topics),
            entity_scores={pk: (c["label"], c["value"]) for pk, c in companies.items()},
        )
        scored.append(doc.pk)
    return scored, totals


def _company_score(
    found: _Analysis, entity_id: int, document: dict[str, float], labels: list[str]
) -> dict[str, Any]:
    """A company's score fields: from its passages when the document names several companies,
    else (one company, or none of its passages found) the document's own score."""
    rows = found.companies.get(entity_id)
    if rows:
        offset = len(found.pieces)
        probs = found.probs[[offset + i for i, _w in rows]]
        combined = probabilities_combine(probs, [w for _i, w in rows], labels)
        p = {label: float(combined[k]) for k, label in enumerate(labels)}
        passages = [
            {
                "text": found.extra[i][:500],
                "label": labels[int(found.probs[offset + i].argmax())],
            }
            for i, _w in rows
        ]
    else:
        p, passages = document, []
    label = max(p, key=lambda name: p[name])
    return {
        "label": label,
        "positive": p.get("positive", 0.0),
        "neutral": p.get("neutral", 0.0),
        "negative": p.get("negative", 0.0),
        "value": p.get("positive", 0.0) - p.get("negative", 0.0),
        "passages": passages,
    }


def documents_rescue(*, older_than_s: int | None = None, now: datetime | None = None) -> int:
    """The sweeper: queue again what a dead worker left claimed and what never reached the queue.

    A claim older than `older_than_s` (SENTIMENT_SCORE_STALE_AFTER_S, past the scoring task's
    time limit) was left by a worker that died; such documents are queued one per task, so a
    text that kills its worker takes no batch-mates down with it, and after MAX_SCORE_ATTEMPTS
    claims it is marked failed.
    A pending document is queued again only when it was last queued that long ago (its enqueue
    was lost), so a backed-up queue is not flooded with copies. Returns how many it handled."""
    now = now or timezone.now()
    if older_than_s is None:
        older_than_s = settings.SENTIMENT_SCORE_STALE_AFTER_S
    cut = now - timedelta(seconds=older_than_s)
    stale = Q(scoring_since__lt=cut) | Q(scoring_since__isnull=True, ingested_at__lt=cut)
    stuck = Document.objects.filter(stale, status=Document.Status.SCORING)
    dead = list(
        stuck.filter(score_attempts__gte=MAX_SCORE_ATTEMPTS).values_list("pk", flat=True)[:5000]
    )
    Document.objects.filter(stale, pk__in=dead, status=Document.Status.SCORING).update(
        status=Document.Status.FAILED,
        scoring_since=None,
        score_error=f"scoring did not finish in {MAX_SCORE_ATTEMPTS} attempts "
        "(the worker died or ran out of time)",
    )
    revived = list(
        stuck.filter(score_attempts__lt=MAX_SCORE_ATTEMPTS).values_list("pk", flat=True)[:5000]
    )
    Document.objects.filter(stale, pk__in=revived, status=Document.Status.SCORING).update(
        status=Document.Status.PENDING, scoring_since=None, queued_at=now
    )
    lost = list(
        Document.objects.filter(
            Q(queued_at__lt=cut) | Q(queued_at__isnull=True, ingested_at__lt=cut),
            status=Document.Status.PENDING,
        )
        .exclude(pk__in=revived)
        .values_list("pk", flat=True)[:5000]
    )
    Document.objects.filter(pk__in=lost).update(queued_at=now)
    for pk in revived:
        ingest.documents_score_enqueue(document_ids=[pk])
    if lost:
        ingest.documents_score_enqueue(document_ids=lost)
    if dead:
        log.error("documents %s failed: their scoring never finished", dead)
    return len(dead) + len(revived) + len(lost)
