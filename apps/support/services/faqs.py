"""FAQ pairs and past conversations: the suggested replies and the bot's FAQ answers."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from ..models import FAQ, Article, PastConversation
from ..retrieval import REPLY_INDEX, reply_index_id, vectors_remove
from ..text import InvalidText, clean_text
from ._common import _embed_later


class _Keep(enum.Enum):
    """`faq_update(article_id=...)` left out: the pair keeps its article (None unlinks it)."""

    KEEP = "keep"


def faq_values_clean(
    *,
    kb_id: int,
    faq_id: int | None = None,
    question: str,
    answer: str,
    intent: str = "",
    status: str = FAQ.Status.PUBLISHED,
    article_id: int | None = None,
) -> dict[str, Any]:
    """The rules every FAQ write follows (pages, API, admin); raises InvalidText.

    With `faq_id` (an edit of that pair) a question another pair of the KB has is refused;
    without it the question names the pair to create or update.
    """
    if status not in FAQ.Status.values:
        raise InvalidText(f"Unknown status {status!r}.")
    if not isinstance(intent, str):
        raise InvalidText("The intent must be text.")
    if article_id is not None and not Article.objects.filter(pk=article_id, kb_id=kb_id).exists():
        raise InvalidText("The linked article must be an article of the same knowledge base.")
    question = clean_text(question, max_chars=500, what="question")
    if faq_id is not None and (
        FAQ.objects.filter(kb_id=kb_id, question=question).exclude(pk=faq_id).exists()
    ):
        raise InvalidText("Another FAQ pair already has this question; edit or discard that one.")
    return {
        "question": question,
        "answer": clean_text(answer, max_chars=5000, what="answer"),
        "intent": intent.strip()[:100],
        "status": status,
        "article_id": article_id,
    }


@transaction.atomic
def faq_upsert(
    *,
    kb_id: int,
    question: str,
    answer: str,
    intent: str = "",
    status: str = FAQ.Status.PUBLISHED,
    article_id: int | None = None,
    source_conversation_id: int | None = None,
) -> tuple[FAQ, str]:
    cleaned = faq_values_clean(
        kb_id=kb_id,
        question=question,
        answer=answer,
        intent=intent,
        status=status,
        article_id=article_id,
    )
    question = cleaned["question"]
    values: dict[str, str | int] = {
        "answer": cleaned["answer"],
        "intent": cleaned["intent"],
        "status": status,
    }
    if article_id:
        values["article_id"] = article_id
    if source_conversation_id:
        values["source_conversation_id"] = source_conversation_id
    faq = FAQ.objects.select_for_update().filter(kb_id=kb_id, question=question).first()
    if faq is None:
        faq = FAQ.objects.create(kb_id=kb_id, question=question, **values)
        _embed_later(kb_id)
        return faq, "created"
    changed = [k for k, v in values.items() if getattr(faq, k) != v]
    if not changed:
        return faq, "unchanged"
    for k in changed:
        setattr(faq, k, values[k])
    faq.save(update_fields=[*changed, "updated_at"])
    return faq, "updated"


@transaction.atomic
def faq_delete(*, faq_id: int) -> None:
    faq = FAQ.objects.get(pk=faq_id)
    faq.delete()
    transaction.on_commit(lambda: vectors_remove(REPLY_INDEX, [reply_index_id("faq", faq_id)]))


@transaction.atomic
def faq_update(
    *,
    faq_id: int,
    question: str,
    answer: str,
    intent: str = "",
    status: str | None = None,
    article_id: int | _Keep | None = _Keep.KEEP,
) -> FAQ:
    """Edit a FAQ pair; a changed question is embedded again for the suggested replies.

    `status` None keeps the pair's status; `article_id` left out keeps its article.
    """
    faq = FAQ.objects.select_for_update().get(pk=faq_id)
    values = faq_values_clean(
        kb_id=faq.kb_id,
        faq_id=faq.pk,
        question=question,
        answer=answer,
        intent=intent,
        status=faq.status if status is None else status,
        article_id=faq.article_id if article_id is _Keep.KEEP else article_id,
    )
    changed = [name for name, value in values.items() if getattr(faq, name) != value]
    for name in changed:
        setattr(faq, name, values[name])
    if "question" in changed:
        faq.embedded = False
        changed.append("embedded")
    if changed:
        try:
            with transaction.atomic():
                faq.save(update_fields=[*changed, "updated_at"])
        except IntegrityError as exc:  # the same question saved by someone else meanwhile
            raise InvalidText("Another FAQ pair already has this question.") from exc
    if not faq.embedded:
        _embed_later(faq.kb_id)
    return faq


@transaction.atomic
def faq_publish(
    *, faq_id: int, question: str, answer: str, intent: str = "", replace_current: bool = False
) -> FAQ:
    """Publish a reviewed draft with the reviewer's edits.

    The bot sends the oldest published pair of an intent, so a second pair for the same intent
    only serves as a suggested reply; `replace_current` sends the earlier ones back to the
    drafts so the bot answers with this one.
    """
    faq = faq_update(faq_id=faq_id, question=question, answer=answer, intent=intent)
    if replace_current and faq.intent:
        earlier = FAQ.objects.filter(
            kb_id=faq.kb_id, status=FAQ.Status.PUBLISHED, intent=faq.intent
        ).exclude(pk=faq.pk)
        earlier.update(status=FAQ.Status.DRAFT, updated_at=timezone.now())
    if faq.status != FAQ.Status.PUBLISHED:
        faq.status = FAQ.Status.PUBLISHED
        faq.save(update_fields=["status", "updated_at"])
    return faq


@transaction.atomic
def faq_draft_discard(*, faq_id: int) -> bool:
    """Delete a draft pair; a published one is left alone (it may have been published
    meanwhile). Returns whether a draft was deleted."""
    deleted, _ = FAQ.objects.filter(pk=faq_id, status=FAQ.Status.DRAFT).delete()
    if deleted:
        transaction.on_commit(lambda: vectors_remove(REPLY_INDEX, [reply_index_id("faq", faq_id)]))
    return bool(deleted)


@transaction.atomic
def past_conversation_upsert(
    *, kb_id: int, question: str, best_reply: str = "", intent: str = ""
) -> tuple[PastConversation, str]:
    values = past_conversation_values_clean(
        kb_id=kb_id, question=question, best_reply=best_reply, intent=intent
    )
    question, best_reply, intent = values["question"], values["best_reply"], values["intent"]
    past = PastConversation.objects.filter(kb_id=kb_id, question=question).first()
    if past is None:
        past = PastConversation.objects.create(
            kb_id=kb_id, question=question, best_reply=best_reply, intent=intent
        )
        _embed_later(kb_id)
        return past, "created"
    if past.best_reply == best_reply and past.intent == intent:
        return past, "unchanged"
    PastConversation.objects.filter(pk=past.pk).update(best_reply=best_reply, intent=intent)
    return past, "updated"


def past_conversation_values_clean(
    *, kb_id: int, past_id: int | None = None, question: str, best_reply: str = "", intent: str = ""
) -> dict[str, str]:
    """The rules every past-conversation write follows (import, API, admin); raises InvalidText.

    With `past_id` (an edit of that exchange) a question another exchange of the KB has is
    refused; without it the question names the exchange to create or update."""
    question = clean_text(question, max_chars=1000, what="question")
    if past_id is not None and (
        PastConversation.objects.filter(kb_id=kb_id, question=question).exclude(pk=past_id).exists()
    ):
        raise InvalidText("Another past conversation of this knowledge base has this question.")
    return {
        "question": question,
        "best_reply": best_reply.strip()[:5000],
        "intent": intent.strip()[:100],
    }


@transaction.atomic
def past_conversation_update(
    *, past_id: int, question: str, best_reply: str = "", intent: str = ""
) -> PastConversation:
    """Edit a past conversation; a changed question is embedded again for the suggested replies
    (its vector keeps its id in the index, so the new one replaces it)."""
    past = PastConversation.objects.select_for_update().get(pk=past_id)
    values = past_conversation_values_clean(
        kb_id=past.kb_id, past_id=past.pk, question=question, best_reply=best_reply, intent=intent
    )
    changed = [name for name, value in values.items() if getattr(past, name) != value]
    for name in changed:
        setattr(past, name, values[name])
    if "question" in changed:
        past.embedded = False
        changed.append("embedded")
    if changed:
        past.save(update_fields=changed)
    if not past.embedded:
        _embed_later(past.kb_id)
    return past


@transaction.atomic
def past_conversation_delete(*, past_id: int) -> None:
    PastConversation.objects.get(pk=past_id).delete()
    transaction.on_commit(lambda: vectors_remove(REPLY_INDEX, [reply_index_id("past", past_id)]))


@transaction.atomic
def faqs_delete(*, faq_ids: Sequence[int]) -> None:
    """`faq_delete` for each, all or none."""
    for faq_id in faq_ids:
        faq_delete(faq_id=faq_id)


@transaction.atomic
def past_conversations_delete(*, past_ids: Sequence[int]) -> None:
    """`past_conversation_delete` for each, all or none."""
    for past_id in past_ids:
        past_conversation_delete(past_id=past_id)
