"""Out of scope: a question the knowledge base knows nothing about stays with the bot.

The bot says what it can help with and offers a person; the conversation goes to the human
queue only when the customer accepts (says yes, or presses "Talk to a human"). Agents no longer
get the weather, pizza and test messages that used to be handed off as "no knowledge".
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .intent import IntentGuess
from .retrieval import Passage

# Below this cosine between the question and its best passage nothing in the knowledge base is
# about the question (MiniLM; bench/support.py --only memory measures it: banking77 questions
# stay above it, the off-topic questions fall below).
OUT_OF_SCOPE_DENSE = 0.3
OUT_OF_SCOPE_TEXT = (
    "Sorry, I can only help with {scope}. Would you like me to fetch a person? Say yes, or "
    "ask me something else."
)
DECLINED_TEXT = "All right. What else can I help you with?"
OFFER_KIND = "out_of_scope"

_ACCEPT = re.compile(
    r"^\s*(yes|yes please|yeah|yep|yup|sure|ok|okay|please|please do|go ahead|y|yes,? please"
    r"|a person|a human|person|human)\s*[.!]*\s*$",
    re.IGNORECASE,
)
_DECLINE = re.compile(r"^\s*(no|no thanks|no thank you|nope|nah|n|not now)\s*[.!]*\s*$", re.I)


def out_of_scope(
    passages: Sequence[Passage], guess: IntentGuess | None, intent_threshold: float
) -> bool:
    """No passage close to the question and no intent above the threshold."""
    intent_sure = guess is not None and guess.probability >= intent_threshold
    top = passages[0].dense if passages else 0.0
    return top < OUT_OF_SCOPE_DENSE and not intent_sure


def offer_text(scope: str) -> str:
    return OUT_OF_SCOPE_TEXT.format(scope=scope.strip() or "questions about our services")


def offer_accepted(text: str) -> bool:
    return bool(_ACCEPT.match(text))


def offer_declined(text: str) -> bool:
    return bool(_DECLINE.match(text))
