"""Embedding: a knowledge base's chunks and questions into the indices of its embedding model,
and the switch to another model (the indices rebuilt)."""

from __future__ import annotations

import logging

from django.db import transaction

from apps.mlops.runtime import EMBEDDING_MODELS, texts_embed

from ..models import FAQ, Chunk, KnowledgeBase, PastConversation
from ..retrieval import CHUNK_INDEX, REPLY_INDEX, kb_embedding_model, kb_index, reply_index_id
from ..text import InvalidText
from ._common import _content_changed, _embed_later, _reply_ids

log = logging.getLogger(__name__)


def knowledge_embed(*, kb_id: int, batch: int = 64) -> int:
    """Embed chunks, FAQ questions and past questions not yet in the vector indices."""
    done = 0
    embedding = kb_embedding_model(kb_id)
    while True:
        pending = list(
            Chunk.objects.filter(kb_id=kb_id, embedded=False)
            .select_related("article")
            .order_by("id")[:batch]
        )
        if not pending:
            break
        texts = [f"{c.article.title}. {c.heading}. {c.text}" for c in pending]
        kb_index(CHUNK_INDEX, embedding).upsert(
            [c.pk for c in pending], texts_embed(texts, embedding)
        )
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
            vectors = texts_embed([r.question for r in rows], embedding)
            kb_index(REPLY_INDEX, embedding).upsert(
                [reply_index_id(kind, r.pk) for r in rows], vectors
            )
            for row in rows:
                model.objects.filter(pk=row.pk, question=row.question).update(embedded=True)
            done += len(rows)
    return done


@transaction.atomic
def knowledge_base_embedding_model_set(*, kb_id: int, model: str) -> bool:
    """Switch a knowledge base to another embedding model: its chunks, FAQ pairs and past
    questions leave the old model's indices and are embedded again into the new model's (after
    the commit, in the background). Returns whether anything changed."""
    if model not in EMBEDDING_MODELS:
        raise InvalidText(
            f"Unknown embedding model {model!r}: one of {', '.join(EMBEDDING_MODELS)}."
        )
    kb = KnowledgeBase.objects.select_for_update().get(pk=kb_id)
    if kb.embedding_model == model:
        return False
    old = kb.embedding_model
    kb.embedding_model = model
    kb.save(update_fields=["embedding_model", "updated_at"])
    chunk_ids = list(Chunk.objects.filter(kb_id=kb_id).values_list("id", flat=True))
    reply_ids = _reply_ids(kb_id)
    for model_class in (Chunk, FAQ, PastConversation):
        model_class.objects.filter(kb_id=kb_id).update(embedded=False)

    def old_vectors_remove() -> None:
        kb_index(CHUNK_INDEX, old).remove(chunk_ids)
        kb_index(REPLY_INDEX, old).remove(reply_ids)

    transaction.on_commit(old_vectors_remove)
    _content_changed(kb_id)
    _embed_later(kb_id)
    log.info("knowledge base %s embedding model %s -> %s", kb_id, old, model)
    return True
