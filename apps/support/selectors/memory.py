"""What the bot remembers of a conversation: the customer's earlier questions and its answers."""

from __future__ import annotations

from ..memory import Exchange
from ..models import Message

# Exchanges read before a question; follow-up chains reach back at most this far.
MEMORY_EXCHANGES = 6


def conversation_exchanges(
    *, conversation_id: int, before_id: int, limit: int = MEMORY_EXCHANGES
) -> list[Exchange]:
    """The customer's questions before message `before_id`, oldest first, each with the bot's
    answer to it (an agent's words are no bot answer: after a person joined, the bot is silent)."""
    questions = list(
        Message.objects.filter(
            conversation_id=conversation_id, sender=Message.Sender.CUSTOMER, pk__lt=before_id
        )
        .order_by("-pk")
        .values_list("pk", "text")[:limit]
    )
    answers = {
        reply_to: (text, kind)
        for reply_to, text, kind in Message.objects.filter(
            reply_to_id__in=[pk for pk, _ in questions]
        ).values_list("reply_to_id", "text", "answer_kind")
    }
    return [Exchange(text, *answers.get(pk, ("", ""))) for pk, text in reversed(questions)]
