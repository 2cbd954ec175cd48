"""Embedding: a knowledge base's chunks and questions into the indices of its encoder, the
switch to another embedding model (the indices rebuilt), and the switch of a MiniLM KB to a
version of the support app's adapted base (its indices filled first, then switched at once)."""

from __future__ import annotations

import logging

from django.db import transaction

from apps.mlops.runtime import EMBEDDING_MODELS, adapted_base_version

from ..encoders import APP, kb_index, kb_texts_embed, passage_text
from ..models import FAQ, Chunk, KnowledgeBase, PastConversation
from ..retrieval import CHUNK_INDEX, REPLY_INDEX, kb_encoder, reply_index_id
from ..text import InvalidText
from ._common import _content_changed, _embed_later, _reply_ids

log = logging.getLogger(__name__)


def knowledge_embed(*, kb_id: int, batch: int = 64) -> int:
    """Embed chunks, FAQ questions and past questions not yet in the vector indices."""
    done = 0
    embedding, base = kb_encoder(kb_id)
    # A row is marked embedded only while the KB still has the encoder that embedded it: one
    # switched meanwhile has flagged the rows its new indices lack, and they wait for it.
    same_encoder = {"kb__embedding_model": embedding, "kb__adapted_base": base}
    while True:
        pending = list(
            Chunk.objects.filter(kb_id=kb_id, embedded=False)
            .select_related("article")
            .order_by("id")[:batch]
        )
        if not pending:
            break
        texts = _chunk_texts(pending)
        kb_index(CHUNK_INDEX, embedding, base).upsert(
            [c.pk for c in pending], kb_texts_embed(texts, embedding, base)
        )
        # Only rows whose text is still the embedded one are marked; an edit in between waits.
        for chunk in pending:
            Chunk.objects.filter(
                pk=chunk.pk, content_hash=chunk.content_hash, **same_encoder
            ).update(embedded=True)
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
            vectors = kb_texts_embed([r.question for r in rows], embedding, base)
            kb_index(REPLY_INDEX, embedding, base).upsert(
                [reply_index_id(kind, r.pk) for r in rows], vectors
            )
            for row in rows:
                model.objects.filter(pk=row.pk, question=row.question, **same_encoder).update(
                    embedded=True
                )
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
    old, old_base = kb.embedding_model, kb.adapted_base
    kb.embedding_model = model
    # Back on MiniLM, the rows are embedded by the production adapted base when there is one.
    kb.adapted_base = adapted_base_version(APP, "minilm") if model == "minilm" else None
    kb.save(update_fields=["embedding_model", "adapted_base", "updated_at"])
    chunk_ids = list(Chunk.objects.filter(kb_id=kb_id).values_list("id", flat=True))
    reply_ids = _reply_ids(kb_id)
    for model_class in (Chunk, FAQ, PastConversation):
        model_class.objects.filter(kb_id=kb_id).update(embedded=False)

    def old_vectors_remove() -> None:
        kb_index(CHUNK_INDEX, old, old_base).remove(chunk_ids)
        kb_index(REPLY_INDEX, old, old_base).remove(reply_ids)

    transaction.on_commit(old_vectors_remove)
    _content_changed(kb_id)
    _embed_later(kb_id)
    log.info("knowledge base %s embedding model %s -> %s", kb_id, old, model)
    return True


def _chunk_texts(rows: list[Chunk]) -> list[str]:
    return [passage_text(c.article.title, c.heading, c.text) for c in rows]


def knowledge_base_adapted_base_set(*, kb_id: int, version: int | None, batch: int = 64) -> bool:
    """Serve a MiniLM knowledge base from version `version` of the support app's adapted base
    (None: the general MiniLM). Every chunk and question is embedded by it into its own indices
    first, while the KB keeps answering from its current ones; then the KB switches in one step,
    and rows added or edited meanwhile wait to be embedded by the new encoder. Returns whether
    the KB switched."""
    kb = KnowledgeBase.objects.get(pk=kb_id)
    if kb.embedding_model != "minilm" or kb.adapted_base == version:
        return False
    embedded: dict[str, dict[int, str]] = {"chunk": {}, "faq": {}, "past": {}}
    last = 0
    while rows := list(
        Chunk.objects.filter(kb_id=kb_id, pk__gt=last)
        .select_related("article")
        .order_by("pk")[:batch]
    ):
        vectors = kb_texts_embed(_chunk_texts(rows), "minilm", version)
        kb_index(CHUNK_INDEX, "minilm", version).upsert([c.pk for c in rows], vectors)
        embedded["chunk"].update((c.pk, c.content_hash) for c in rows)
        last = rows[-1].pk
    for model, kind in ((FAQ, "faq"), (PastConversation, "past")):
        questions = list(model.objects.filter(kb_id=kb_id).values_list("pk", "question"))
        for start in range(0, len(questions), batch):
            part = questions[start : start + batch]
            vectors = kb_texts_embed([q for _, q in part], "minilm", version)
            ids = [reply_index_id(kind, pk) for pk, _ in part]
            kb_index(REPLY_INDEX, "minilm", version).upsert(ids, vectors)
            embedded[kind].update(part)
    return _adapted_base_switch(kb_id, version, embedded)


@transaction.atomic
def _adapted_base_switch(
    kb_id: int, version: int | None, embedded: dict[str, dict[int, str]]
) -> bool:
    kb = KnowledgeBase.objects.select_for_update().get(pk=kb_id)
    if kb.embedding_model != "minilm" or kb.adapted_base == version:
        return False  # switched to another embedding model, or by another sync, meanwhile
    old = kb.adapted_base
    kb.adapted_base = version
    kb.save(update_fields=["adapted_base", "updated_at"])
    # Rows the new indices lack, or hold an older text of, are embedded again by the new encoder.
    current = {
        "chunk": dict(Chunk.objects.filter(kb_id=kb_id).values_list("pk", "content_hash")),
        "faq": dict(FAQ.objects.filter(kb_id=kb_id).values_list("pk", "question")),
        "past": dict(PastConversation.objects.filter(kb_id=kb_id).values_list("pk", "question")),
    }
    stale = 0
    for kind, model in (("chunk", Chunk), ("faq", FAQ), ("past", PastConversation)):
        ids = [pk for pk, value in current[kind].items() if embedded[kind].get(pk) != value]
        stale += model.objects.filter(pk__in=ids).update(embedded=False)
    chunk_ids, reply_ids = list(current["chunk"]), _reply_ids(kb_id)

    def old_vectors_remove() -> None:
        kb_index(CHUNK_INDEX, "minilm", old).remove(chunk_ids)
        kb_index(REPLY_INDEX, "minilm", old).remove(reply_ids)

    transaction.on_commit(old_vectors_remove)
    _content_changed(kb_id)
    if stale:
        _embed_later(kb_id)
    log.info(
        "knowledge base %s adapted base %s -> %s (%s rows to embed)", kb_id, old, version, stale
    )
    return True


def knowledge_bases_adapted_base_sync() -> int:
    """Bring every MiniLM knowledge base to the production adapted base (the general MiniLM
    when there is none); returns how many switched."""
    version = adapted_base_version(APP, "minilm")
    kb_ids = KnowledgeBase.objects.filter(embedding_model="minilm").values_list("pk", flat=True)
    return sum(knowledge_base_adapted_base_set(kb_id=kb_id, version=version) for kb_id in kb_ids)
