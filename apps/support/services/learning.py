"""The learning loop: resolved conversations whose answer was rated helpful, or that an agent
confirmed, become intent training rows for an agent to review.

An accepted row is a labelled past conversation, which the next intent training reads
(`intent.rows_from_past`); a rejected one is kept, so collecting again never proposes it twice.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from ..models import Conversation, Message, TrainingCandidate
from ..selectors import ANSWER_KINDS
from ..text import InvalidText, clean_text
from ._common import NotAllowed
from .faqs import past_conversation_upsert


def _candidate_values(message: Message, source: str) -> dict[str, Any]:
    question = message.reply_to.text if message.reply_to else ""
    return {
        "kb_id": message.conversation.kb_id,
        "conversation_id": message.conversation_id,
        "message_id": message.pk,
        "question": question[:1000],
        "answer": message.text,
        "intent": message.intent,
        "source": source,
    }


def training_candidates_collect(*, kb_id: int | None = None) -> int:
    """Propose a training row for every answer rated helpful (and not flagged) in a closed
    conversation that has none yet; returns how many were proposed. Idempotent."""
    answers = (
        Message.objects.filter(
            sender=Message.Sender.BOT,
            answer_kind__in=ANSWER_KINDS,
            rating=Message.Rating.UP,
            flag="",
            reply_to__isnull=False,
            conversation__status=Conversation.Status.CLOSED,
        )
        .exclude(pk__in=TrainingCandidate.objects.values("message_id"))
        .select_related("conversation", "reply_to")
    )
    if kb_id is not None:
        answers = answers.filter(conversation__kb_id=kb_id)
    made = TrainingCandidate.objects.bulk_create(
        [
            TrainingCandidate(**_candidate_values(m, TrainingCandidate.Source.RATED_GOOD))
            for m in answers
        ],
        ignore_conflicts=True,  # a concurrent collect proposed it already
    )
    return len(made)


@transaction.atomic
def answer_confirm(*, message_id: int, agent: Any) -> TrainingCandidate:
    """An agent confirms that a bot answer was right: its question is proposed for training
    (a row already proposed from a helpful rating is marked as confirmed)."""
    message = (
        Message.objects.select_related("conversation", "reply_to").filter(pk=message_id).first()
    )
    if message is None:
        raise Message.DoesNotExist(f"Message {message_id} does not exist.")
    if message.sender != Message.Sender.BOT or message.answer_kind not in ANSWER_KINDS:
        raise NotAllowed("Only the bot's answers can be confirmed.")
    if message.reply_to is None:
        raise NotAllowed("This answer has no question to learn from.")
    values = _candidate_values(message, TrainingCandidate.Source.AGENT_CONFIRMED)
    candidate, created = TrainingCandidate.objects.get_or_create(
        message_id=message.pk, defaults=values
    )
    if not created and candidate.source != TrainingCandidate.Source.AGENT_CONFIRMED:
        candidate.source = TrainingCandidate.Source.AGENT_CONFIRMED
        candidate.save(update_fields=["source"])
    return candidate


@transaction.atomic
def training_candidate_accept(
    *, candidate_id: int, agent: Any, intent: str | None = None
) -> TrainingCandidate:
    """Accept a proposed row, with the intent the agent chose (default: the one predicted);
    it becomes a labelled past conversation. Raises InvalidText without an intent and
    NotAllowed for a row reviewed already."""
    candidate = TrainingCandidate.objects.select_for_update().get(pk=candidate_id)
    if candidate.status != TrainingCandidate.Status.PROPOSED:
        raise NotAllowed(f"This row was {candidate.status} already.")
    label = candidate.intent if intent is None else intent
    if not isinstance(label, str) or not label.strip():
        raise InvalidText("Choose the intent this question belongs to.")
    label = clean_text(label, max_chars=100, what="intent")
    past_conversation_upsert(
        kb_id=candidate.kb_id,
        question=candidate.question,
        best_reply=candidate.answer,
        intent=label,
    )
    candidate.intent, candidate.status = label, TrainingCandidate.Status.ACCEPTED
    candidate.reviewed_by, candidate.reviewed_at = agent, timezone.now()
    candidate.save(update_fields=["intent", "status", "reviewed_by", "reviewed_at"])
    return candidate


def training_candidate_reject(*, candidate_id: int, agent: Any) -> bool:
    """Reject a proposed row; False when it was reviewed already."""
    return bool(
        TrainingCandidate.objects.filter(
            pk=candidate_id, status=TrainingCandidate.Status.PROPOSED
        ).update(
            status=TrainingCandidate.Status.REJECTED,
            reviewed_by=agent,
            reviewed_at=timezone.now(),
        )
    )
