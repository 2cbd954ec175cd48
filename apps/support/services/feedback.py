"""Feedback: the customer's CSAT and answer ratings, agents' flags, FAQ drafts from chats."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from .. import realtime
from ..models import FAQ, Conversation, Message
from ..selectors import ANSWER_KINDS
from ..text import InvalidText, clean_text
from ._common import NotAllowed
from .faqs import faq_upsert


def csat_submit(*, conversation_id: int, score: int, comment: str | None = "") -> bool:
    # JSON true is a Python int too; it is no rating.
    if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
        raise InvalidText("The rating must be a whole number from 1 to 5.")
    if comment is None or (isinstance(comment, str) and not comment.strip()):
        comment = ""
    else:
        comment = clean_text(comment, max_chars=1000, what="comment")
    done = Conversation.objects.filter(
        pk=conversation_id, status=Conversation.Status.CLOSED, csat__isnull=True
    ).update(csat=score, csat_comment=comment)
    if done:
        transaction.on_commit(
            lambda: realtime.conversation_broadcast(conversation_id=conversation_id, event="csat")
        )
    return bool(done)


def message_rate(
    *, conversation_id: int, message_id: int, rating: str, comment: str | None = ""
) -> bool:
    """The customer's thumbs up or down on an answer, with an optional comment (a new rating
    replaces the earlier one and its comment). False when there is no such answer."""
    if rating not in (Message.Rating.UP, Message.Rating.DOWN):
        raise InvalidText("The rating must be 'up' or 'down'.")
    if comment is None or (isinstance(comment, str) and not comment.strip()):
        comment = ""
    elif not isinstance(comment, str):
        raise InvalidText("The comment must be text.")
    else:
        comment = clean_text(comment, max_chars=500, what="comment")
    # Answers only: a greeting, a handoff or a notice is no answer to judge, and a rating on
    # one would count in the handoff trade-off as if it were.
    updated = Message.objects.filter(
        pk=message_id,
        conversation_id=conversation_id,
        sender=Message.Sender.BOT,
        answer_kind__in=ANSWER_KINDS,
    ).update(rating=rating, rating_comment=comment)
    return bool(updated)


def message_flag(*, message_id: int, agent: Any, flag: str, note: str = "") -> Message:
    if flag not in (Message.Flag.INCORRECT, Message.Flag.OUTDATED, Message.Flag.INCOMPLETE):
        raise InvalidText("The flag must be incorrect, outdated or incomplete.")
    message = Message.objects.get(pk=message_id)
    if message.sender != Message.Sender.BOT:
        raise NotAllowed("Only the bot's answers can be flagged.")
    message.flag, message.flag_note, message.flagged_by = flag, note.strip()[:500], agent
    message.save(update_fields=["flag", "flag_note", "flagged_by"])
    transaction.on_commit(lambda: realtime.message_broadcast(message=message))
    return message


def faq_draft_from_conversation(*, conversation_id: int) -> FAQ:
    """Turn a resolved conversation into a draft FAQ pair: the customer's first question and
    the last human answer (or the bot's last answer when no human joined)."""
    conversation = Conversation.objects.get(pk=conversation_id)
    messages = list(conversation.messages.order_by("id"))
    question = next((m for m in messages if m.sender == Message.Sender.CUSTOMER), None)
    answer = next((m for m in reversed(messages) if m.sender == Message.Sender.AGENT), None)
    if answer is None:
        answer = next(
            (
                m
                for m in reversed(messages)
                if m.sender == Message.Sender.BOT
                and m.answer_kind in ("faq", "extractive", "generated")
            ),
            None,
        )
    if question is None or answer is None:
        raise NotAllowed("The conversation needs a customer question and an answer first.")
    intent = next((m.intent for m in messages if m.intent), "")
    text = clean_text(question.text[:500], max_chars=500, what="question")
    published = FAQ.objects.filter(
        kb_id=conversation.kb_id, question=text, status=FAQ.Status.PUBLISHED
    ).first()
    if published is not None:
        # faq_upsert would overwrite its answer and unpublish it.
        raise NotAllowed(
            f"The published FAQ pair #{published.pk} already has this question; edit that one."
        )
    faq, _ = faq_upsert(
        kb_id=conversation.kb_id,
        question=text,
        answer=answer.text,
        intent=intent,
        status=FAQ.Status.DRAFT,
        source_conversation_id=conversation_id,
    )
    return faq
