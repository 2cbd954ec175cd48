"""Composing the bot's answer: FAQ template, extractive or generated, with calibrated confidence.

`answer_compose` is the one path behind the live chat, the ask API and the console's test box,
so what an admin tests is what customers get.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypedDict

import numpy as np

from mlcore.text import sentences_split

from . import generation
from .encoders import kb_texts_embed
from .intent import IntentGuess, intents_predict
from .memory import Exchange, query_rewrite
from .models import FAQ, Article, KnowledgeBase
from .retrieval import Passage, article_url, kb_uses_intents, passages_retrieve
from .scope import OFFER_KIND, offer_text, out_of_scope
from .selectors import article_intents_map
from .text import MAX_MESSAGE_CHARS, clean_text, tokens

log = logging.getLogger(__name__)

HANDOFF_TEXT = "I'm not sure I can answer that well, so I'm fetching a colleague who can help."
ASKED_TEXT = "Of course, I'm fetching a colleague. Someone will be with you shortly."
HUMAN_REQUEST = re.compile(
    r"\b(human|real person|live agent|an agent|operator|representative|"
    r"(speak|talk|chat) (to|with) (a |an )?(person|someone|somebody|agent|staff))\b",
    re.IGNORECASE,
)
MAX_ANSWER_CHARS = 600


@dataclass(frozen=True)
class Answer:
    text: str
    kind: str  # faq | extractive | generated | handoff | out_of_scope
    confidence: float
    raw_score: float
    handoff: bool
    handoff_reason: str = ""
    intent: str = ""
    intent_probability: float | None = None
    citations: tuple[dict[str, Any], ...] = ()
    sources: tuple[dict[str, Any], ...] = ()
    faq_id: int | None = None
    top_article_id: int | None = None
    extras: dict[str, Any] = field(default_factory=dict)


class _AnswerCommon(TypedDict):
    """The Answer fields shared by every answer built from retrieved passages."""

    raw_score: float
    intent: str
    intent_probability: float | None
    sources: tuple[dict[str, Any], ...]
    top_article_id: int


def human_requested(text: str) -> bool:
    return bool(HUMAN_REQUEST.search(text))


# -- confidence ---------------------------------------------------------------------------------
def raw_score(top_dense: float, guess: IntentGuess | None, agree: bool) -> float:
    """A monotone blend of retrieval similarity and intent probability, in [0, 1]."""
    dense_part = min(1.0, max(0.0, (top_dense - 0.2) / 0.6))
    if guess is None:
        return dense_part
    return 0.5 * dense_part + 0.5 * guess.probability * (1.0 if agree else 0.4)


def calibrated(kb: KnowledgeBase, raw: float) -> float:
    """P(correct answer) from the KB's isotonic fit; without one, the raw score as is."""
    table = kb.calibration or {}
    xs, ys = table.get("x"), table.get("y")
    if not xs or not ys:
        return round(raw, 4)
    return round(float(np.interp(raw, xs, ys)), 4)


def calibration_fit(pairs: Sequence[tuple[float, bool]]) -> dict[str, Any]:
    """Isotonic regression of correctness on the raw score (held-out questions)."""
    from sklearn.isotonic import IsotonicRegression

    if len(pairs) < 10:
        raise ValueError("need at least 10 held-out questions to calibrate")
    x = np.array([p[0] for p in pairs], dtype=float)
    y = np.array([1.0 if p[1] else 0.0 for p in pairs])
    iso = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip")
    iso.fit(x, y)
    return {
        "x": [round(float(v), 5) for v in iso.X_thresholds_],
        "y": [round(float(v), 5) for v in iso.y_thresholds_],
        "n": len(pairs),
        "base_rate": round(float(y.mean()), 4),
    }


# -- composition --------------------------------------------------------------------------------
def _agree(guess: IntentGuess | None, passages: Sequence[Passage]) -> bool:
    return guess is not None and any(guess.label in p.intents for p in passages[:3])


def _citations(passages: Sequence[Passage]) -> tuple[dict[str, Any], ...]:
    seen: dict[int, dict[str, Any]] = {}
    for p in passages:
        if p.article_id not in seen:
            seen[p.article_id] = {"article_id": p.article_id, "title": p.title, "url": p.url}
    return tuple(seen.values())


def extractive_text(question: str, passages: Sequence[Passage]) -> tuple[str, list[Passage]]:
    """The sentences of the best passages that share most words with the question."""
    wanted = set(tokens(question))
    scored: list[tuple[float, int, int, str]] = []
    for rank, passage in enumerate(passages[:2]):
        for i, sentence in enumerate(sentences_split(passage.text, lines=True)):
            words = set(tokens(sentence))
            overlap = len(wanted & words) / math.sqrt(len(words) + 1)
            # The best passage is preferred; its opening sentence usually states the answer.
            scored.append(
                (
                    overlap + (0.5 if rank == 0 else 0.0) + (0.2 if i == 0 else 0.0),
                    rank,
                    i,
                    sentence,
                )
            )
    chosen: list[tuple[int, int, str]] = []
    total = 0
    for _score, rank, i, sentence in sorted(scored, key=lambda s: -s[0]):
        if total + len(sentence) > MAX_ANSWER_CHARS and chosen:
            break
        chosen.append((rank, i, sentence))
        total += len(sentence)
        if len(chosen) == 3:
            break
    chosen.sort()
    used = [passages[r] for r in sorted({rank for rank, _, _ in chosen})]
    return " ".join(s for _, _, s in chosen), used


def answer_compose(
    *,
    kb_id: int,
    question: str,
    on_token: Callable[[str], bool] | None = None,
    use_intent: bool = True,
    passages: Sequence[Passage] | None = None,
    guess: IntentGuess | None = None,
    history: Sequence[Exchange] = (),
    kb: KnowledgeBase | None = None,
) -> Answer:
    """Answer a customer question from the knowledge base, or decide to hand it to a human.

    `history` holds the conversation's earlier exchanges (oldest first): a follow-up is searched
    with the questions it refers to (`extras["query"]` says with what). `on_token` receives
    generated tokens as they stream; returning False stops generation (an agent took over).
    An off-topic question gets an offer of a person (kind `out_of_scope`), not a handoff.
    Raises `InvalidText` for unusable questions. `kb` is the knowledge base's row when the
    caller has just read it (the ask API, the live chat): one query less per question.
    """
    question = clean_text(question, max_chars=MAX_MESSAGE_CHARS, what="question")
    if kb is None or kb.pk != kb_id:
        kb = KnowledgeBase.objects.get(pk=kb_id)
    if human_requested(question):
        return Answer(ASKED_TEXT, "handoff", 0.0, 0.0, True, "customer_asked")
    rewrite = query_rewrite(question, history)
    query = rewrite.query
    extras: dict[str, Any] = {"query": query} if rewrite.follow_up else {}
    if passages is None:
        passages = passages_retrieve(kb_id=kb_id, query=query, k=5, kb=kb)
    if use_intent and guess is None and kb_uses_intents(kb_id=kb_id, kb=kb):
        guesses = intents_predict([query])
        guess = guesses[0] if guesses else None
    sources = tuple(p.as_source() for p in passages)
    intent = guess.label if guess else ""
    probability = round(guess.probability, 4) if guess else None
    if out_of_scope(passages, guess, kb.handoff_threshold):
        raw_top = raw_score(passages[0].dense, guess, False) if passages else 0.0
        return Answer(
            offer_text(kb.scope),
            OFFER_KIND,
            calibrated(kb, raw_top),
            round(raw_top, 4),
            False,
            intent=intent,
            intent_probability=probability,
            sources=sources,
            extras=extras,
        )
    agree = _agree(guess, passages)
    raw = raw_score(passages[0].dense, guess, agree)
    confidence = calibrated(kb, raw)
    common: _AnswerCommon = {
        "raw_score": round(raw, 4),
        "intent": intent,
        "intent_probability": probability,
        "sources": sources,
        "top_article_id": passages[0].article_id,
    }
    if guess is not None and agree and guess.probability >= kb.faq_threshold:
        faq = (
            FAQ.objects.filter(kb_id=kb_id, status=FAQ.Status.PUBLISHED, intent=guess.label)
            .select_related("article")
            .order_by("id")
            .first()
        )
        if faq is not None and confidence >= kb.handoff_threshold:
            matching = [p for p in passages if guess.label in p.intents]
            # A draft article's page is a 404 for customers: cite a published passage instead.
            if faq.article is not None and faq.article.status == Article.Status.PUBLISHED:
                assert faq.article_id is not None  # the article is loaded, so its id is set
                cites: tuple[dict[str, Any], ...] = (
                    {
                        "article_id": faq.article_id,
                        "title": faq.article.title,
                        "url": article_url(faq.article_id, faq.article.url),
                    },
                )
            else:
                cites = _citations(matching[:1] or passages[:1])
            return Answer(
                faq.answer,
                "faq",
                confidence,
                handoff=False,
                citations=cites,
                faq_id=faq.pk,
                extras=extras,
                **common,
            )
    if confidence < kb.handoff_threshold:
        return Answer(
            HANDOFF_TEXT,
            "handoff",
            confidence,
            handoff=True,
            handoff_reason="low_confidence",
            extras=extras,
            **common,
        )
    if kb.answer_mode == KnowledgeBase.AnswerMode.GENERATED:
        generated = _generate(kb, question, passages, on_token, history)
        if generated is not None:
            return Answer(
                generated,
                "generated",
                confidence,
                handoff=False,
                citations=_citations(passages[:3]),
                extras=extras,
                **common,
            )
    # The rewritten query picks the sentences: the follow-up's words ("how long") and its topic.
    text, used = extractive_text(query, passages)
    return Answer(
        text,
        "extractive",
        confidence,
        handoff=False,
        citations=_citations(used),
        extras=extras,
        **common,
    )


def _generate(
    kb: KnowledgeBase,
    question: str,
    passages: Sequence[Passage],
    on_token: Callable[[str], bool] | None,
    history: Sequence[Exchange] = (),
) -> str | None:

    parts: list[str] = []
    try:
        endpoint = kb.llm_endpoint
        generator = generation.generator_for(
            base_url=endpoint.base_url if endpoint else "",
            model=kb.llm_model or (endpoint.model if endpoint else ""),
        )
        turns = [(e.question, e.answer) for e in history if e.answer]
        texts = [f"{p.title}: {p.text}" for p in passages]
        for token in generator.stream(question, texts, history=turns):
            parts.append(token)
            if on_token is not None and on_token(token) is False:
                break
    except Exception:  # a dead endpoint must not leave the customer without an answer
        log.exception("generation failed; falling back to the extractive answer")
        return None
    text = "".join(parts).strip()
    return text or None


# -- evaluation over labelled questions ------------------------------------------------------
@dataclass(frozen=True)
class Judged:
    text: str
    label: str
    predicted: str
    raw: float
    confidence: float
    route_correct: bool
    article_hit_1: bool
    article_hit_3: bool


def answers_judge(
    *, kb_id: int, rows: Sequence[tuple[str, str]], progress: Callable[[int], None] | None = None
) -> list[Judged]:
    """Run each labelled question through retrieval + intent (as the live path scores them)."""

    kb = KnowledgeBase.objects.get(pk=kb_id)
    intents_of = article_intents_map(kb_id=kb_id)
    out: list[Judged] = []
    batch = 64
    for start in range(0, len(rows), batch):
        part = rows[start : start + batch]
        texts = [t for t, _ in part]
        vectors = kb_texts_embed(texts, kb.embedding_model, kb.adapted_base)
        guesses: Sequence[IntentGuess | None] = intents_predict(texts) or [None] * len(texts)
        for (text, label), vector, guess in zip(part, vectors, guesses):
            passages = passages_retrieve(kb_id=kb_id, query=text, k=5, vector=vector)
            articles: list[int] = []
            for p in passages:
                if p.article_id not in articles:
                    articles.append(p.article_id)
            hit1 = bool(articles) and label in intents_of.get(articles[0], ())
            hit3 = any(label in intents_of.get(a, ()) for a in articles[:3])
            agree = _agree(guess, passages)
            raw = raw_score(passages[0].dense, guess, agree) if passages else 0.0
            faq_route = guess is not None and agree and guess.probability >= kb.faq_threshold
            correct = (guess.label == label) if faq_route and guess else hit1
            out.append(
                Judged(
                    text,
                    label,
                    guess.label if guess else "",
                    raw,
                    calibrated(kb, raw),
                    correct,
                    hit1,
                    hit3,
                )
            )
        if progress:
            progress(len(out))
    return out


def thresholds_table(judged: Sequence[Judged], thresholds: Sequence[float]) -> list[dict[str, Any]]:
    """For each threshold: share answered, share handed off, accuracy of the answered ones."""
    rows = []
    n = len(judged) or 1
    for t in thresholds:
        answered = [j for j in judged if j.confidence >= t]
        rows.append(
            {
                "threshold": t,
                "answered_rate": round(len(answered) / n, 4),
                "handoff_rate": round(1 - len(answered) / n, 4),
                "answered_accuracy": round(
                    sum(j.route_correct for j in answered) / len(answered), 4
                )
                if answered
                else None,
            }
        )
    return rows
