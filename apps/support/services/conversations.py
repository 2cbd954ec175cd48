"""Conversations: start, the customer's and the agent's messages, notes, close."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from mlcore.language import language_detect

from ..models import Conversation, Message
from ..selectors import knowledge_base_get
from ..text import MAX_MESSAGE_CHARS, clean_text
from ._common import (
    ConversationClosed,
    NotAllowed,
    TooManyMessages,
    _announce,
    _colleague_refuse,
    _conversation_lock,
    _queue_notice,
    _touch,
)
from .handoff import conversation_take_over

CLOSED_TEXT = "This conversation is closed. How did we do? Please rate us from 1 to 5."
# Each message may start an answer (retrieval, a generation): as POST /ask/ is throttled, so is
# the chat, per conversation and whatever the channel (websocket or REST).
CUSTOMER_MESSAGES_PER_MINUTE = 20


@transaction.atomic
def conversation_start(
    *, kb_id: int | None = None, customer: Any = None, customer_name: str = ""
) -> Conversation:
    kb = knowledge_base_get(kb_id)
    user = customer if getattr(customer, "is_authenticated", False) else None
    name = customer_name.strip()[:150] or (str(user) if user else "")
    conversation = Conversation.objects.create(kb=kb, customer=user, customer_name=name)
    greeting = Message.objects.create(
        conversation=conversation,
        sender=Message.Sender.BOT,
        text=kb.greeting,
        answer_kind="greeting",
    )
    # Not to the queue: a visit shows there from the customer's first message on.
    _announce(greeting)
    return conversation


def customer_message_post(
    *, conversation_id: int, text: str, client_id: str | None = None
) -> tuple[Message, bool]:
    """Store a customer message once per client id; returns (message, created)."""
    text = clean_text(text, max_chars=MAX_MESSAGE_CHARS)
    client_id = (client_id or "").strip()[:64] or None
    with transaction.atomic():
        conversation = Conversation.objects.select_for_update().get(pk=conversation_id)
        if client_id:
            existing = Message.objects.filter(
                conversation_id=conversation_id, client_id=client_id
            ).first()
            if existing is not None:
                return existing, False
        if conversation.status == Conversation.Status.CLOSED:
            raise ConversationClosed("This conversation is closed; please start a new one.")
        recent = Message.objects.filter(
            conversation_id=conversation_id,
            sender=Message.Sender.CUSTOMER,
            created_at__gte=timezone.now() - timedelta(minutes=1),
        ).count()
        if recent >= CUSTOMER_MESSAGES_PER_MINUTE:
            raise TooManyMessages(
                "You are sending messages too quickly; please wait a moment and send it again."
            )
        try:
            with transaction.atomic():
                message = Message.objects.create(
                    conversation_id=conversation_id,
                    sender=Message.Sender.CUSTOMER,
                    text=text,
                    language=language_detect(text),
                    client_id=client_id,
                )
        except IntegrityError:
            return Message.objects.get(conversation_id=conversation_id, client_id=client_id), False
        _touch(conversation_id)
        _announce(message, queue=True)
        if conversation.status == Conversation.Status.WAITING:
            _queue_notice(conversation_id)
    return message, True


def agent_message_post(
    *, conversation_id: int, agent: Any, text: str, client_id: str | None = None
) -> tuple[Message, bool]:
    """An agent's reply; replying to a conversation not yet taken takes it over first."""
    text = clean_text(text, max_chars=MAX_MESSAGE_CHARS)
    client_id = (client_id or "").strip()[:64] or None
    conversation = Conversation.objects.get(pk=conversation_id)
    if conversation.status == Conversation.Status.CLOSED:
        raise ConversationClosed("This conversation is closed.")
    mine = (
        conversation.status == Conversation.Status.AGENT
        and conversation.assigned_agent_id == agent.pk
    )
    if not mine and not conversation_take_over(conversation_id=conversation_id, agent=agent):
        raise NotAllowed("Another agent has this conversation; ask them to transfer it.")
    with transaction.atomic():
        if client_id:
            existing = Message.objects.filter(
                conversation_id=conversation_id, client_id=client_id
            ).first()
            if existing is not None:
                return existing, False
        if _conversation_lock(conversation_id).status == Conversation.Status.CLOSED:
            raise ConversationClosed("This conversation is closed.")
        message = Message.objects.create(
            conversation_id=conversation_id,
            sender=Message.Sender.AGENT,
            author=agent,
            text=text,
            language=language_detect(text),
            client_id=client_id,
        )
        _touch(conversation_id)
        _announce(message, queue=True)
    return message, True


@transaction.atomic
def note_add(*, conversation_id: int, agent: Any, text: str) -> Message:
    """An internal note: visible to agents only."""
    text = clean_text(text, max_chars=MAX_MESSAGE_CHARS, what="note")
    _conversation_lock(conversation_id)
    message = Message.objects.create(
        conversation_id=conversation_id, sender=Message.Sender.NOTE, author=agent, text=text
    )
    _announce(message)
    return message


def conversation_close(*, conversation_id: int, by: Any = None) -> bool:
    """Close the conversation and ask the customer for a rating; False when already closed.

    A conversation an agent has (status agent) is closed only by that agent or a supervisor;
    one with the bot or waiting in the queue (assigned or not) by any agent, as before. `by`
    None is the system (a script, the admin's shell) and may close any.
    """
    with transaction.atomic():
        # Locked, so a takeover or transfer in between waits and the check below holds.
        conversation = Conversation.objects.select_for_update().filter(pk=conversation_id).first()
        if conversation is None:
            raise Conversation.DoesNotExist(f"Conversation {conversation_id} does not exist.")
        if conversation.status == Conversation.Status.CLOSED:
            return False
        _colleague_refuse(conversation, by, "close it. Ask them to close it or transfer it to you")
        Conversation.objects.filter(pk=conversation_id).update(
            status=Conversation.Status.CLOSED, closed_at=timezone.now()
        )
        message = Message.objects.create(
            conversation_id=conversation_id,
            sender=Message.Sender.SYSTEM,
            text=CLOSED_TEXT,
            answer_kind="csat_request",
        )
        _announce(message, queue=True)
    return True
