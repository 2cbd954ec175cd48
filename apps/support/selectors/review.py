"""The feedback review list: answers customers found unhelpful, conversations the bot handed
over, and answers agents flagged, each with the question it answered and its conversation."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from django.urls import reverse

from ..models import Message

# filter name -> which bot messages it lists
REVIEW_FILTERS: dict[str, Q] = {
    "unhelpful": Q(rating=Message.Rating.DOWN),
    "handed_over": Q(answer_kind="handoff"),
    "flagged": ~Q(flag=""),
}
REVIEW_ALL = "all"
REVIEW_LIMIT = 200


def answers_for_review(
    *, which: str = REVIEW_ALL, kb_id: int | None = None, limit: int = REVIEW_LIMIT
) -> QuerySet[Message]:
    """Bot messages to review, newest first; `which` is a REVIEW_FILTERS key or "all" (any of
    them). Raises ValueError for another name."""
    if which == REVIEW_ALL:
        wanted = REVIEW_FILTERS["unhelpful"] | REVIEW_FILTERS["handed_over"]
        wanted |= REVIEW_FILTERS["flagged"]
    elif which in REVIEW_FILTERS:
        wanted = REVIEW_FILTERS[which]
    else:
        raise ValueError(f"filter must be one of: {', '.join([REVIEW_ALL, *REVIEW_FILTERS])}")
    qs = Message.objects.filter(wanted, sender=Message.Sender.BOT)
    if kb_id is not None:
        qs = qs.filter(conversation__kb_id=kb_id)
    return qs.select_related("conversation", "reply_to", "flagged_by").order_by("-pk")[:limit]


def review_row(message: Message) -> dict[str, Any]:
    """One line of the review list: why it is there, what was asked and answered, and where."""
    reasons = [name for name, q in REVIEW_FILTERS.items() if _matches(message, name)]
    conversation = message.conversation
    return {
        "message_id": message.pk,
        "conversation_id": conversation.pk,
        "conversation_url": reverse("support:conversation", args=[conversation.pk]),
        "kb_id": conversation.kb_id,
        "reasons": reasons,
        "question": message.reply_to.text if message.reply_to else "",
        "answer": message.text,
        "answer_kind": message.answer_kind,
        "confidence": message.confidence,
        "rating": message.rating,
        "rating_comment": message.rating_comment,
        "flag": message.flag,
        "flag_note": message.flag_note,
        "flagged_by": str(message.flagged_by) if message.flagged_by else "",
        "handoff_reason": conversation.handoff_reason if message.answer_kind == "handoff" else "",
        "created_at": message.created_at.isoformat(),
    }


def _matches(message: Message, name: str) -> bool:
    if name == "unhelpful":
        return message.rating == Message.Rating.DOWN
    if name == "handed_over":
        return message.answer_kind == "handoff"
    return bool(message.flag)
