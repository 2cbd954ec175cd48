"""Writes: knowledge (articles, chunks, FAQ, past conversations, imports) and live chat.

Chat rules that customers and agents rely on, each enforced by a conditional update or a row lock:
- the bot writes only while the conversation is with the bot (never after a takeover);
- a handoff is stored (status + system message) before anyone is told about it;
- a closed conversation never goes back to the queue;
- a conversation an agent has is closed only by that agent or a supervisor (staff).
"""

from __future__ import annotations

import csv
import enum
import io
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import PurePosixPath
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q
from django.utils import timezone
from django.utils.text import slugify

from apps.accounts.models import Role
from apps.accounts.roles import user_has_role
from apps.core.outbound import OutboundError, outbound_fetch
from apps.mlops.upload_jobs import upload_max_rows
from apps.mlops.vectors import named_index, texts_embed
from mlcore.text import content_hash

from . import realtime
from .answers import Answer, answer_compose
from .models import (
    FAQ,
    AgentPresence,
    Article,
    Chunk,
    Conversation,
    KnowledgeBase,
    LlmEndpoint,
    Message,
    PastConversation,
)
from .retrieval import CHUNK_INDEX, REPLY_INDEX, reply_index_id
from .selectors import ANSWER_KINDS, PRESENCE_TTL_S, agents_online, knowledge_base_get
from .text import (
    MAX_ARTICLE_CHARS,
    MAX_MESSAGE_CHARS,
    InvalidText,
    chunks_split,
    clean_text,
    decode_upload,
    html_to_markdownish,
    pdf_to_text,
)

log = logging.getLogger(__name__)
MAX_IMPORT_BYTES = 10 * 1024 * 1024
URL_IMPORT_DEADLINE_S = 30.0  # the whole download of an imported page
CLOSED_TEXT = "This conversation is closed. How did we do? Please rate us from 1 to 5."
# Each message may start an answer (retrieval, a generation): as POST /ask/ is throttled, so is
# the chat, per conversation and whatever the channel (websocket or REST).
CUSTOMER_MESSAGES_PER_MINUTE = 20
NO_AGENT_ONLINE_TEXT = (
    "No agent is online right now. Your conversation is queued, and an agent will reply here "
    "as soon as one is available."
)


class ConversationClosed(Exception):
    """The conversation is closed; the customer should start a new one."""


class NotAllowed(Exception):
    """The action does not fit the conversation's state; the message says why."""


class TooManyMessages(Exception):
    """A customer writes faster than a person types (a script): the message is not stored."""


class NotPermitted(Exception):
    """This user may not do that to the conversation (it is a colleague's); the message says
    why. Pages and the API answer 403."""


# == knowledge =====================================================================================
def knowledge_base_ensure(*, name: str = "Help centre") -> KnowledgeBase:
    kb, _ = KnowledgeBase.objects.get_or_create(name=name)
    if not KnowledgeBase.objects.filter(is_default=True).exists():
        KnowledgeBase.objects.filter(pk=kb.pk).update(is_default=True)
        kb.refresh_from_db()
    return kb


def _content_changed(kb_id: int) -> None:
    KnowledgeBase.objects.filter(pk=kb_id).update(content_version=F("content_version") + 1)


def _embed_later(kb_id: int) -> None:
    from .tasks import knowledge_embed_task

    transaction.on_commit(lambda: knowledge_embed_task.delay(kb_id))


def _string_list(value: Any, what: str) -> list[str]:
    if value in (None, ""):
        return []
    if isinstance(value, str):
        value = [v for v in value.replace(";", ",").split(",")]
    if not isinstance(value, list | tuple):
        raise InvalidText(f"{what} must be a list of words.")
    return sorted({str(v).strip() for v in value if str(v).strip()})[:50]


@transaction.atomic
def article_upsert(
    *,
    kb_id: int,
    title: str,
    body: str,
    body_format: str = Article.Format.MARKDOWN,
    source_key: str = "",
    tags: Any = None,
    intents: Any = None,
    url: str = "",
    status: str = Article.Status.PUBLISHED,
) -> tuple[Article, str]:
    """Create or update the article with this source key; returns (article, created|updated|
    unchanged). Only chunks whose text changed are re-embedded."""
    title = clean_text(title, max_chars=300, what="title")
    body = clean_text(body, max_chars=MAX_ARTICLE_CHARS, what="article body")
    if body_format not in Article.Format.values:
        raise InvalidText(f"Unknown body format {body_format!r}.")
    if status not in Article.Status.values:
        raise InvalidText(f"Unknown status {status!r}.")
    key = (source_key or slugify(title) or content_hash(title)[:16])[:500]
    values = {
        "title": title,
        "body": body,
        "body_format": body_format,
        "tags": _string_list(tags, "tags"),
        "intents": _string_list(intents, "intents"),
        "url": url[:500],
        "status": status,
    }
    article = Article.objects.select_for_update().filter(kb_id=kb_id, source_key=key).first()
    if article is None:
        article = Article.objects.create(kb_id=kb_id, source_key=key, **values)
        outcome = "created"
    else:
        changed = [name for name, value in values.items() if getattr(article, name) != value]
        if not changed:
            return article, "unchanged"
        for name in changed:
            setattr(article, name, values[name])
        article.save(update_fields=[*changed, "updated_at"])
        outcome = "updated"
    chunks_sync(article=article)
    _content_changed(kb_id)
    return article, outcome


def chunks_sync(*, article: Article) -> tuple[int, int]:
    """Match the article's new chunks to the stored ones by content hash: unchanged text keeps
    its vector; new text is queued for embedding; vanished text loses its vector. Returns
    (added, removed)."""
    drafts = chunks_split(article.title, article.body, article.body_format)
    existing: dict[str, list[Chunk]] = {}
    for chunk in Chunk.objects.filter(article=article):
        existing.setdefault(chunk.content_hash, []).append(chunk)
    keep: list[Chunk] = []
    new: list[Chunk] = []
    for draft in drafts:
        digest = content_hash(article.title, draft.heading, draft.text)
        same = existing.get(digest)
        if same:
            chunk = same.pop()
            if chunk.position != draft.position:
                chunk.position = draft.position
                keep.append(chunk)
        else:
            new.append(
                Chunk(
                    article=article,
                    kb_id=article.kb_id,
                    position=draft.position,
                    heading=draft.heading[:300],
                    text=draft.text,
                    content_hash=digest,
                )
            )
    stale = [c.pk for chunks in existing.values() for c in chunks]
    if stale:
        Chunk.objects.filter(pk__in=stale).delete()
        transaction.on_commit(lambda: named_index(CHUNK_INDEX).remove(stale))
    if keep:
        Chunk.objects.bulk_update(keep, ["position"])
    if new:
        Chunk.objects.bulk_create(new)
        _embed_later(article.kb_id)
    return len(new), len(stale)


@transaction.atomic
def article_delete(*, article_id: int) -> None:
    """Delete an article with its chunks; their vectors leave the index after the commit."""
    if not articles_delete(article_ids=[article_id]):
        raise Article.DoesNotExist(f"no article {article_id}")


@transaction.atomic
def articles_delete(*, article_ids: Sequence[int]) -> int:
    """Delete these articles (ids already gone are skipped) with their chunks; the chunks'
    vectors leave the index after the commit, in one rewrite. Returns how many were deleted."""
    # Locked first, so an edit in flight (article_upsert locks the row too) has committed its
    # chunks before their ids are read.
    rows = list(
        Article.objects.select_for_update()
        .filter(pk__in=article_ids)
        .order_by("pk")
        .values_list("pk", "kb_id")
    )
    if not rows:
        return 0
    ids = [pk for pk, _ in rows]
    chunk_ids = list(Chunk.objects.filter(article_id__in=ids).values_list("id", flat=True))
    Article.objects.filter(pk__in=ids).delete()
    for kb_id in sorted({kb_id for _, kb_id in rows}):
        _content_changed(kb_id)
    transaction.on_commit(lambda: named_index(CHUNK_INDEX).remove(chunk_ids))
    return len(ids)


def knowledge_embed(*, kb_id: int, batch: int = 64) -> int:
    """Embed chunks, FAQ questions and past questions not yet in the vector indices."""
    done = 0
    while True:
        pending = list(
            Chunk.objects.filter(kb_id=kb_id, embedded=False)
            .select_related("article")
            .order_by("id")[:batch]
        )
        if not pending:
            break
        vectors = texts_embed([f"{c.article.title}. {c.heading}. {c.text}" for c in pending])
        named_index(CHUNK_INDEX).upsert([c.pk for c in pending], vectors)
        # Only rows whose text is still the embedded one are marked; an edit in between waits.
        for chunk in pending:
            Chunk.objects.filter(pk=chunk.pk, content_hash=chunk.content_hash).update(embedded=True)
        done += len(pending)
    reply_models: tuple[tuple[type[FAQ] | type[PastConversation], str], ...] = (
        (FAQ, "faq"),
        (PastConversation, "past"),
    )
    for model, kind in reply_models:
        while True:
            rows: list[FAQ | PastConversation] = list(
                model.objects.filter(kb_id=kb_id, embedded=False).order_by("id")[:batch]
            )
            if not rows:
                break
            vectors = texts_embed([r.question for r in rows])
            named_index(REPLY_INDEX).upsert([reply_index_id(kind, r.pk) for r in rows], vectors)
            for row in rows:
                model.objects.filter(pk=row.pk, question=row.question).update(embedded=True)
            done += len(rows)
    return done


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
    transaction.on_commit(lambda: named_index(REPLY_INDEX).remove([reply_index_id("faq", faq_id)]))


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
        transaction.on_commit(
            lambda: named_index(REPLY_INDEX).remove([reply_index_id("faq", faq_id)])
        )
    return bool(deleted)


def knowledge_base_settings_clean(
    *,
    handoff_threshold: float,
    faq_threshold: float,
    answer_mode: str,
    greeting: str,
    llm_endpoint: LlmEndpoint | int | None = None,
    llm_model: str = "",
) -> dict[str, Any]:
    """The rules of a knowledge base's answer settings (pages, API, admin); raises InvalidText."""
    thresholds = (("handoff threshold", handoff_threshold), ("FAQ threshold", faq_threshold))
    for what, value in thresholds:
        # The chained comparison is False for NaN too; bool is an int but no threshold.
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise InvalidText(f"The {what} must be a number from 0 to 1.")
    if answer_mode not in KnowledgeBase.AnswerMode.values:
        raise InvalidText(f"Unknown answer mode {answer_mode!r}.")
    if not isinstance(llm_model, str):
        raise InvalidText("The LLM model must be text.")
    # Chosen from the list superusers keep, never an address typed here: the bot sends the
    # customers' questions there and shows what comes back.
    endpoint_id = llm_endpoint.pk if isinstance(llm_endpoint, LlmEndpoint) else llm_endpoint
    if endpoint_id is not None and (
        isinstance(endpoint_id, bool)
        or not isinstance(endpoint_id, int)
        or not LlmEndpoint.objects.filter(pk=endpoint_id).exists()
    ):
        raise InvalidText("Choose the LLM endpoint from the list an administrator keeps.")
    return {
        "handoff_threshold": float(handoff_threshold),
        "faq_threshold": float(faq_threshold),
        "answer_mode": answer_mode,
        "greeting": clean_text(greeting, max_chars=300, what="greeting"),
        "llm_endpoint_id": endpoint_id,
        "llm_model": llm_model.strip()[:120],
    }


@transaction.atomic
def knowledge_base_settings_update(
    *,
    kb_id: int,
    handoff_threshold: float,
    faq_threshold: float,
    answer_mode: str,
    greeting: str,
    llm_endpoint: LlmEndpoint | int | None = None,
    llm_model: str = "",
    name: str | None = None,
    is_default: bool | None = None,
) -> KnowledgeBase:
    """Change a knowledge base's answer settings; answers composed after the commit use them.

    `name` and `is_default` (None: unchanged) are set by the API and the admin; marking a
    knowledge base the default unmarks the others, so "the default KB" stays one.
    """
    values = knowledge_base_settings_clean(
        handoff_threshold=handoff_threshold,
        faq_threshold=faq_threshold,
        answer_mode=answer_mode,
        greeting=greeting,
        llm_endpoint=llm_endpoint,
        llm_model=llm_model,
    )
    if name is not None:
        values["name"] = clean_text(name, max_chars=120, what="name")
        if KnowledgeBase.objects.filter(name=values["name"]).exclude(pk=kb_id).exists():
            raise InvalidText("Another knowledge base already has this name.")
    if is_default is not None:
        values["is_default"] = bool(is_default)
    kb = KnowledgeBase.objects.select_for_update().get(pk=kb_id)
    changed = [key for key, value in values.items() if getattr(kb, key) != value]
    for key in changed:
        setattr(kb, key, values[key])
    if changed:
        try:
            with transaction.atomic():
                kb.save(update_fields=[*changed, "updated_at"])
        except IntegrityError as exc:  # the same name saved by someone else meanwhile
            raise InvalidText("Another knowledge base already has this name.") from exc
        log.info("knowledge base %s settings changed: %s", kb_id, ", ".join(changed))
    if values.get("is_default"):
        KnowledgeBase.objects.filter(is_default=True).exclude(pk=kb_id).update(
            is_default=False, updated_at=timezone.now()
        )
    return kb


@transaction.atomic
def knowledge_base_delete(*, kb_id: int) -> None:
    """Delete a knowledge base with its articles, chunks, FAQ pairs and past conversations; all
    their vectors leave both indices after the commit.

    Raises ProtectedError, deleting nothing, while conversations still belong to it.
    """
    # The row lock holds off new rows of this KB (their foreign key check waits for it on
    # PostgreSQL), so the ids read below are all the vectors there are to remove.
    KnowledgeBase.objects.select_for_update().get(pk=kb_id)
    chunk_ids = list(
        Chunk.objects.filter(Q(kb_id=kb_id) | Q(article__kb_id=kb_id)).values_list("id", flat=True)
    )
    reply_ids = [
        reply_index_id("faq", pk)
        for pk in FAQ.objects.filter(kb_id=kb_id).values_list("id", flat=True)
    ] + [
        reply_index_id("past", pk)
        for pk in PastConversation.objects.filter(kb_id=kb_id).values_list("id", flat=True)
    ]
    KnowledgeBase.objects.filter(pk=kb_id).delete()

    def vectors_remove() -> None:
        named_index(CHUNK_INDEX).remove(chunk_ids)
        named_index(REPLY_INDEX).remove(reply_ids)
        log.info(
            "knowledge base %s deleted (%d chunks, %d replies)",
            kb_id,
            len(chunk_ids),
            len(reply_ids),
        )

    transaction.on_commit(vectors_remove)


@transaction.atomic
def past_conversation_upsert(
    *, kb_id: int, question: str, best_reply: str = "", intent: str = ""
) -> tuple[PastConversation, str]:
    question = clean_text(question, max_chars=1000, what="question")
    best_reply = best_reply.strip()[:5000]
    intent = intent.strip()[:100]
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


@transaction.atomic
def past_conversation_delete(*, past_id: int) -> None:
    PastConversation.objects.get(pk=past_id).delete()
    transaction.on_commit(
        lambda: named_index(REPLY_INDEX).remove([reply_index_id("past", past_id)])
    )


# -- imports ---------------------------------------------------------------------------------
@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[str] = field(default_factory=list)
    kind: str = ""

    def count(self, outcome: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "errors": self.errors[:50],
        }


def _title_from_markdown(text: str, fallback: str) -> str:
    for line in text.splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return fallback


def knowledge_import_file(
    *, kb_id: int, name: str, data: bytes, status: str = Article.Status.PUBLISHED
) -> ImportReport:
    """Import one uploaded file: an article (.md .html .txt .pdf) or rows (.csv .jsonl) of FAQ
    pairs (question, answer[, intent]) or past conversations (question, best_reply[, intent];
    or text, category). Re-importing the same file updates what it created."""
    if not data:
        raise InvalidText(f"{name} is empty.")
    if len(data) > MAX_IMPORT_BYTES:
        raise InvalidText(f"{name} is larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MB.")
    suffix = PurePosixPath(name).suffix.lower()
    stem = PurePosixPath(name).stem.replace("-", " ").replace("_", " ").strip() or name
    report = ImportReport()
    if suffix in (".md", ".markdown"):
        text = decode_upload(data, what=name)
        report.kind = "article"
        _, outcome = article_upsert(
            kb_id=kb_id,
            title=_title_from_markdown(text, stem),
            body=text,
            body_format=Article.Format.MARKDOWN,
            source_key=f"file:{name}",
            status=status,
        )
        report.count(outcome)
    elif suffix in (".html", ".htm"):
        text = decode_upload(data, what=name)
        title, _ = html_to_markdownish(text)
        report.kind = "article"
        _, outcome = article_upsert(
            kb_id=kb_id,
            title=title or stem,
            body=text,
            body_format=Article.Format.HTML,
            source_key=f"file:{name}",
            status=status,
        )
        report.count(outcome)
    elif suffix == ".txt":
        report.kind = "article"
        _, outcome = article_upsert(
            kb_id=kb_id,
            title=stem,
            body=decode_upload(data, what=name),
            body_format=Article.Format.TEXT,
            source_key=f"file:{name}",
            status=status,
        )
        report.count(outcome)
    elif suffix == ".pdf":
        if not data.startswith(b"%PDF"):
            raise InvalidText(f"{name} is not a PDF file.")
        report.kind = "article"
        _, outcome = article_upsert(
            kb_id=kb_id,
            title=stem,
            body=pdf_to_text(data),
            body_format=Article.Format.TEXT,
            source_key=f"file:{name}",
            status=status,
        )
        report.count(outcome)
    elif suffix in (".csv", ".jsonl"):
        text = decode_upload(data, what=name)
        rows = _rows_parse(text, suffix, name)
        _rows_import(kb_id=kb_id, rows=rows, report=report)
    else:
        raise InvalidText(
            f"{name}: unsupported file type; use .md, .html, .txt, .pdf, .csv or .jsonl."
        )
    return report


def _rows_parse(text: str, suffix: str, name: str) -> list[dict[str, str]]:
    if suffix == ".csv":
        reader = csv.DictReader(io.StringIO(text))
        if not reader.fieldnames:
            raise InvalidText(f"{name} has no header row.")
        return [{(k or "").strip(): (v or "") for k, v in row.items()} for row in reader]
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError as exc:
            raise InvalidText(f"{name} line {number} is not JSON: {exc}") from exc
        if not isinstance(value, dict):
            raise InvalidText(f"{name} line {number} is not a JSON object.")
        rows.append({str(k): str(v) for k, v in value.items()})
    return rows


@transaction.atomic
def _rows_import(*, kb_id: int, rows: list[dict[str, str]], report: ImportReport) -> None:
    if not rows:
        raise InvalidText("The file has no rows.")
    if len(rows) > upload_max_rows():  # each row is an upsert (and an embedding) in the request
        raise InvalidText(f"The file has more than {upload_max_rows()} rows (UPLOAD_MAX_ROWS).")
    keys = set(rows[0])
    if {"question", "answer"} <= keys:
        report.kind = "faq"
    elif {"question", "best_reply"} <= keys or {"text", "category"} <= keys:
        report.kind = "past_conversations"
    else:
        raise InvalidText(
            "Rows need the columns question,answer[,intent] (FAQ pairs), "
            "question,best_reply[,intent] or text,category (past conversations); found: "
            + ", ".join(sorted(keys))
        )
    for number, row in enumerate(rows, 2):
        try:
            if report.kind == "faq":
                _, outcome = faq_upsert(
                    kb_id=kb_id,
                    question=row.get("question", ""),
                    answer=row.get("answer", ""),
                    intent=row.get("intent", ""),
                )
            else:
                _, outcome = past_conversation_upsert(
                    kb_id=kb_id,
                    question=row.get("question") or row.get("text", ""),
                    best_reply=row.get("best_reply", ""),
                    intent=row.get("intent") or row.get("category", ""),
                )
            report.count(outcome)
        except InvalidText as exc:
            report.errors.append(f"row {number}: {exc}")


def knowledge_import_url(
    *, kb_id: int, url: str, status: str = Article.Status.PUBLISHED
) -> ImportReport:
    """Fetch a page (a public help centre article) and import it; the URL is its key.

    Through the guarded fetch: public addresses only on every hop (OUTBOUND_ALLOW_* for an
    intranet), one deadline for the whole download, the size cap kept while it streams."""
    if not url.startswith(("http://", "https://")):
        raise InvalidText("The URL must start with http:// or https://.")
    try:
        response = outbound_fetch(
            url,
            headers={"User-Agent": "Textsuite-support-import/1.0"},
            max_bytes=MAX_IMPORT_BYTES,
            deadline_s=URL_IMPORT_DEADLINE_S,
        )
    except OutboundError as exc:
        if exc.reason == "too_large":
            raise InvalidText(
                f"{url} is larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MB."
            ) from None
        raise InvalidText(f"Could not fetch {url}: {exc}.") from None
    data = response.content
    kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
    report = ImportReport(kind="article")
    if kind == "application/pdf":
        body, fmt, title = pdf_to_text(data), Article.Format.TEXT, url.rsplit("/", 1)[-1]
    elif kind in ("text/html", "application/xhtml+xml", ""):
        body = decode_upload(data, what=url)
        fmt = Article.Format.HTML
        title = html_to_markdownish(body)[0] or url
    elif kind in ("text/markdown", "text/x-markdown"):
        body, fmt = decode_upload(data, what=url), Article.Format.MARKDOWN
        title = _title_from_markdown(body, url)
    elif kind.startswith("text/"):
        body, fmt, title = decode_upload(data, what=url), Article.Format.TEXT, url
    else:
        raise InvalidText(f"{url} returned {kind or 'no content type'}, which cannot be imported.")
    _, outcome = article_upsert(
        kb_id=kb_id,
        title=title[:300],
        body=body,
        body_format=fmt,
        source_key=url,
        url=url,
        status=status,
    )
    report.count(outcome)
    return report


# == conversations =================================================================================
def _conversation_lock(conversation_id: int) -> Conversation:
    """Lock the conversation's row for this transaction, so that it cannot be deleted before a
    message written to it commits; raises Conversation.DoesNotExist when it is gone already."""
    conversation = Conversation.objects.select_for_update().filter(pk=conversation_id).first()
    if conversation is None:
        raise Conversation.DoesNotExist(f"Conversation {conversation_id} does not exist.")
    return conversation


def _touch(conversation_id: int) -> None:
    Conversation.objects.filter(pk=conversation_id).update(last_message_at=timezone.now())


def _announce(message: Message, *, queue: bool = False) -> None:
    def send() -> None:
        realtime.message_broadcast(message=message)
        if queue:
            realtime.conversation_broadcast(conversation_id=message.conversation_id)

    transaction.on_commit(send)


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
                    client_id=client_id,
                )
        except IntegrityError:
            return Message.objects.get(conversation_id=conversation_id, client_id=client_id), False
        _touch(conversation_id)
        _announce(message, queue=True)
    return message, True


def bot_reply(
    *,
    conversation_id: int,
    message_id: int,
    on_token: Callable[[str], bool] | None = None,
) -> Message | None:
    """Answer one customer message if the conversation is still with the bot.

    The answer is composed outside any lock (retrieval and generation take time), then written
    only if, at write time, no human has taken over; otherwise it is dropped.
    """
    conversation = Conversation.objects.get(pk=conversation_id)
    question = Message.objects.get(pk=message_id, conversation_id=conversation_id)
    if (
        conversation.status != Conversation.Status.BOT
        or Message.objects.filter(reply_to=question).exists()
    ):
        return None
    answer = answer_compose(kb_id=conversation.kb_id, question=question.text, on_token=on_token)
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
        from .answers import HANDOFF_TEXT

        reason = Conversation.HandoffReason.NO_KNOWLEDGE
        return conversation_handoff(
            conversation_id=conversation_id,
            reason=reason,
            answer=Answer(HANDOFF_TEXT, "handoff", 0.0, 0.0, True, reason),
        )


def _bot_message_create(
    conversation_id: int, answer: Answer, *, reply_to: int | None, sender: str = "bot"
) -> Message:
    return Message.objects.create(
        conversation_id=conversation_id,
        sender=sender,
        text=answer.text,
        answer_kind=answer.kind,
        confidence=answer.confidence,
        intent=answer.intent,
        intent_confidence=answer.intent_probability,
        sources=list(answer.sources),
        citations=list(answer.citations),
        reply_to_id=reply_to,
    )


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
    """
    from .answers import ASKED_TEXT

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
        transaction.on_commit(conversations_assign)
    return message


ALREADY_WAITING_TEXT = (
    "You're already in the queue for a person. They will reply here as soon as they can."
)
ALREADY_WITH_AGENT_TEXT = "A person is already with you in this chat."


@dataclass(frozen=True)
class HumanRequest:
    """What asking for a human did: `queued` (handed off now), `waiting` (already in the
    queue) or `agent` (a person already has it); `text` says so to the customer."""

    outcome: str
    text: str


def conversation_human_request(*, conversation_id: int) -> HumanRequest:
    """The customer asks for a person. A conversation with the bot is handed off; otherwise
    nothing changes and the answer says why, so the button never does nothing visible.

    Raises ConversationClosed for a closed conversation (the customer starts a new one) and
    Conversation.DoesNotExist for a deleted one."""
    from .answers import ASKED_TEXT

    if conversation_handoff(conversation_id=conversation_id, reason="customer_asked"):
        return HumanRequest("queued", ASKED_TEXT)
    current = Conversation.objects.filter(pk=conversation_id).values_list("status", flat=True)
    status = current.first()
    if status is None:
        raise Conversation.DoesNotExist(f"Conversation {conversation_id} does not exist.")
    if status == Conversation.Status.CLOSED:
        raise ConversationClosed("This conversation is closed; please start a new one.")
    if status == Conversation.Status.AGENT:
        return HumanRequest("agent", ALREADY_WITH_AGENT_TEXT)
    return HumanRequest("waiting", ALREADY_WAITING_TEXT)


def _no_agent_notice(conversation_id: int) -> None:
    """Tell a waiting customer that no agent is online (once in a row: an agent who comes and
    goes again does not repeat it)."""
    last = (
        Message.objects.filter(conversation_id=conversation_id)
        .exclude(sender=Message.Sender.NOTE)
        .order_by("-pk")
        .values_list("answer_kind", flat=True)
        .first()
    )
    if last == "no_agent":
        return
    notice = Message.objects.create(
        conversation_id=conversation_id,
        sender=Message.Sender.SYSTEM,
        text=NO_AGENT_ONLINE_TEXT,
        answer_kind="no_agent",
    )
    _announce(notice)


def conversation_take_over(*, conversation_id: int, agent: Any) -> bool:
    """An agent takes the conversation; from now on the bot is silent in it."""
    with transaction.atomic():
        taken = Conversation.objects.filter(
            pk=conversation_id,
            status__in=[Conversation.Status.BOT, Conversation.Status.WAITING],
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
    from django.contrib.auth import get_user_model

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


def conversation_supervises(user: Any) -> bool:
    """Staff and superusers act as supervisors: they may close any agent's conversation."""
    return bool(getattr(user, "is_staff", False) or getattr(user, "is_superuser", False))


def _colleague_refuse(conversation: Conversation, by: Any, what: str) -> None:
    """NotPermitted when an agent other than `by` has the conversation and `by` is no
    supervisor; `by` None (the system) may do anything."""
    colleagues = (
        conversation.status == Conversation.Status.AGENT
        and conversation.assigned_agent_id is not None
        and by is not None
        and conversation.assigned_agent_id != by.pk
    )
    if colleagues and not conversation_supervises(by):
        raise NotPermitted(
            f"{conversation.assigned_agent} has this conversation; only they or a supervisor "
            f"can {what}."
        )


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


def message_rate(*, conversation_id: int, message_id: int, rating: str) -> bool:
    if rating not in (Message.Rating.UP, Message.Rating.DOWN):
        raise InvalidText("The rating must be 'up' or 'down'.")
    # Answers only: a greeting, a handoff or a notice is no answer to judge, and a rating on
    # one would count in the handoff trade-off as if it were.
    updated = Message.objects.filter(
        pk=message_id,
        conversation_id=conversation_id,
        sender=Message.Sender.BOT,
        answer_kind__in=ANSWER_KINDS,
    ).update(rating=rating)
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


# == presence and assignment =======================================================================
def agent_presence_connect(*, agent_id: int) -> None:
    presence, _ = AgentPresence.objects.get_or_create(agent_id=agent_id)
    AgentPresence.objects.filter(pk=presence.pk).update(
        connections=F("connections") + 1, last_seen_at=timezone.now()
    )
    conversations_assign()
    transaction.on_commit(realtime.agents_broadcast)


def agent_presence_heartbeat(*, agent_id: int) -> None:
    updated = AgentPresence.objects.filter(agent_id=agent_id).update(last_seen_at=timezone.now())
    if not updated:
        agent_presence_connect(agent_id=agent_id)


def agent_presence_disconnect(*, agent_id: int) -> None:
    AgentPresence.objects.filter(agent_id=agent_id, connections__gt=0).update(
        connections=F("connections") - 1
    )
    conversations_assign()
    transaction.on_commit(realtime.agents_broadcast)


def presence_expire() -> int:
    """Agents whose consoles stopped sending heartbeats (a dead process) go offline."""
    cutoff = timezone.now() - timedelta(seconds=PRESENCE_TTL_S)
    expired = AgentPresence.objects.filter(connections__gt=0, last_seen_at__lt=cutoff).update(
        connections=0
    )
    if expired:
        conversations_assign()
        transaction.on_commit(realtime.agents_broadcast)
    return expired


def conversations_assign() -> int:
    """Give each waiting conversation without an online agent to the least busy online agent."""
    online = {p.agent_id: p.capacity for p in agents_online()}
    waiting = Conversation.objects.filter(status=Conversation.Status.WAITING).order_by("handoff_at")
    needs = [c for c in waiting if c.assigned_agent_id not in online]
    if not needs:
        return 0
    load = dict(
        Conversation.objects.filter(
            assigned_agent_id__in=list(online),
            status__in=[Conversation.Status.WAITING, Conversation.Status.AGENT],
        )
        .values_list("assigned_agent_id")
        .annotate(n=Count("id"))
        .values_list("assigned_agent_id", "n")
    )
    assigned = 0
    for conversation in needs:
        candidates = [a for a in online if load.get(a, 0) < online[a]] or list(online)
        if not candidates:
            # Nobody online: leave it unassigned so the first agent to connect gets it.
            if conversation.assigned_agent_id is not None:
                released = Conversation.objects.filter(
                    pk=conversation.pk,
                    assigned_agent_id=conversation.assigned_agent_id,
                    status=Conversation.Status.WAITING,
                ).update(assigned_agent=None)
                realtime.conversation_broadcast(conversation_id=conversation.pk, event="assigned")
                if released:
                    # The last agent left: the customer learns that nobody is there for now.
                    _no_agent_notice(conversation.pk)
            continue
        agent_id = min(candidates, key=lambda a: (load.get(a, 0), a))
        claimed = Conversation.objects.filter(
            pk=conversation.pk,
            status=Conversation.Status.WAITING,
            assigned_agent_id=conversation.assigned_agent_id,
        ).update(assigned_agent_id=agent_id)
        if claimed:
            load[agent_id] = load.get(agent_id, 0) + 1
            assigned += 1
            realtime.conversation_broadcast(conversation_id=conversation.pk, event="assigned")
    return assigned


@transaction.atomic
def knowledge_base_calibrate(*, kb_id: int, rows: list[tuple[str, str]]) -> dict[str, Any]:
    """Fit the KB's confidence calibration on held-out labelled questions."""
    from .answers import answers_judge, calibration_fit

    KnowledgeBase.objects.filter(pk=kb_id).update(calibration={})
    judged = answers_judge(kb_id=kb_id, rows=rows)
    table = calibration_fit([(j.raw, j.route_correct) for j in judged])
    table["fitted_at"] = timezone.now().isoformat()
    KnowledgeBase.objects.filter(pk=kb_id).update(calibration=table)
    return table
