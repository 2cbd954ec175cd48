"""Writes and side effects: ingestion, polling, scoring, aggregates, alerts and their email."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.mime.image import MIMEImage
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import numpy as np
from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet, Value
from django.db.models.functions import Greatest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from mlcore.text import content_hash, sentences_split

from . import delivery, realtime, recovery, selectors
from .feeds import FeedError, feed_fetch, feed_parse
from .models import (
    Aggregate,
    Alert,
    AlertRule,
    Correction,
    Document,
    DocumentEntity,
    EmailDelivery,
    Entity,
    Score,
    Source,
    Unsubscribe,
)
from .schedules import DIGEST_HOUR
from .spikes import MAX_COOLDOWN_HOURS, SpikeCheck, spike_check
from .text import (
    LONG_TEXT_CHARS,
    entities_match,
    language_guess,
    ticker_normalise,
    topics_tag,
)
from .training import MODEL_NAME
from .uploads import LABELS, DocumentRow, unstorable_problem

log = logging.getLogger(__name__)
SCORE_BATCH = 64
# Sentences counted in one body (only the first settings.SENTIMENT_MAX_SENTENCES are scored).
ALL_SENTENCES = 100_000
MAX_BACKOFF_S = 24 * 3600
POLL_CLAIM_S = 600
LOOKBACK_WINDOWS = 28
UNSUBSCRIBE_SALT = "sentiment-unsubscribe"
# A send claim older than this was left by a worker that died; another worker takes it over.
# The send task's time limit and the SMTP timeout keep a live send well inside it.
SEND_CLAIM_S = 600
SEND_TIMEOUT_S = 60
# Counts per (subject kind, subject key, hour) that a batch adds to (or takes from) Aggregate.
AggregateTotals = dict[tuple[str, str, datetime], dict[str, float]]
# Rescoring and deleting work in batches this size, each in its own short transaction.
DOCUMENT_WRITE_BATCH = 500
# A document claimed this many times without finishing is marked failed (a scoring claim older
# than settings.SENTIMENT_SCORE_STALE_AFTER_S was left by a worker that died).
MAX_SCORE_ATTEMPTS = 3
# The email sweep gives up on an immediate alert this old: by then it is news no more.
ALERT_SEND_MAX_AGE = timedelta(days=2)


# -- ingestion -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class IngestResult:
    created_ids: list[int]
    duplicates: int
    errors: list[dict[str, Any]] = field(default_factory=list)

    @property
    def created(self) -> int:
        return len(self.created_ids)


class SourceNameTaken(ValueError):
    """A push or upload named a feed's source (or a feed named a pushed one)."""


FEED_KINDS = (Source.Kind.RSS.value, Source.Kind.ATOM.value)


def source_get_or_create(
    *, name: str, kind: str, url: str = "", poll_interval_s: int = 900, language: str = ""
) -> Source:
    """The source called `name`, made with `kind` if new; SourceNameTaken when that name is a
    feed and `kind` is not (or the other way round).

    A feed's documents are its own: deleting the feed deletes them, and its status and counts
    describe what it polled, so pushed or uploaded texts must not be filed into it."""
    source, _ = Source.objects.get_or_create(
        name=name,
        defaults={
            "kind": kind,
            "url": url,
            "poll_interval_s": poll_interval_s,
            "language": language,
        },
    )
    if (source.kind in FEED_KINDS) != (kind in FEED_KINDS):
        raise SourceNameTaken(source_name_taken_message(source))
    return source


def source_name_taken_message(source: Source) -> str:
    if source.kind in FEED_KINDS:
        return (
            f'"{source.name}" is the name of an {source.get_kind_display()}; only the feed '
            "files documents there. Pick another source name."
        )
    return (
        f'"{source.name}" is the name of a {source.get_kind_display()} source. '
        "Pick another name for the feed."
    )


@transaction.atomic
def source_update(
    *,
    source_id: int,
    name: str | None = None,
    kind: str | None = None,
    url: str | None = None,
    language: str | None = None,
    poll_interval_s: int | None = None,
) -> Source:
    """Edit a source (API, admin); None leaves a field as it is.

    A new feed address (or kind) starts afresh: polled within a minute, without the old
    address's ETag / Last-Modified, failure count and backoff, which belong to the old one. A
    shorter poll interval brings the next poll forward; a failing feed keeps its backoff."""
    source = Source.objects.select_for_update().get(pk=source_id)
    changed: list[str] = []
    for field_name, value in (
        ("name", name),
        ("kind", kind),
        ("url", url),
        ("language", language),
        ("poll_interval_s", poll_interval_s),
    ):
        if value is not None and getattr(source, field_name) != value:
            setattr(source, field_name, value)
            changed.append(field_name)
    if "url" in changed or "kind" in changed:
        source.etag = source.last_modified = source.last_error = ""
        source.consecutive_failures = 0
        source.next_poll_at = None  # due now: the next beat (every minute) polls it
        if source.status != Source.Status.PAUSED:
            source.status = Source.Status.NEW
        changed += ["etag", "last_modified", "last_error", "consecutive_failures"]
        changed += ["next_poll_at", "status"]
    elif (
        "poll_interval_s" in changed
        and source.last_polled_at is not None
        and source.status != Source.Status.FAILING
    ):
        sooner = source.last_polled_at + timedelta(seconds=source.poll_interval_s)
        if source.next_poll_at is None or sooner < source.next_poll_at:
            source.next_poll_at = sooner
            changed.append("next_poll_at")
    if changed:
        source.save(update_fields=changed)
    return source


def documents_ingest(
    *,
    source_id: int,
    rows: Sequence[DocumentRow],
    errors: Sequence[Any] = (),
    now: datetime | None = None,
) -> IngestResult:
    """Store new documents and queue them for scoring; known items (same external id in the
    source, same URL or same text) are skipped. Each row is saved on its own, so one bad row
    never loses the good ones."""
    now = now or timezone.now()
    source = Source.objects.get(pk=source_id)
    created: list[int] = []
    duplicates = 0
    line_errors = [{"line": e.line, "error": e.reason} for e in errors]
    for row in rows:
        # Callers check this already (the API, uploads; feeds drop such characters); a row
        # that still holds one is reported instead of failing the whole ingest.
        if problem := _row_unstorable(row):
            line_errors.append({"line": row.line, "error": problem})
            continue
        digest = content_hash(row.title, row.body, normalised=True)
        known = Q(content_hash=digest)
        if row.external_id:
            known |= Q(source_id=source_id, external_id=row.external_id)
        if row.url:
            known |= Q(url=row.url)
        if Document.objects.filter(known).exists():
            duplicates += 1
            continue
        try:
            with transaction.atomic():
                doc = Document.objects.create(
                    source=source,
                    external_id=row.external_id,
                    url=row.url,
                    title=row.title,
                    body=row.body,
                    published_at=min(row.published_at or now, now),
                    language=row.language
                    or language_guess(f"{row.title} {row.body}", source.language),
                    content_hash=digest,
                )
        except IntegrityError:  # a concurrent ingest stored the same item first
            duplicates += 1
            continue
        created.append(doc.pk)
    if created:
        Source.objects.filter(pk=source_id).update(items_total=F("items_total") + len(created))
        documents_score_enqueue(document_ids=created)
    return IngestResult(created, duplicates, line_errors)


def _row_unstorable(row: DocumentRow) -> str:
    for name in ("external_id", "url", "title", "body", "language"):
        if problem := unstorable_problem(name, getattr(row, name)):
            return problem
    return ""


def documents_score_enqueue(*, document_ids: Sequence[int]) -> None:
    from .tasks import documents_score_task

    ids = list(document_ids)
    for start in range(0, len(ids), SCORE_BATCH):
        batch = ids[start : start + SCORE_BATCH]

        def enqueue(b: list[int] = batch) -> None:
            try:
                documents_score_task.delay(b)
            except Exception:
                # The documents are stored: a broker outage must not fail the ingest. They stay
                # pending, and the sweeper (documents_rescue) queues them again.
                log.exception("could not queue %d documents for scoring", len(b))

        transaction.on_commit(enqueue)


# -- polling ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PollResult:
    source_id: int
    status: str
    created: int = 0
    duplicates: int = 0
    not_modified: bool = False
    error: str = ""


def sources_due(*, now: datetime | None = None) -> list[int]:
    now = now or timezone.now()
    return list(
        Source.objects.filter(kind__in=[Source.Kind.RSS, Source.Kind.ATOM])
        .exclude(status=Source.Status.PAUSED)
        .filter(Q(next_poll_at__isnull=True) | Q(next_poll_at__lte=now))
        .values_list("pk", flat=True)
    )


def source_poll(
    *,
    source_id: int,
    now: datetime | None = None,
    fetch: Callable[..., Any] = feed_fetch,
    due_only: bool = False,
) -> PollResult:
    """Fetch one feed (conditional GET), store its new items; failures back off exponentially.

    Claimed with a conditional update so two workers never poll the same source at once.
    `due_only` (the scheduled polls): a source polled since the task was queued, or paused, is
    left alone, so a backlog of queued polls cannot fetch a feed more often than its interval."""
    now = now or timezone.now()
    claim = Source.objects.filter(
        Q(polling_since__isnull=True) | Q(polling_since__lt=now - timedelta(seconds=POLL_CLAIM_S)),
        pk=source_id,
    )
    if due_only:
        claim = claim.exclude(status=Source.Status.PAUSED).filter(
            Q(next_poll_at__isnull=True) | Q(next_poll_at__lte=now)
        )
    if not claim.update(polling_since=now):
        return PollResult(source_id, "not due" if due_only else "busy")
    source = Source.objects.get(pk=source_id)
    try:
        fetched = fetch(source.url, etag=source.etag, last_modified=source.last_modified)
        if fetched.not_modified:
            result = PollResult(source_id, Source.Status.OK, not_modified=True)
        else:
            kind, items = feed_parse(
                fetched.content,
                base_url=fetched.url or source.url,
                content_type=fetched.content_type,
            )
            rows = [
                DocumentRow(
                    i + 1,
                    it.external_id,
                    it.url,
                    it.title,
                    it.body,
                    it.published_at,
                    it.language or source.language,
                )
                for i, it in enumerate(items)
            ]
            ingested = documents_ingest(source_id=source_id, rows=rows, now=now)
            Source.objects.filter(pk=source_id).update(
                etag=fetched.etag[:500], last_modified=fetched.last_modified[:100], kind=kind
            )
            if fetched.moved_to:  # a permanent redirect: poll the new address from now on
                Source.objects.filter(pk=source_id).update(url=fetched.moved_to[:1000])
            result = PollResult(source_id, Source.Status.OK, ingested.created, ingested.duplicates)
        Source.objects.filter(pk=source_id).update(
            status=Source.Status.OK,
            consecutive_failures=0,
            last_error="",
            last_polled_at=now,
            last_success_at=now,
            polling_since=None,
            next_poll_at=now + timedelta(seconds=source.poll_interval_s),
        )
        return result
    except FeedError as exc:
        failures = source.consecutive_failures + 1
        delay = source.poll_interval_s * 2 ** min(failures, 10)
        delay = min(max(delay, exc.retry_after_s or 0), MAX_BACKOFF_S)  # honour Retry-After
        Source.objects.filter(pk=source_id).update(
            status=Source.Status.FAILING,
            consecutive_failures=failures,
            last_error=str(exc)[:2000],
            last_polled_at=now,
            polling_since=None,
            next_poll_at=now + timedelta(seconds=delay),
        )
        log.warning("source %s failed (%d in a row): %s", source.name, failures, exc)
        return PollResult(source_id, Source.Status.FAILING, error=str(exc))
    except Exception:
        Source.objects.filter(pk=source_id).update(polling_since=None)
        raise


# -- scoring ---------------------------------------------------------------------------------------
class Scorer(Protocol):
    labels: list[str]

    def predict_proba(self, texts: Sequence[str]) -> Any: ...


def scorer_get() -> tuple[Scorer, str]:
    """The production sentiment model and its version label."""
    from apps.mlops.services import model_load_versioned

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
    """One document's model output and tags, worked out before anything is written."""

    probs: np.ndarray
    pieces: list[tuple[str, float]]
    topics: dict[str, float]
    matches: list[Any]
    skipped: int = 0


def _documents_predict(
    scorer: Scorer, units: dict[int, list[tuple[str, float]]], labels: list[str]
) -> tuple[dict[int, np.ndarray], dict[int, Exception]]:
    """The model's probabilities per document; when the batch raises, each document is scored
    alone, so a text the model cannot take fails by itself instead of its whole batch."""
    from celery.exceptions import SoftTimeLimitExceeded

    from apps.mlops.runtime import inference_timer

    def predict(doc_ids: list[int]) -> dict[int, np.ndarray]:
        texts = [text for pk in doc_ids for text, _weight in units[pk]]
        with inference_timer(MODEL_NAME, len(texts)) as observed:
            probs = np.asarray(scorer.predict_proba(texts), dtype=np.float64)
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
        split = {doc.pk: _units(doc) for doc in docs}
        units = {pk: pieces for pk, (pieces, _skipped) in split.items()}
        probs, errors = _documents_predict(scorer, units, labels)
        watchlist = selectors.watchlist_items()
        analysed: dict[int, _Analysis] = {}
        for doc in docs:
            if doc.pk in errors:
                continue
            try:
                analysed[doc.pk] = _Analysis(
                    probs[doc.pk],
                    units[doc.pk],
                    topics_tag(doc.text),
                    list(entities_match(doc.text, watchlist)),
                    split[doc.pk][1],
                )
            except Exception as exc:  # the tagger choked on this text
                errors[doc.pk] = exc
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
                from .tasks import alerts_evaluate_task

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


def _scores_store(
    docs: list[Document], analysed: dict[int, _Analysis], labels: list[str], version: str
) -> tuple[list[int], AggregateTotals]:
    """Write each document's score and entity tags; returns the ids and the aggregate counts
    per (subject kind, key, hour) to add."""
    scored: list[int] = []
    totals: AggregateTotals = {}
    for doc in docs:
        found = analysed[doc.pk]
        probs = found.probs
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
        DocumentEntity.objects.bulk_create(
            [
                DocumentEntity(
                    document=doc, entity_id=m.entity_id, mentions=m.mentions, matched=m.matched
                )
                for m in matches
            ],
            ignore_conflicts=True,
        )
        _contribution_add(
            totals,
            published_at=doc.published_at,
            label=label,
            value=p.get("positive", 0.0) - p.get("negative", 0.0),
            entity_ids=[m.entity_id for m in matches],
            topic_keys=list(topics),
        )
        scored.append(doc.pk)
    return scored, totals


def _contribution_add(
    totals: AggregateTotals,
    *,
    published_at: datetime,
    label: str,
    value: float,
    entity_ids: Sequence[int],
    topic_keys: Sequence[str],
) -> None:
    """Add one scored document's counts to `totals`: one in its hour for everything, for each
    company tagged and for each topic. The one definition of a document's contribution, used
    both to add it (scoring) and to take it out again (rescoring, deletion)."""
    subjects = [(Aggregate.SubjectKind.ALL.value, "all")]
    subjects += [(Aggregate.SubjectKind.ENTITY.value, str(pk)) for pk in entity_ids]
    subjects += [(Aggregate.SubjectKind.TOPIC.value, key) for key in topic_keys]
    bucket = selectors.hour_floor(published_at)
    for kind, key in subjects:
        counts = totals.setdefault(
            (kind, key, bucket),
            {"n": 0, "score_sum": 0.0, "n_positive": 0, "n_neutral": 0, "n_negative": 0},
        )
        counts["n"] += 1
        counts["score_sum"] += value
        counts[f"n_{label}"] += 1


def _documents_contribution(document_ids: Sequence[int]) -> AggregateTotals:
    """What the stored scores and entity tags of these documents added to the aggregates
    (documents without a score added nothing)."""
    totals: AggregateTotals = {}
    ids = list(document_ids)
    tagged: dict[int, list[int]] = {}
    for doc_id, entity_id in (
        DocumentEntity.objects.filter(document_id__in=ids)
        .order_by("document_id", "entity_id")
        .values_list("document_id", "entity_id")
    ):
        tagged.setdefault(doc_id, []).append(entity_id)
    scores = Score.objects.filter(document_id__in=ids).values_list(
        "document_id", "document__published_at", "label", "value", "topics"
    )
    for doc_id, published_at, label, value, topics in scores:
        _contribution_add(
            totals,
            published_at=published_at,
            label=label,
            value=value,
            entity_ids=tagged.get(doc_id, []),
            topic_keys=list(topics or {}),
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


@dataclass(frozen=True)
class RescoreResult:
    rescored: int
    batches: int


def documents_rescore(
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    model_version: str | None = None,
    document_ids: Sequence[int] | None = None,
    scored_before: datetime | None = None,
    batch_size: int = DOCUMENT_WRITE_BATCH,
) -> RescoreResult:
    """Score texts again with the production model, e.g. after a promotion.

    Chooses scored documents published in [since, until), scored by `model_version`, among
    `document_ids` (each filter optional; none means every scored document) and scored before
    `scored_before` (default: now), so running the same request again, or a redelivered task,
    does not rescore what this request already rescored. Each batch, in its own transaction,
    claims its documents (scored -> pending, under a row lock, so a concurrent rescore or
    deletion cannot take the same contribution out twice), subtracts what their old scores
    added to the hourly aggregates, deletes the old scores and entity tags and queues them for
    scoring after commit. Alerts already opened stay as they are; later evaluations see the
    new aggregates. Pending, in-progress and failed documents are left alone."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    chosen = _rescore_candidates(
        since=since,
        until=until,
        model_version=model_version,
        scored_before=scored_before or timezone.now(),
    )

    def pages() -> Iterator[list[int]]:
        if document_ids is not None:
            wanted = sorted(set(document_ids))
            for start in range(0, len(wanted), batch_size):
                yield wanted[start : start + batch_size]
            return
        # Keyset pages over the candidates, read after each batch commits: a huge rescore never
        # lists them all at once.
        last = 0
        while ids := list(
            chosen.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:batch_size]
        ):
            yield ids
            last = ids[-1]

    rescored = batches = 0
    for ids in pages():
        claimed = _documents_rescore_batch(chosen=chosen, document_ids=ids)
        rescored += claimed
        batches += bool(claimed)
    return RescoreResult(rescored, batches)


def _rescore_candidates(
    *,
    since: datetime | None,
    until: datetime | None,
    model_version: str | None,
    scored_before: datetime,
) -> QuerySet[Document]:
    if since is not None and until is not None and since >= until:
        raise ValueError("since must be before until")
    chosen = Document.objects.filter(
        status=Document.Status.SCORED, score__scored_at__lt=scored_before
    )
    if since is not None:
        chosen = chosen.filter(published_at__gte=since)
    if until is not None:
        chosen = chosen.filter(published_at__lt=until)
    if model_version:
        chosen = chosen.filter(score__model_version=model_version)
    return chosen


def documents_rescore_count(
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    model_version: str | None = None,
    scored_before: datetime | None = None,
) -> int:
    """How many documents `documents_rescore` with these filters would rescore now."""
    return _rescore_candidates(
        since=since,
        until=until,
        model_version=model_version,
        scored_before=scored_before or timezone.now(),
    ).count()


@transaction.atomic
def _documents_rescore_batch(*, chosen: QuerySet[Document], document_ids: list[int]) -> int:
    # Under the lock the filter is checked again: a document scored, rescored or deleted
    # since it was listed is no longer chosen, and its contribution is not taken out twice.
    ids = list(
        chosen.select_for_update(of=("self",))
        .filter(pk__in=document_ids)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if not ids:
        return 0
    aggregates_subtract(totals=_documents_contribution(ids))
    Score.objects.filter(document_id__in=ids).delete()
    DocumentEntity.objects.filter(document_id__in=ids).delete()
    Document.objects.filter(pk__in=ids).update(
        status=Document.Status.PENDING,
        queued_at=timezone.now(),
        scoring_since=None,
        score_attempts=0,
        score_error="",
    )
    documents_score_enqueue(document_ids=ids)
    return len(ids)


def documents_delete(*, document_ids: Sequence[int], batch_size: int = DOCUMENT_WRITE_BATCH) -> int:
    """Delete documents and take what their scores added out of the hourly aggregates; the one
    way documents are deleted (admin, source deletion). Works in batches, each in its own
    transaction. Alerts they drove stay (without them in their list). Returns how many went."""
    ids = sorted(set(document_ids))
    deleted = 0
    for start in range(0, len(ids), batch_size):
        deleted += _documents_delete_batch(document_ids=ids[start : start + batch_size])
    return deleted


@transaction.atomic
def _documents_delete_batch(*, document_ids: Sequence[int]) -> int:
    # Locked first, in id order: a scoring batch storing one of them either finishes before
    # (its score is then subtracted here) or fails on the missing document after.
    ids = list(
        Document.objects.select_for_update()
        .filter(pk__in=list(document_ids))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if not ids:
        return 0
    aggregates_subtract(totals=_documents_contribution(ids))
    Document.objects.filter(pk__in=ids).delete()
    return len(ids)


def source_delete(*, source_id: int) -> int:
    """Delete a source with its documents, taking their scores out of the aggregates; returns
    how many documents went. Documents go in batches; the last step locks the source, so an
    ingest racing with it cannot leave a document counted behind."""
    deleted = 0
    while True:
        ids = list(
            Document.objects.filter(source_id=source_id)
            .order_by("pk")
            .values_list("pk", flat=True)[:DOCUMENT_WRITE_BATCH]
        )
        if len(ids) < DOCUMENT_WRITE_BATCH:
            break
        deleted += documents_delete(document_ids=ids)
    with transaction.atomic():
        source = Source.objects.select_for_update().filter(pk=source_id).first()
        rest = list(Document.objects.filter(source_id=source_id).values_list("pk", flat=True))
        deleted += _documents_delete_batch(document_ids=rest) if rest else 0
        if source is not None:
            source.delete()
    return deleted


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
        documents_score_enqueue(document_ids=[pk])
    if lost:
        documents_score_enqueue(document_ids=lost)
    if dead:
        log.error("documents %s failed: their scoring never finished", dead)
    return len(dead) + len(revived) + len(lost)


# -- alerts ----------------------------------------------------------------------------------------
def _check_rule_subject(
    rule: AlertRule, kind: str, key: str, end: datetime
) -> tuple[SpikeCheck, list[selectors.WindowStat]]:
    series = selectors.window_series(
        subject_kind=kind,
        subject_key=key,
        end=end,
        window_hours=rule.window_hours,
        count=LOOKBACK_WINDOWS,
    )
    check = spike_check(
        metric=rule.metric,
        values=[w.metric(rule.metric) for w in series],
        volumes=[w.n for w in series],
        sensitivity=rule.sensitivity,
        min_volume=rule.min_volume,
        threshold=rule.threshold if rule.mode == AlertRule.Mode.THRESHOLD else None,
    )
    return check, series


def alerts_evaluate(
    *, now: datetime | None = None, rule_ids: Sequence[int] | None = None
) -> list[int]:
    """Check every active rule against its subjects; open one alert per episode.

    An episode lasts while the condition holds; it must clear before the same rule and subject
    can alert again, and the cooldown must have passed since the last alert."""
    now = now or timezone.now()
    end = selectors.hour_floor(now) + timedelta(hours=1)
    # A paused rule watches nothing: its episodes end, as when a subject is taken off a rule,
    # so a condition still (or again) holding when it is switched back on alerts again.
    paused = Alert.objects.filter(rule__active=False, episode_open=True)
    if rule_ids is not None:
        paused = paused.filter(rule_id__in=list(rule_ids))
    paused.update(episode_open=False)
    rules = AlertRule.objects.filter(active=True).select_related("owner")
    if rule_ids is not None:
        rules = rules.filter(pk__in=list(rule_ids))
    created: list[int] = []
    for rule in rules:
        try:
            with transaction.atomic():
                created += _rule_evaluate(rule, end=end, now=now)
        except Exception:
            # One rule that cannot be checked (a value stored before it was validated, say)
            # must not keep every rule after it from alerting.
            log.exception("alert rule %s (%s) could not be evaluated", rule.pk, rule.name)
    return created


def _rule_evaluate(rule: AlertRule, *, end: datetime, now: datetime) -> list[int]:
    """Check one rule against its subjects; the ids of the alerts it opened."""
    created: list[int] = []
    subjects = selectors.rule_subjects(rule)
    # A subject the rule no longer watches (edited out, company inactive) is checked no
    # more: end its episode, or watching it again could never alert again.
    watched = set(subjects)
    stale = [
        pk
        for pk, kind, key in Alert.objects.filter(rule=rule, episode_open=True).values_list(
            "pk", "subject_kind", "subject_key"
        )
        if (kind, key) not in watched
    ]
    if stale:
        Alert.objects.filter(pk__in=stale).update(episode_open=False)
    cooldown = timedelta(hours=min(rule.cooldown_hours, MAX_COOLDOWN_HOURS))
    for kind, key in subjects:
        check, series = _check_rule_subject(rule, kind, key, end)
        episode = Alert.objects.filter(
            rule=rule, subject_kind=kind, subject_key=key, episode_open=True
        )
        if not check.fired:
            episode.update(episode_open=False)
            continue
        if episode.exists():
            continue
        last = (
            Alert.objects.filter(rule=rule, subject_kind=kind, subject_key=key)
            .order_by("-created_at")
            .first()
        )
        if last and last.created_at > now - cooldown:
            continue
        alert = _alert_open(rule, kind, key, check, series[-1])
        if alert is not None:
            created.append(alert.pk)
    return created


def _alert_open(
    rule: AlertRule, kind: str, key: str, check: SpikeCheck, window: selectors.WindowStat
) -> Alert | None:
    label = selectors.subject_label(kind, key)
    docs = selectors.subject_documents(kind, key).filter(
        published_at__gte=window.start,
        published_at__lt=window.end,
        status=Document.Status.SCORED,
    )
    order = (
        ["-published_at"]
        if rule.metric == AlertRule.Metric.VOLUME
        else ["-score__negative", "-published_at"]
    )
    driving = list(docs.order_by(*order).values_list("pk", flat=True)[:5])
    try:
        with transaction.atomic():
            alert = Alert.objects.create(
                rule=rule,
                subject_kind=kind,
                subject_key=key,
                subject_label=label,
                metric=rule.metric,
                value=check.value,
                baseline=check.baseline,
                z_score=check.z,
                volume=check.volume,
                window_start=window.start,
                window_end=window.end,
                reason=check.reason,
            )
            alert.documents.set(driving)
            if rule.delivery == AlertRule.Delivery.IMMEDIATE:
                from .tasks import alert_send_task

                transaction.on_commit(lambda: alert_send_task.delay(alert.pk))
            transaction.on_commit(lambda: realtime.alert_broadcast(alert_id=alert.pk), robust=True)
    except IntegrityError:  # another evaluation opened this episode a moment ago
        return None
    log.info("alert %s opened: %s %s", alert.pk, label, check.reason)
    return alert


def alert_window_hours(alert: Alert) -> int:
    """The length of the window that fired, as it was then (the rule may have been edited)."""
    return max(1, round((alert.window_end - alert.window_start).total_seconds() / 3600))


def alert_move_text(alert: Alert) -> str:
    """The size of the move in words, for subjects and headings."""
    if alert.metric == AlertRule.Metric.NEGATIVE_SHARE:
        return (
            f"negative news at {alert.value:.0%} (usual {alert.baseline:.0%}, "
            f"{(alert.value - alert.baseline) * 100:+.0f} pts)"
        )
    if alert.metric == AlertRule.Metric.VOLUME:
        ratio = alert.value / alert.baseline if alert.baseline else 0
        return (
            f"{alert.value:.0f} texts in {alert_window_hours(alert)}h "
            f"(usual {alert.baseline:.0f}" + (f", x{ratio:.1f})" if ratio else ")")
        )
    return (
        f"mean sentiment {alert.value:+.2f} (usual {alert.baseline:+.2f}, "
        f"{alert.value - alert.baseline:+.2f})"
    )


def alert_move_short(alert: Alert) -> str:
    """The move in a few characters, for a digest's subject line."""
    if alert.metric == AlertRule.Metric.NEGATIVE_SHARE:
        return f"{(alert.value - alert.baseline) * 100:+.0f} pts negative"
    if alert.metric == AlertRule.Metric.VOLUME:
        if alert.baseline:
            return f"x{alert.value / alert.baseline:.1f} volume"
        return f"{alert.value:.0f} texts"
    return f"{alert.value - alert.baseline:+.2f} sentiment"


METRIC_TREND_LABELS: dict[str, str] = {
    AlertRule.Metric.NEGATIVE_SHARE.value: "share of negative texts",
    AlertRule.Metric.VOLUME.value: "number of texts",
    AlertRule.Metric.MEAN_SCORE_DROP.value: "mean sentiment, -1 to +1",
}


def _window_metric_text(metric: str, window: selectors.WindowStat) -> str:
    if metric == AlertRule.Metric.VOLUME:
        return f"{window.n} texts"
    if not window.n:
        return "-"
    if metric == AlertRule.Metric.MEAN_SCORE_DROP:
        return f"mean {window.mean_score:+.2f}"
    return f"{window.negative_share:.0%} negative"


def alert_chart_png(*, metric: str, series: Sequence[selectors.WindowStat]) -> bytes:
    """The trend of the metric the rule watches (a line on a 0..1 scale) over volume bars."""
    from .charts import trend_png

    points: list[float | None]
    if metric == AlertRule.Metric.VOLUME:
        top = max((w.n for w in series), default=0) or 1
        points = [w.n / top for w in series]
    elif metric == AlertRule.Metric.MEAN_SCORE_DROP:
        # -1..+1 onto the chart's 0..1; a window without texts is a gap, not a neutral 0.
        points = [(w.mean_score + 1) / 2 if w.n else None for w in series]
    else:
        points = [w.negative_share if w.n else None for w in series]
    return trend_png(points, [w.n for w in series])


def _site(path: str) -> str:
    site_url: str = settings.SITE_URL
    return site_url.rstrip("/") + path


def unsubscribe_token(*, user_id: int, rule_id: int | None) -> str:
    return signing.dumps({"u": user_id, "r": rule_id}, salt=UNSUBSCRIBE_SALT)


def _alert_context(alert: Alert, *, chart_cid: str = "trend") -> dict[str, Any]:
    """What an alert email (or one alert of a digest) shows."""
    rule = alert.rule
    window_hours = alert_window_hours(alert)
    series = selectors.window_series(
        subject_kind=alert.subject_kind,
        subject_key=alert.subject_key,
        end=alert.window_end,
        window_hours=window_hours,
        count=16,
    )
    docs = list(alert.documents.select_related("score").order_by("-score__negative")[:5])
    return {
        "alert": alert,
        "rule": rule,
        "window_hours": window_hours,
        "move": alert_move_text(alert),
        "metric_label": METRIC_TREND_LABELS.get(alert.metric, alert.metric),
        "documents": docs,
        # A text without its own URL links to its page here.
        "headlines": [
            (doc, doc.url or _site(reverse("sentiment:document", args=[doc.pk]))) for doc in docs
        ],
        "series": series,
        "trend": [(w, _window_metric_text(alert.metric, w)) for w in series],
        "chart_cid": chart_cid,
        "dashboard_url": _site(
            reverse("sentiment:dashboard") + f"?subject={alert.subject_kind}:{alert.subject_key}"
        ),
        "alert_url": _site(reverse("sentiment:alert_detail", args=[alert.pk])),
        "ack_url": _site(
            reverse(
                "sentiment:alert_email_action", args=[alert.pk, "acknowledge", alert.action_token]
            )
        ),
        "resolve_url": _site(
            reverse("sentiment:alert_email_action", args=[alert.pk, "resolve", alert.action_token])
        ),
        "unsubscribe_url": _site(
            reverse(
                "sentiment:unsubscribe",
                args=[unsubscribe_token(user_id=rule.owner_id, rule_id=rule.pk)],
            )
        ),
    }


def _chart_attach(message: EmailMultiAlternatives, context: dict[str, Any]) -> None:
    alert = context["alert"]
    image = MIMEImage(alert_chart_png(metric=alert.metric, series=context["series"]), "png")
    image.add_header("Content-ID", f"<{context['chart_cid']}>")
    image.add_header("Content-Disposition", "inline", filename=f"{context['chart_cid']}.png")
    message.attach(image)


def _mail_connection() -> Any:
    # A bounded SMTP wait keeps a send well inside its claim (SEND_CLAIM_S).
    return get_connection(timeout=min(settings.EMAIL_TIMEOUT or SEND_TIMEOUT_S, SEND_TIMEOUT_S))


def alert_email_build(alert: Alert) -> EmailMultiAlternatives:
    """The alert email: plain text and HTML with an inline trend chart (cid:trend)."""
    context = _alert_context(alert)
    subject = f"[Textsuite] {alert.subject_label}: {context['move']}"
    message = EmailMultiAlternatives(
        subject=subject[:250],
        body=render_to_string("sentiment/email/alert.txt", context),
        to=[alert.rule.owner.email],
        headers={"List-Unsubscribe": f"<{context['unsubscribe_url']}>"},
        connection=_mail_connection(),
    )
    message.attach_alternative(render_to_string("sentiment/email/alert.html", context), "text/html")
    message.mixed_subtype = "related"  # type: ignore[attr-defined]  # class attr missing in stubs
    _chart_attach(message, context)
    return message


def _send_skip_reason(*, owner: Any, rule_id: int) -> str:
    if not owner.email:
        return Alert.SendSkipped.NO_ADDRESS.value
    if selectors.user_unsubscribed(user_id=owner.pk, rule_id=rule_id):
        return Alert.SendSkipped.UNSUBSCRIBED.value
    return ""


def alert_send(*, alert_id: int) -> str:
    """Email one alert to its rule's owner, at most once.

    A worker claims the send (`send_claimed_at`) and records `sent_at` only once the SMTP server
    took the message. A failed send releases the claim for the task's retry; a claim left by a
    worker that died is taken over after SEND_CLAIM_S; if that worker had already handed the
    message to the SMTP server, it is not sent again (see delivery.py). Returns "sent",
    "already sent", "unconfirmed" (settled as probably sent), "skipped" (no address, or
    unsubscribed: recorded in `send_skipped`) or "busy" (another worker holds a fresh claim; the
    caller tries again later)."""
    now = timezone.now()
    claimed = Alert.objects.filter(
        Q(send_claimed_at__isnull=True)
        | Q(send_claimed_at__lt=now - timedelta(seconds=SEND_CLAIM_S)),
        pk=alert_id,
        sent_at__isnull=True,
        send_skipped="",
    ).update(send_claimed_at=now, send_attempts=F("send_attempts") + 1)
    if not claimed:
        state = Alert.objects.filter(pk=alert_id).values("sent_at", "send_skipped").first()
        if state is None:
            return "gone"
        if state["sent_at"]:
            return "already sent"
        return "skipped" if state["send_skipped"] else "busy"
    mine = Alert.objects.filter(pk=alert_id, send_claimed_at=now)
    if delivery.unconfirmed_settle(kind=EmailDelivery.Kind.ALERT, alert_ids=[alert_id]):
        return "unconfirmed"
    alert = Alert.objects.select_related("rule", "rule__owner").get(pk=alert_id)
    skipped = _send_skip_reason(owner=alert.rule.owner, rule_id=alert.rule_id)
    if skipped:
        mine.update(send_skipped=skipped, send_claimed_at=None, send_error="")
        return "skipped"
    try:
        handed = delivery.email_send(
            kind=EmailDelivery.Kind.ALERT,
            alerts=[alert],
            recipient=alert.rule.owner,
            message=alert_email_build(alert),
        )
    except Exception as exc:
        # The server refused it: release the claim so the task's retry can send it.
        mine.update(send_claimed_at=None, send_error=str(exc)[:1000])
        raise
    return "sent" if handed else "busy"


def alerts_send_pending(*, now: datetime | None = None, limit: int = 50) -> int:
    """Email the immediate alerts whose send task gave up (an SMTP outage outlasting its retries);
    beat runs this every 10 minutes. Alerts younger than SEND_CLAIM_S (their own task is still on
    them), claimed, or older than two days are left alone; the claims of `alert_send` keep each
    email to one. Stops at the first failure (the server is still down). Returns how many went."""
    now = now or timezone.now()
    claim_stale = now - timedelta(seconds=SEND_CLAIM_S)
    pending = (
        Alert.objects.filter(
            Q(send_claimed_at__isnull=True) | Q(send_claimed_at__lt=claim_stale),
            rule__delivery=AlertRule.Delivery.IMMEDIATE,
            sent_at__isnull=True,
            send_skipped="",
            created_at__lt=claim_stale,
            created_at__gte=now - ALERT_SEND_MAX_AGE,
        )
        .order_by("created_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    sent = 0
    for alert_id in list(pending):
        try:
            sent += alert_send(alert_id=alert_id) == "sent"
        except Exception as exc:
            log.warning("alert %s: email still failing (%s); next sweep tries again", alert_id, exc)
            break
    return sent


def _digest_pending() -> QuerySet[Alert]:
    return Alert.objects.filter(
        rule__delivery=AlertRule.Delivery.DIGEST, digest_sent_at__isnull=True, send_skipped=""
    )


def alerts_digest_send(*, now: datetime | None = None) -> int:
    """One email per owner with the digest-delivery alerts not yet in a digest; returns how many
    went out.

    Each owner's alerts are claimed like a single alert's send (`digest_claimed_at`, taken over
    when stale) and marked `digest_sent_at` only after the SMTP server took the message. One
    owner's failure does not hold up the others; it is raised at the end for the task's retry."""
    now = now or timezone.now()
    owners = sorted(set(_digest_pending().values_list("rule__owner_id", flat=True)))
    return _digests_send(owners=owners, now=now)


def _digest_last_run(now: datetime) -> datetime:
    """When the daily digest was last due (DIGEST_HOUR in Celery's time zone)."""
    local = timezone.localtime(now, ZoneInfo(settings.CELERY_TIMEZONE or settings.TIME_ZONE))
    due = local.replace(hour=DIGEST_HOUR, minute=0, second=0, microsecond=0)
    return due if due <= local else due - timedelta(days=1)


def alerts_digest_catch_up(*, now: datetime | None = None) -> int:
    """Send the digests that missed their day (SMTP down past the digest task's retries): only
    owners with an alert older than the last digest time get one, with all their pending alerts.
    Beat runs this every hour; returns how many went out."""
    now = now or timezone.now()
    overdue = _digest_pending().filter(created_at__lt=_digest_last_run(now))
    owners = sorted(set(overdue.values_list("rule__owner_id", flat=True)))
    return _digests_send(owners=owners, now=now)


def _digests_send(*, owners: Sequence[int], now: datetime) -> int:
    sent = 0
    failure: Exception | None = None
    for owner_id in owners:
        try:
            sent += _digest_send_owner(owner_id=owner_id, now=now)
        except Exception as exc:
            log.warning("digest for user %s failed: %s", owner_id, exc)
            failure = failure or exc
    if failure is not None:
        raise failure
    return sent


def _digest_send_owner(*, owner_id: int, now: datetime) -> int:
    candidates = list(
        _digest_pending().filter(rule__owner_id=owner_id).values_list("pk", flat=True)
    )
    Alert.objects.filter(
        Q(digest_claimed_at__isnull=True)
        | Q(digest_claimed_at__lt=now - timedelta(seconds=SEND_CLAIM_S)),
        pk__in=candidates,
        digest_sent_at__isnull=True,
    ).update(digest_claimed_at=now)
    mine = Alert.objects.filter(pk__in=candidates, digest_claimed_at=now, digest_sent_at=None)
    alerts = list(mine.select_related("rule", "rule__owner").order_by("created_at", "pk"))
    # Alerts a dead attempt already handed to the SMTP server in a digest are not mailed again.
    settled = delivery.unconfirmed_settle(
        kind=EmailDelivery.Kind.DIGEST, alert_ids=[a.pk for a in alerts]
    )
    alerts = [a for a in alerts if a.pk not in settled]
    if not alerts:
        return 0
    owner = alerts[0].rule.owner
    keep: list[Alert] = []
    for alert in alerts:
        skipped = _send_skip_reason(owner=owner, rule_id=alert.rule_id)
        if skipped:
            mine.filter(pk=alert.pk).update(send_skipped=skipped, digest_claimed_at=None)
        else:
            keep.append(alert)
    if not keep:
        return 0
    try:
        handed = delivery.email_send(
            kind=EmailDelivery.Kind.DIGEST,
            alerts=keep,
            recipient=owner,
            message=digest_email_build(alerts=keep, owner=owner),
        )
    except Exception as exc:
        mine.filter(pk__in=[a.pk for a in keep]).update(
            digest_claimed_at=None, send_error=str(exc)[:1000]
        )
        raise
    return int(handed)


def digest_email_build(*, alerts: Sequence[Alert], owner: Any) -> EmailMultiAlternatives:
    """The daily digest: per alert its move, a small inline chart (cid:trend-<id>), the texts that
    drove it and acknowledge/resolve links; the subject names the subjects and their moves."""
    items = [_alert_context(a, chart_cid=f"trend-{a.pk}") for a in alerts]
    unsubscribe_url = _site(
        reverse("sentiment:unsubscribe", args=[unsubscribe_token(user_id=owner.pk, rule_id=None)])
    )
    context = {
        "items": items,
        "dashboard_url": _site(reverse("sentiment:dashboard")),
        "unsubscribe_url": unsubscribe_url,
    }
    named = ", ".join(f"{a.subject_label} {alert_move_short(a)}" for a in alerts[:3])
    more = f", +{len(alerts) - 3} more" if len(alerts) > 3 else ""
    count = f"{len(alerts)} alert{'s' if len(alerts) != 1 else ''}"
    subject = f"[Textsuite] Daily digest: {count} \N{EM DASH} {named}{more}"
    if len(subject) > 250:
        subject = subject[:249] + "\N{HORIZONTAL ELLIPSIS}"
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("sentiment/email/digest.txt", context),
        to=[owner.email],
        headers={"List-Unsubscribe": f"<{unsubscribe_url}>"},
        connection=_mail_connection(),
    )
    message.attach_alternative(
        render_to_string("sentiment/email/digest.html", context), "text/html"
    )
    message.mixed_subtype = "related"  # type: ignore[attr-defined]  # class attr missing in stubs
    for item in items:
        _chart_attach(message, item)
    return message


def alert_transition(*, alert_id: int, action: str, user: Any = None) -> Alert:
    """Acknowledge or resolve an alert; repeating an action is harmless."""
    now = timezone.now()
    user_id = getattr(user, "pk", None)
    if action == "acknowledge":
        changed = Alert.objects.filter(pk=alert_id, status=Alert.Status.OPEN).update(
            status=Alert.Status.ACKNOWLEDGED, acknowledged_at=now, handled_by_id=user_id
        )
    elif action == "resolve":
        changed = (
            Alert.objects.filter(pk=alert_id)
            .exclude(status=Alert.Status.RESOLVED)
            .update(status=Alert.Status.RESOLVED, resolved_at=now, handled_by_id=user_id)
        )
    else:
        raise ValueError(f"unknown action {action!r}; use acknowledge or resolve")
    if changed:
        transaction.on_commit(lambda: realtime.alert_broadcast(alert_id=alert_id), robust=True)
    return Alert.objects.get(pk=alert_id)


def unsubscribe_apply(*, token: str) -> Unsubscribe:
    """Record an unsubscribe from an email link; signing.BadSignature on a forged token."""
    data = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    entry, _ = Unsubscribe.objects.get_or_create(user_id=int(data["u"]), rule_id=data.get("r"))
    return entry


def unsubscribe_revoke(*, token: str) -> None:
    """Undo an email link's unsubscribe ("Subscribe again"); signing.BadSignature on a forged
    token. See emails_resubscribe."""
    data = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    emails_resubscribe(user_id=int(data["u"]), rule_id=data.get("r"))


@transaction.atomic
def emails_resubscribe(*, user_id: int, rule_id: int | None) -> None:
    """Email again: for one rule, or (rule_id None) undo the unsubscribe from every rule.

    Alerts that fired while unsubscribed and were not emailed yet (digest alerts wait for the
    digest) are marked skipped: switching emails back on sends no old alerts. One rule back on
    while every rule is off turns the "every rule" entry into one entry per other rule, so those
    stay off."""
    entries = Unsubscribe.objects.select_for_update().filter(user_id=user_id)
    if rule_id is None:
        gone = list(entries.filter(rule=None))
    else:
        gone = list(entries.filter(Q(rule_id=rule_id) | Q(rule=None)))
    if not gone:
        return
    everything = next((e for e in gone if e.rule_id is None), None)
    if everything is not None and rule_id is not None:
        others = AlertRule.objects.filter(owner_id=user_id).exclude(pk=rule_id)
        kept = set(entries.exclude(rule=None).values_list("rule_id", flat=True))
        Unsubscribe.objects.bulk_create(
            Unsubscribe(user_id=user_id, rule_id=pk)
            for pk in others.values_list("pk", flat=True)
            if pk not in kept
        )
    for entry in gone:
        rules = AlertRule.objects.filter(owner_id=user_id)
        if entry.rule_id is not None:  # the "every rule" entry covered all of them
            rules = rules.filter(pk=entry.rule_id)
        Alert.objects.filter(
            rule__in=rules,
            created_at__gte=entry.created_at,
            sent_at=None,
            digest_sent_at=None,
            send_skipped="",
        ).exclude(rule__delivery=AlertRule.Delivery.NONE).update(
            send_skipped=Alert.SendSkipped.UNSUBSCRIBED
        )
    Unsubscribe.objects.filter(pk__in=[e.pk for e in gone]).delete()


# -- watchlist, rules, corrections -----------------------------------------------------------------
@transaction.atomic
def entity_upsert(
    *,
    name: str,
    ticker: str = "",
    aliases: Sequence[str] = (),
    ticker_needs_context: bool | None = None,
    active: bool | None = None,
    entity_id: int | None = None,
) -> Entity:
    """Create or update a watchlist company: the one with `entity_id`, else the one named `name`.

    The one write path of the page, the API and the admin. The ticker is stored normalised
    ('$ai' -> 'AI'; ValueError if it is no ticker) because tickers match only in capitals.
    `ticker_needs_context=None` decides it for a new or changed ticker (an everyday word or a
    single letter needs context) and keeps the current choice for an unchanged one."""
    ticker = ticker_normalise(ticker)
    lookup: dict[str, Any] = {"pk": entity_id} if entity_id is not None else {"name": name}
    current = Entity.objects.filter(**lookup).first()
    if entity_id is not None and current is None:
        raise Entity.DoesNotExist(f"no watchlist company {entity_id}")
    needs_context = ticker_needs_context
    if needs_context is None and current is not None and current.ticker == ticker:
        needs_context = current.ticker_needs_context
    elif needs_context is None:
        needs_context = bool(ticker) and (ticker.lower() in COMMON_WORD_TICKERS or len(ticker) == 1)
    defaults: dict[str, Any] = {
        "name": name,
        "ticker": ticker,
        "aliases": [a.strip() for a in aliases if a and a.strip()],
        "ticker_needs_context": needs_context,
    }
    if active is not None:
        defaults["active"] = active
    entity, _ = Entity.objects.update_or_create(**lookup, defaults=defaults)
    return entity


@transaction.atomic
def entity_delete(*, entity_id: int) -> None:
    """Delete a watchlist company; ValueError when an alert rule watches it alone.

    A rule with no companies and no topics watches the whole watchlist, so deleting a rule's
    only company would silently widen it to every company (and flood its owner with alerts)."""
    entity = Entity.objects.select_for_update().get(pk=entity_id)
    alone = selectors.rules_widened_by_deleting([entity.pk])
    if alone:
        names = ", ".join(f"'{rule.name}' ({rule.owner})" for rule in alone)
        raise ValueError(
            f"{entity} is the only company of the alert rules {names}; deleting it would make "
            "them watch the whole watchlist. Edit those rules first, or set the company "
            "inactive instead."
        )
    entity.delete()


# Tickers that are everyday words; bare mentions of them are not evidence of the company.
COMMON_WORD_TICKERS = {
    "a",
    "ai",
    "all",
    "am",
    "an",
    "are",
    "at",
    "be",
    "big",
    "by",
    "can",
    "car",
    "cat",
    "ceo",
    "d",
    "do",
    "eat",
    "for",
    "fun",
    "go",
    "good",
    "has",
    "hd",
    "it",
    "key",
    "low",
    "main",
    "man",
    "may",
    "new",
    "now",
    "on",
    "one",
    "out",
    "pay",
    "peak",
    "real",
    "run",
    "see",
    "so",
    "t",
    "two",
    "u",
    "uk",
    "us",
    "v",
    "well",
    "x",
}


@transaction.atomic
def correction_create(
    *, document_id: int, label: str, user: Any = None, sentence: str = ""
) -> Correction:
    """An analyst's label for a scored text (or one of its sentences); joins the next training."""
    if label not in LABELS:
        raise ValueError(f"label must be one of {', '.join(LABELS)}")
    doc = Document.objects.select_related("score").get(pk=document_id)
    predicted = doc.score.label if hasattr(doc, "score") else ""
    text = sentence.strip() or doc.text
    details = doc.score.sentences if hasattr(doc, "score") and sentence.strip() else []
    # A sentence that is not in the text (a typo, another text's) would train the model on
    # words nobody scored here, recorded with this text's prediction.
    if (
        sentence.strip()
        and not any(d.get("text") == text for d in details)
        and " ".join(text.split()) not in " ".join(doc.text.split())
    ):
        raise ValueError(
            "the sentence is not in this text; copy it exactly, or leave it out to "
            "correct the whole text"
        )
    for detail in details:
        if detail.get("text") == text:
            predicted = detail.get("label", predicted)
    return Correction.objects.create(
        document=doc,
        sentence=text[:5000],
        predicted_label=predicted,
        label=label,
        user=user if getattr(user, "pk", None) else None,
    )
