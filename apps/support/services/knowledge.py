"""Knowledge bases and articles: settings, articles and their chunks, embedding, calibration."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import slugify

from mlcore.language import language_detect
from mlcore.text import content_hash

from ..answers import answers_judge, calibration_fit
from ..models import Article, Chunk, KnowledgeBase, LlmEndpoint
from ..retrieval import CHUNK_INDEX, REPLY_INDEX, vectors_remove
from ..text import MAX_ARTICLE_CHARS, InvalidText, chunks_split, clean_text
from ._common import _content_changed, _embed_later, _reply_ids

log = logging.getLogger(__name__)


def knowledge_base_ensure(*, name: str = "Help centre", slug: str | None = None) -> KnowledgeBase:
    """The knowledge base of this name, created if need be (the first one is the default).
    `slug` (how a page's chat widget names it) is set when given; one that another knowledge
    base has is refused."""
    kb, _ = KnowledgeBase.objects.get_or_create(name=name)
    if not KnowledgeBase.objects.filter(is_default=True).exists():
        KnowledgeBase.objects.filter(pk=kb.pk).update(is_default=True)
        kb.refresh_from_db()
    if slug is not None and kb.slug != slug:
        knowledge_base_slug_set(kb_id=kb.pk, slug=slug)
        kb.refresh_from_db()
    return kb


_SLUG = re.compile(r"^[-a-zA-Z0-9_]{1,50}$")


@transaction.atomic
def knowledge_base_slug_set(*, kb_id: int, slug: str | None) -> None:
    """Name a knowledge base for the chat widget (data-kb); None or empty removes the name."""
    value = (slug or "").strip() or None
    if value is not None and not _SLUG.match(value):
        raise InvalidText(
            "A knowledge base's widget name uses letters, digits, hyphens and underscores "
            "(at most 50), e.g. shop."
        )
    if value and KnowledgeBase.objects.filter(slug=value).exclude(pk=kb_id).exists():
        raise InvalidText(f'Another knowledge base is already named "{value}".')
    KnowledgeBase.objects.filter(pk=kb_id).update(slug=value)


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
        "language": language_detect(f"{title}\n{body}"),
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
                    language=language_detect(draft.text, default=article.language),
                )
            )
    stale = [c.pk for chunks in existing.values() for c in chunks]
    if stale:
        Chunk.objects.filter(pk__in=stale).delete()
        transaction.on_commit(lambda: vectors_remove(CHUNK_INDEX, stale))
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
    transaction.on_commit(lambda: vectors_remove(CHUNK_INDEX, chunk_ids))
    return len(ids)


def knowledge_base_settings_clean(
    *,
    handoff_threshold: float,
    faq_threshold: float,
    answer_mode: str,
    greeting: str,
    llm_endpoint: LlmEndpoint | int | None = None,
    llm_model: str = "",
    scope: str | None = None,
) -> dict[str, Any]:
    """The rules of a knowledge base's answer settings (pages, API, admin); raises InvalidText.
    `scope` (what the bot helps with, said to off-topic questions) None: unchanged."""
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
    values = {
        "handoff_threshold": float(handoff_threshold),
        "faq_threshold": float(faq_threshold),
        "answer_mode": answer_mode,
        "greeting": clean_text(greeting, max_chars=300, what="greeting"),
        "llm_endpoint_id": endpoint_id,
        "llm_model": llm_model.strip()[:120],
    }
    if scope is not None:
        values["scope"] = clean_text(scope, max_chars=200, what="scope")
    return values


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
    scope: str | None = None,
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
        scope=scope,
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
    reply_ids = _reply_ids(kb_id)
    KnowledgeBase.objects.filter(pk=kb_id).delete()

    def kb_vectors_remove() -> None:
        vectors_remove(CHUNK_INDEX, chunk_ids)
        vectors_remove(REPLY_INDEX, reply_ids)
        log.info(
            "knowledge base %s deleted (%d chunks, %d replies)",
            kb_id,
            len(chunk_ids),
            len(reply_ids),
        )

    transaction.on_commit(kb_vectors_remove)


@transaction.atomic
def knowledge_bases_delete(*, kb_ids: Sequence[int]) -> None:
    """`knowledge_base_delete` for each, all or none (one conversation left protects them all)."""
    for kb_id in kb_ids:
        knowledge_base_delete(kb_id=kb_id)


@transaction.atomic
def llm_endpoint_save(
    *, endpoint_id: int | None, name: str, base_url: str, model: str = ""
) -> LlmEndpoint:
    """Create (`endpoint_id` None) or change an LLM endpoint; the caller has checked the
    address (`outbound_url_check`)."""
    values = {"name": name, "base_url": base_url, "model": model}
    if endpoint_id is None:
        return LlmEndpoint.objects.create(**values)
    endpoint = LlmEndpoint.objects.select_for_update().get(pk=endpoint_id)
    changed = [key for key, value in values.items() if getattr(endpoint, key) != value]
    for key in changed:
        setattr(endpoint, key, values[key])
    if changed:
        endpoint.save(update_fields=[*changed, "updated_at"])
    return endpoint


@transaction.atomic
def llm_endpoints_delete(*, endpoint_ids: Sequence[int]) -> None:
    """Delete these endpoints; knowledge bases that used one fall back to the server's LLM."""
    LlmEndpoint.objects.filter(pk__in=endpoint_ids).delete()


@transaction.atomic
def knowledge_base_calibrate(
    *, kb_id: int, rows: list[tuple[str, str]], model_version: int | None = None
) -> dict[str, Any]:
    """Fit the KB's confidence calibration on held-out labelled questions (`model_version`: the
    intent model version they were judged with, kept with the table)."""
    KnowledgeBase.objects.filter(pk=kb_id).update(calibration={})
    judged = answers_judge(kb_id=kb_id, rows=rows)
    table = calibration_fit([(j.raw, j.route_correct) for j in judged])
    table["fitted_at"] = timezone.now().isoformat()
    if model_version is not None:
        table["intent_version"] = model_version
    KnowledgeBase.objects.filter(pk=kb_id).update(calibration=table)
    return table
