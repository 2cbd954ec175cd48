"""Handoff to a person: the queue, the customer's request, takeover and transfer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from apps.accounts.face import Role, user_has_role

from ..answers import ASKED_TEXT, Answer
from ..models import Conversation, Message
from ..selectors import agents_online
from ..text import InvalidText
from ._common import (
    ConversationClosed,
    NotAllowed,
    _announce,
    _bot_message_create,
    _colleague_refuse,
    _no_agent_notice,
    _queue_notice,
)
from .after_hours import AWAY_KIND, conversation_hours, handoff_by_email
from .agents import conversations_assign


def conversation_handoff(
    *,
    conversation_id: int,
    reason: str,
    answer: Answer | None = None,
    reply_to: int | None = None,
) -> Message | None:
    """Move a bot conversation to the agents' queue; the handoff message is stored first.

    Only a conversation with the bot can be handed off, so a closed or already-waiting one never
    loops back into the queue. With no agent online the customer is told so (a system message)
    rather than left waiting in silence. Returns the handoff message, or None when nothing
    changed.

    Out of the knowledge base's business hours nobody is there to queue for: the conversation
    waits for an answer by email instead (`after_hours.handoff_by_email`).
    """
    now = timezone.now()
    hours = conversation_hours(conversation_id)
    if hours is not None and not hours.is_open(now):
        return handoff_by_email(
            conversation_id=conversation_id,
            reason=reason,
            hours=hours,
            now=now,
            reply_to=reply_to,
            answer=answer,
        )
    with transaction.atomic():
        moved = Conversation.objects.filter(
            pk=conversation_id, status=Conversation.Status.BOT
        ).update(
            status=Conversation.Status.WAITING,
            handoff_reason=reason,
            handoff_at=timezone.now(),
            last_message_at=timezone.now(),
        )
        if not moved:
            return None
        if answer is None:
            answer = Answer(ASKED_TEXT, "handoff", 0.0, 0.0, True, reason)
        message = _bot_message_create(conversation_id, answer, reply_to=reply_to)
        _announce(message, queue=True)
        if not agents_online().exists():
            # Otherwise the customer waits in silence, not knowing that nobody is there yet.
            _no_agent_notice(conversation_id)
        else:
            _queue_notice(conversation_id, force=True)
        transaction.on_commit(conversations_assign)
    return message


ALREADY_WAITING_TEXT = (
    "You're already in the queue for a person. They will reply here as soon as they can."
)
ALREADY_WITH_AGENT_TEXT = "A person is already with you in this chat."
ALREADY_BY_EMAIL_TEXT = (
    "Our team is away right now, so a person will answer you by email. Please type your email "
    "address here if you haven't yet."
)


@dataclass(frozen=True)
class HumanRequest:
    """What asking for a human did: `queued` (handed off now), `email` (out of hours: a person
    answers by email), `waiting` (already in the queue) or `agent` (a person already has it);
    `text` says so to the customer."""

    outcome: str
    text: str


def conversation_human_request(*, conversation_id: int) -> HumanRequest:
    """The customer asks for a person. A conversation with the bot is handed off; otherwise
    nothing changes and the answer says why, so the button never does nothing visible.

    Raises ConversationClosed for a closed conversation (the customer starts a new one) and
    Conversation.DoesNotExist for a deleted one."""
    handed = conversation_handoff(conversation_id=conversation_id, reason="customer_asked")
    if handed is not None:
        if handed.answer_kind == AWAY_KIND:
            return HumanRequest("email", handed.text)
        return HumanRequest("queued", ASKED_TEXT)
    current = Conversation.objects.filter(pk=conversation_id).values_list("status", flat=True)
    status = current.first()
    if status is None:
        raise Conversation.DoesNotExist(f"Conversation {conversation_id} does not exist.")
    if status == Conversation.Status.CLOSED:
        raise ConversationClosed("This conversation is closed; please start a new one.")
    if status == Conversation.Status.AGENT:
        return HumanRequest("agent", ALREADY_WITH_AGENT_TEXT)
    if status == Conversation.Status.EMAIL:
        return HumanRequest("email", ALREADY_BY_EMAIL_TEXT)
    return HumanRequest("waiting", ALREADY_WAITING_TEXT)


def conversation_take_over(*, conversation_id: int, agent: Any) -> bool:
    """An agent takes the conversation; from now on the bot is silent in it. One waiting for an
    email answer can be taken too: the customer may still have the chat open."""
    with transaction.atomic():
        taken = Conversation.objects.filter(
            pk=conversation_id,
            status__in=[
                Conversation.Status.BOT,
                Conversation.Status.WAITING,
                Conversation.Status.EMAIL,
            ],
        ).update(
            status=Conversation.Status.AGENT, assigned_agent=agent, taken_over_at=timezone.now()
        )
        if not taken:
            # Already theirs (a second click, or a colleague transferred it to them): nothing
            # to announce again.
            current = Conversation.objects.filter(pk=conversation_id).first()
            if current is None:
                raise Conversation.DoesNotExist(f"Conversation {conversation_id} does not exist.")
            if current.status == Conversation.Status.CLOSED:
                raise ConversationClosed("This conversation is closed.")
            return (
                current.status == Conversation.Status.AGENT
                and current.assigned_agent_id == agent.pk
            )
        message = Message.objects.create(
            conversation_id=conversation_id,
            sender=Message.Sender.SYSTEM,
            text=f"{agent} joined the conversation.",
        )
        _announce(message, queue=True)
    return True


def conversation_transfer(*, conversation_id: int, agent: Any, to_agent_id: int | None) -> bool:
    """Hand an agent's conversation to a colleague, or back to the queue (to_agent_id None).

    A conversation an agent has is transferred only by that agent or a supervisor (as for
    closing); one waiting in the queue or with the bot by any agent."""
    with transaction.atomic():
        conversation = Conversation.objects.select_for_update().get(pk=conversation_id)
        if conversation.status == Conversation.Status.CLOSED:
            raise NotAllowed("A closed conversation cannot be transferred.")
        _colleague_refuse(conversation, agent, "transfer it")
        if to_agent_id:
            target = get_user_model().objects.filter(pk=to_agent_id, is_active=True).first()
            if target is None or not user_has_role(target, Role.SUPPORT_AGENT):
                raise InvalidText("Conversations can only be transferred to a support agent.")
            Conversation.objects.filter(pk=conversation_id).update(
                status=Conversation.Status.AGENT,
                assigned_agent=target,
                handoff_reason=Conversation.HandoffReason.AGENT_TRANSFER,
            )
            text = f"{agent} transferred the conversation to {target}."
        else:
            Conversation.objects.filter(pk=conversation_id).update(
                status=Conversation.Status.WAITING,
                assigned_agent=None,
                handoff_reason=Conversation.HandoffReason.AGENT_TRANSFER,
                handoff_at=conversation.handoff_at or timezone.now(),
            )
            text = f"{agent} put the conversation back in the queue."
        message = Message.objects.create(
            conversation_id=conversation_id, sender=Message.Sender.SYSTEM, text=text
        )
        _announce(message, queue=True)
        if not to_agent_id:
            transaction.on_commit(conversations_assign)
    return True
