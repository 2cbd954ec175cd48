"""Out of business hours: the handoff collects an email address, and an agent answers by email.

A handoff while the knowledge base is closed does not queue for a live agent (nobody is there):
the conversation goes to status `email`, the customer is told when a person will answer and is
asked for an email address. The address they type is validated and kept; agents find these
conversations under "Answer by email" in the console and answer there: the email goes out
through Django's email backend, and the transcript records the answer and who sent it.
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from ..answers import Answer
from ..hours import WEEKDAYS, Hours, hours_parse
from ..models import Conversation, KnowledgeBase, Message
from ..selectors import away_text, knowledge_base_hours, next_answer_words
from ..text import MAX_MESSAGE_CHARS, clean_text
from ._common import NotAllowed, _announce, _bot_message_create, _conversation_lock, _touch

log = logging.getLogger(__name__)
AWAY_KIND = "after_hours"
EMAIL_ASK_KIND = "email_ask"
EMAIL_TAKEN_KIND = "email_taken"
# Anything with an @ between non-space characters is a candidate; validate_email decides.
_EMAIL_CANDIDATE = re.compile(r"[^\s<>()\[\],;:\"']+@[^\s<>()\[\],;:\"']+")


class EmailNotSent(Exception):
    """The email backend refused the answer; nothing was recorded, the agent may retry."""


@transaction.atomic
def knowledge_base_hours_update(
    *,
    kb_id: int,
    time_zone: str,
    opening_hours: dict[str, list[str]],
    holidays: list[str],
) -> KnowledgeBase:
    """Set a knowledge base's business hours; HoursInvalid (naming the bad part) saves nothing.
    Each range is stored as written once checked; no ranges at all is "always open"."""
    hours_parse(time_zone=time_zone, opening_hours=opening_hours, holidays=holidays)
    kb = KnowledgeBase.objects.select_for_update().get(pk=kb_id)
    kb.time_zone = time_zone.strip()
    kb.opening_hours = {day: list(opening_hours[day]) for day in WEEKDAYS if opening_hours.get(day)}
    kb.holidays = sorted({str(day).strip() for day in holidays if str(day).strip()})
    kb.save(update_fields=["time_zone", "opening_hours", "holidays", "updated_at"])
    return kb


def conversation_hours(conversation_id: int) -> Hours | None:
    """The hours of the conversation's knowledge base; None when it no longer exists."""
    conversation = Conversation.objects.select_related("kb").filter(pk=conversation_id).first()
    return knowledge_base_hours(conversation.kb) if conversation else None


def handoff_by_email(
    *,
    conversation_id: int,
    reason: str,
    hours: Hours,
    now: datetime,
    reply_to: int | None,
    answer: Answer | None = None,
) -> Message | None:
    """Hand a bot conversation to the email answer (out of hours); None when it was not with
    the bot. The message tells the customer when a person answers and asks for their email;
    it keeps the bot's confidence, intent and sources (`answer`) for agents and statistics."""
    with transaction.atomic():
        moved = Conversation.objects.filter(
            pk=conversation_id, status=Conversation.Status.BOT
        ).update(
            status=Conversation.Status.EMAIL,
            handoff_reason=reason,
            handoff_at=now,
            last_message_at=now,
        )
        if not moved:
            return None
        text = away_text(hours, now=now)
        away = (
            replace(answer, text=text, kind=AWAY_KIND, citations=())
            if answer is not None
            else Answer(text, AWAY_KIND, 0.0, 0.0, True, reason)
        )
        message = _bot_message_create(conversation_id, away, reply_to=reply_to)
        _announce(message, queue=True)
    return message


def email_address_find(text: str) -> str | None:
    """The email address in a customer's message ("it's jo@example.com."), or None. Only one
    with a dotted domain: an answer has to reach the customer from the outside."""
    for candidate in _EMAIL_CANDIDATE.findall(text):
        address: str = candidate.strip(".!?")
        if "." not in address.rpartition("@")[2]:
            continue
        try:
            validate_email(address)
        except ValidationError:
            continue
        return address
    return None


def email_address_take(*, conversation_id: int, message_id: int) -> Message | None:
    """The customer writes while waiting for an email answer. An address in the message is kept
    (a later one replaces it) and confirmed; without one, the bot asks again until it has an
    address, then stays quiet (the agent reads everything in the transcript)."""
    with transaction.atomic():
        conversation = _conversation_lock(conversation_id)
        if conversation.status != Conversation.Status.EMAIL:
            return None
        question = Message.objects.get(pk=message_id, conversation_id=conversation_id)
        if Message.objects.filter(reply_to=question).exists():
            return None
        address = email_address_find(question.text)
        when = next_answer_words(knowledge_base_hours(conversation.kb), now=timezone.now())
        if address:
            Conversation.objects.filter(pk=conversation_id).update(customer_email=address)
            text = (
                f"Thank you. A person will answer by email to {address}"
                + (f", from {when}." if when else ".")
                + " You may add anything else here; they will read it."
            )
            kind = EMAIL_TAKEN_KIND
        elif conversation.customer_email:
            return None
        else:
            text = (
                "That doesn't look like an email address. Please type it like name@example.com, "
                "so that a person can answer you by email."
                if "@" in question.text
                else "Please type your email address (like name@example.com), so that a person "
                "can answer you by email."
            )
            kind = EMAIL_ASK_KIND
        message = _bot_message_create(
            conversation_id, Answer(text, kind, 0.0, 0.0, False), reply_to=message_id
        )
        _touch(conversation_id)
        _announce(message, queue=True)
    return message


def conversation_email_reply(*, conversation_id: int, agent: Any, text: str) -> Message:
    """An agent answers an out-of-hours conversation by email: the email is sent to the address
    the customer left, the transcript records the answer and who sent it to whom, and the
    conversation is closed. Refused (NotAllowed) unless the conversation waits for an email
    answer and has an address; EmailNotSent when the backend fails (nothing is recorded)."""
    text = clean_text(text, max_chars=MAX_MESSAGE_CHARS, what="answer")
    with transaction.atomic():
        conversation = _conversation_lock(conversation_id)
        if conversation.status != Conversation.Status.EMAIL:
            raise NotAllowed(
                "Only a conversation waiting for an email answer can be answered by email."
            )
        if not conversation.customer_email:
            raise NotAllowed("The customer has not left an email address yet; nothing can be sent.")
        questions = Message.objects.filter(
            conversation_id=conversation_id, sender=Message.Sender.CUSTOMER
        ).values_list("text", flat=True)
        quoted = "\n".join(f"> {line}" for line in questions)
        email = EmailMessage(
            subject=f"Your question to {conversation.kb.name}",
            body=f"{text}\n\n{agent}\n{conversation.kb.name}\n\nYou wrote:\n{quoted}\n",
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[conversation.customer_email],
        )
        now = timezone.now()
        answer = Message.objects.create(
            conversation_id=conversation_id,
            sender=Message.Sender.AGENT,
            author=agent,
            text=text,
            answer_kind="email",
        )
        record = Message.objects.create(
            conversation_id=conversation_id,
            sender=Message.Sender.SYSTEM,
            text=f"{agent} answered by email to {conversation.customer_email}.",
            answer_kind="email_sent",
        )
        Conversation.objects.filter(pk=conversation_id).update(
            status=Conversation.Status.CLOSED,
            assigned_agent=agent,
            closed_at=now,
            last_message_at=now,
        )
        try:
            email.send(fail_silently=False)
        except Exception as exc:  # SMTP, connection or backend errors: roll back, say so
            log.exception("email answer to conversation %s failed", conversation_id)
            raise EmailNotSent(
                "The email could not be sent; nothing was recorded. Please try again."
            ) from exc
        _announce(answer)
        _announce(record, queue=True)
    return answer
