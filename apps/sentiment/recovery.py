"""Scoring claims that survive a dead worker process: taking, checking and giving back a claim.

A scoring task claims its documents (pending -> scoring) stamped with the claim's time. If its
worker process dies (SIGKILL, the OOM killer), the documents stay "scoring" until the sweeper
(`services.documents_rescue`, every SENTIMENT_SCORE_SWEEP_S) finds the claim older than
SENTIMENT_SCORE_STALE_AFTER_S and puts them back to pending. A task that was only slow and
finishes after that no longer holds the claim: it stores nothing for those documents, so each
document gets exactly one score whoever finishes first.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.db.models import F
from django.utils import timezone

from .models import Document


def documents_claim(*, document_ids: Sequence[int]) -> tuple[list[int], datetime]:
    """Claim the pending ones of these documents; returns their ids and the claim's stamp.

    Call inside a transaction: the rows are locked with SKIP LOCKED, so two tasks given the
    same ids split them instead of waiting on each other."""
    claimed_at = timezone.now()
    ids = list(
        Document.objects.select_for_update(skip_locked=True)
        .filter(pk__in=list(document_ids), status=Document.Status.PENDING)
        .values_list("pk", flat=True)
    )
    Document.objects.filter(pk__in=ids).update(
        status=Document.Status.SCORING,
        scoring_since=claimed_at,
        score_attempts=F("score_attempts") + 1,
    )
    return ids, claimed_at


def documents_claim_held(*, document_ids: Sequence[int], claimed_at: datetime) -> set[int]:
    """The documents this claim still holds, locked until the caller's transaction ends.

    Locked in id order, like rescoring and deletion, so concurrent writers cannot deadlock.
    A document missing here was taken back by the sweeper (and maybe scored by another task)
    or rescored or deleted meanwhile: the caller must write nothing for it."""
    return set(
        Document.objects.select_for_update()
        .filter(
            pk__in=list(document_ids),
            status=Document.Status.SCORING,
            scoring_since=claimed_at,
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def documents_release(*, document_ids: Sequence[int], claimed_at: datetime) -> None:
    """Give claimed documents back to the queue (the task's retry or the sweeper scores them);
    documents the claim no longer holds are left to whoever holds them now."""
    Document.objects.filter(
        pk__in=list(document_ids), status=Document.Status.SCORING, scoring_since=claimed_at
    ).update(status=Document.Status.PENDING, scoring_since=None, queued_at=timezone.now())
