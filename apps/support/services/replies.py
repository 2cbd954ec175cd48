"""The bot's reply to a customer message: compose, write unless a person took over, or hand off."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import IntegrityError, transaction

from .. import realtime
from ..answers import ASKED_TEXT, HANDOFF_TEXT, Answer, answer_compose
from ..memory import Exchange
from ..models import Conversation, Message
from ..scope import DECLINED_TEXT, OFFER_KIND, offer_accepted, offer_declined
from ..selectors import conversation_exchanges
from ._common import _announce, _bot_message_create, _touch
from .after_hours import email_address_take
from .handoff import conversation_handoff

log = logging.getLogger(__name__)
# How often a streaming answer checks that the conversation is still with the bot (a query).
TOKEN_CHECK_EVERY = 8


def bot_reply(
    *,
    conversation_id: int,
    message_id: int,
    on_token: Callable[[str], bool] | None = None,
) -> Message | None:
    """Answer one customer message if the conversation is still with the bot.

    The answer is composed outside any lock (retrieval and generation take time), then written
    only if, at write time, no human has taken over; otherwise it is dropped. Out of hours,
    after the handoff, the customer's messages give the email address for the answer.
    """
    # The knowledge base comes with the conversation: the composer needs its row.
    conversation = Conversation.objects.select_related("kb").get(pk=conversation_id)
    if conversation.status == Conversation.Status.EMAIL:
        return email_address_take(conversation_id=conversation_id, message_id=message_id)
    question = Message.objects.get(pk=message_id, conversation_id=conversation_id)
    if (
        conversation.status != Conversation.Status.BOT
        or Message.objects.filter(reply_to=question).exists()
    ):
        return None
    history = conversation_exchanges(conversation_id=conversation_id, before_id=message_id)
    answer = _offer_answered(question.text, history[-1:]) or answer_compose(
        kb_id=conversation.kb_id,
        kb=conversation.kb,
        question=question.text,
        on_token=on_token,
        history=history,
    )
    if answer.handoff:
        return conversation_handoff(
            conversation_id=conversation_id,
            reason=answer.handoff_reason,
            answer=answer,
            reply_to=message_id,
        )
    with transaction.atomic():
        locked = Conversation.objects.select_for_update().get(pk=conversation_id)
        if locked.status != Conversation.Status.BOT:
            return None
        try:
            with transaction.atomic():
                message = _bot_message_create(conversation_id, answer, reply_to=message_id)
        except IntegrityError:  # answered already by a concurrent delivery
            return None
        _touch(conversation_id)
        _announce(message)
    return message


def _offer_answered(text: str, last: list[Exchange]) -> Answer | None:
    """The customer's yes or no to the bot's offer of a person (after an off-topic question):
    yes hands the conversation to the queue, no keeps it with the bot. None for anything else,
    which is answered as a question."""
    if not last or last[0].answer_kind != OFFER_KIND:
        return None
    if offer_accepted(text):
        return Answer(ASKED_TEXT, "handoff", 0.0, 0.0, True, "customer_asked")
    if offer_declined(text):
        return Answer(DECLINED_TEXT, "declined", 0.0, 0.0, False)
    return None


def bot_reply_or_handoff(
    *,
    conversation_id: int,
    message_id: int,
    on_token: Callable[[str], bool] | None = None,
) -> Message | None:
    """`bot_reply`, but a failing bot (a missing model, a broken index) hands the customer to
    a human instead of leaving their stored question unanswered."""
    try:
        return bot_reply(conversation_id=conversation_id, message_id=message_id, on_token=on_token)
    except Exception:
        log.exception("bot reply failed; handing conversation %s to a human", conversation_id)
        reason = Conversation.HandoffReason.NO_KNOWLEDGE
        return conversation_handoff(
            conversation_id=conversation_id,
            reason=reason,
            answer=Answer(HANDOFF_TEXT, "handoff", 0.0, 0.0, True, reason),
        )


def bot_reply_stream(*, conversation_id: int, message_id: int) -> Message | None:
    """Answer a customer's chat message live: the bot shows as typing, the tokens of a generated
    answer reach the customer as they come, and the stream stops at once when a person takes
    over (checked every TOKEN_CHECK_EVERY tokens). The answer is then written as in
    `bot_reply_or_handoff`; returns that message, or None when nothing was written."""
    conversation = Conversation.objects.get(pk=conversation_id)
    if conversation.status == Conversation.Status.EMAIL:
        return email_address_take(conversation_id=conversation_id, message_id=message_id)
    if conversation.status != Conversation.Status.BOT:
        return None
    realtime.typing_broadcast(conversation_id=conversation_id, who="bot", on=True, to_customer=True)
    sent = 0

    def on_token(token: str) -> bool:
        nonlocal sent
        sent += 1
        if (
            sent % TOKEN_CHECK_EVERY == 0
            and not Conversation.objects.filter(
                pk=conversation_id, status=Conversation.Status.BOT
            ).exists()
        ):
            return False  # a person took over: stop talking at once
        realtime.token_broadcast(conversation_id=conversation_id, reply_to=message_id, text=token)
        return True

    try:
        return bot_reply_or_handoff(
            conversation_id=conversation_id, message_id=message_id, on_token=on_token
        )
    finally:
        realtime.typing_broadcast(
            conversation_id=conversation_id, who="bot", on=False, to_customer=True
        )
