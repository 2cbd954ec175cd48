"""FAQ drafts proposed by themselves: questions that agents answered again and again.

Resolved conversations an agent answered are grouped by the meaning of the customer's first
question (MiniLM vectors, cosine); a group of at least `MIN_CLUSTER` conversations that no FAQ
pair covers yet becomes a draft: the question nearest the group's centre, the agent's last
answer in that conversation, and the intent the bot saw most often. Agents review drafts on the
Draft FAQ page as any other.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt
from django.utils import timezone

from apps.mlops.runtime import texts_embed

from ..models import FAQ, Conversation, Message
from ..text import InvalidText, clean_text
from .faqs import faq_upsert

MIN_CLUSTER = 3
# Two questions ask the same thing above this cosine. With MiniLM, paraphrases of one banking
# question ("freeze my card" / "temporarily block my debit card") score 0.58-0.68 and different
# banking questions up to about 0.35 (tests/support/test_faq_proposals.py).
SAME_QUESTION = 0.55
# A group whose centre is this close to an existing FAQ question (any status) is covered.
COVERED = 0.85
LOOKBACK_DAYS = 90
MAX_CONVERSATIONS = 2000


@dataclass(frozen=True)
class _Resolved:
    conversation_id: int
    question: str
    answer: str
    intent: str


def _resolved(kb_id: int, since: datetime) -> list[_Resolved]:
    conversations = list(
        Conversation.objects.filter(
            kb_id=kb_id, status=Conversation.Status.CLOSED, closed_at__gte=since
        )
        .order_by("-closed_at")
        .values_list("pk", flat=True)[:MAX_CONVERSATIONS]
    )
    found: dict[int, dict[str, str]] = {pk: {} for pk in conversations}
    rows = Message.objects.filter(conversation_id__in=conversations).order_by("pk")
    for conversation_id, sender, text, intent in rows.values_list(
        "conversation_id", "sender", "text", "intent"
    ):
        seen = found[conversation_id]
        if sender == Message.Sender.CUSTOMER and "question" not in seen:
            seen["question"] = text
        elif sender == Message.Sender.AGENT:
            seen["answer"] = text  # the last one wins
        if intent and "intent" not in seen:
            seen["intent"] = intent
    return [
        _Resolved(pk, seen["question"], seen["answer"], seen.get("intent", ""))
        for pk, seen in found.items()
        if seen.get("question") and seen.get("answer")
    ]


def _clusters(vectors: npt.NDArray[np.float32]) -> list[list[int]]:
    """Groups of rows whose vectors are within SAME_QUESTION of the group's first member, the
    biggest groups first (greedy leader clustering: each row joins the best leader, or leads)."""
    leaders: list[int] = []
    members: dict[int, list[int]] = {}
    for row in range(len(vectors)):
        if leaders:
            sims = vectors[leaders] @ vectors[row]
            best = int(np.argmax(sims))
            if sims[best] >= SAME_QUESTION:
                members[leaders[best]].append(row)
                continue
        leaders.append(row)
        members[row] = [row]
    return sorted(members.values(), key=len, reverse=True)


def faq_drafts_propose(*, kb_id: int, days: int = LOOKBACK_DAYS) -> list[FAQ]:
    """Propose draft FAQ pairs from clusters of resolved conversations; returns the new drafts.
    Idempotent: a group an FAQ pair (draft or published) covers already is left alone."""
    resolved = _resolved(kb_id, timezone.now() - timedelta(days=days))
    if len(resolved) < MIN_CLUSTER:
        return []
    vectors = texts_embed([r.question for r in resolved])
    existing = list(FAQ.objects.filter(kb_id=kb_id).values_list("question", flat=True))
    existing_vectors = texts_embed(existing) if existing else None
    drafts: list[FAQ] = []
    for group in _clusters(vectors):
        if len(group) < MIN_CLUSTER:
            break
        centre = vectors[group].mean(axis=0)
        centre /= np.linalg.norm(centre) or 1.0
        if existing_vectors is not None and float(np.max(existing_vectors @ centre)) >= COVERED:
            continue
        medoid = resolved[group[int(np.argmax(vectors[group] @ centre))]]
        intents = Counter(resolved[i].intent for i in group if resolved[i].intent)
        try:
            faq, outcome = faq_upsert(
                kb_id=kb_id,
                question=clean_text(medoid.question[:500], max_chars=500, what="question"),
                answer=medoid.answer,
                intent=intents.most_common(1)[0][0] if intents else "",
                status=FAQ.Status.DRAFT,
                source_conversation_id=medoid.conversation_id,
            )
        except InvalidText:  # e.g. an answer too long for a pair: an agent drafts it by hand
            continue
        if outcome == "created":
            drafts.append(faq)
    return drafts
