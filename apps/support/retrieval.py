"""Hybrid retrieval: dense (MiniLM + FAISS) and BM25 keyword search fused by reciprocal rank.

Each process keeps, per knowledge base, the published chunks' metadata and a BM25 index in
memory; `KnowledgeBase.content_version` (one indexed read per question) tells it when to rebuild.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import numpy.typing as npt
from django.db.models import F

from mlcore.language import language_detect
from mlcore.text import content_hash, sentences_split

from .bm25 import BM25
from .encoders import kb_index as kb_index
from .encoders import kb_texts_embed
from .encoders import vectors_remove as vectors_remove
from .models import FAQ, Article, Chunk, KnowledgeBase, PastConversation
from .text import tokens

CHUNK_INDEX = "support-chunks"
REPLY_INDEX = "support-replies"
RRF_K = 60
CANDIDATES = 30


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with its article and scores (fused, dense cosine, BM25)."""

    chunk_id: int
    article_id: int
    title: str
    url: str
    heading: str
    text: str
    score: float
    dense: float
    keyword: float
    intents: tuple[str, ...] = ()

    def as_source(self) -> dict[str, object]:
        return {
            "chunk_id": self.chunk_id,
            "article_id": self.article_id,
            "title": self.title,
            "url": self.url,
            "heading": self.heading,
            "text": self.text[:600],
            "score": round(self.score, 5),
            "dense": round(self.dense, 4),
            "keyword": round(self.keyword, 3),
        }


@dataclass
class _KbState:
    version: int
    chunk_ids: npt.NDArray[np.int64]
    rows: dict[int, int]
    meta: list[tuple[int, str, str, str, str, tuple[str, ...]]]
    bm25: BM25
    languages: list[str] = field(default_factory=list)
    model: str = "minilm"
    base: int | None = None  # the adapted base's version whose vectors the indices hold
    uses_intents: bool = False


_states: dict[int, _KbState] = {}
_lock = threading.Lock()


def article_url(article_id: int, url: str) -> str:
    return url or f"/support/articles/{article_id}/"


def kb_encoder(kb_id: int) -> tuple[str, int | None]:
    """The KB's embedding model and the adapted base's version its vectors come from."""
    rows = KnowledgeBase.objects.filter(pk=kb_id)
    return rows.values_list("embedding_model", "adapted_base").first() or ("minilm", None)


def kb_uses_intents(*, kb_id: int, kb: KnowledgeBase | None = None) -> bool:
    """Whether the KB's published articles carry intents: only then does the intent model
    (trained on those intents) take part in its answers; a KB of another vocabulary (the shop's
    help centre) is answered from its passages alone. Read from the cached state: no query."""
    return _state(kb_id, kb).uses_intents


def _state(kb_id: int, kb: KnowledgeBase | None = None) -> _KbState:
    """The KB's in-memory state, rebuilt when its content version or embedding model changed;
    `kb`, a row the caller read during this request, stands in for reading those two again."""
    found = (
        (kb.content_version, kb.embedding_model, kb.adapted_base)
        if kb is not None and kb.pk == kb_id
        else KnowledgeBase.objects.filter(pk=kb_id)
        .values_list("content_version", "embedding_model", "adapted_base")
        .first()
    )
    if found is None:
        raise KnowledgeBase.DoesNotExist(f"no knowledge base {kb_id}")
    current, model, base = found
    state = _states.get(kb_id)
    if state is not None and (state.version, state.model, state.base) == found:
        return state
    with _lock:
        state = _states.get(kb_id)
        if state is None or (state.version, state.model, state.base) != found:
            state = _build(kb_id, current)
            state.model, state.base = model, base
            _states[kb_id] = state
    return state


def _build(kb_id: int, version: int) -> _KbState:
    rows = (
        Chunk.objects.filter(kb_id=kb_id, article__status=Article.Status.PUBLISHED)
        .order_by("id")
        .values_list(
            "id",
            "article_id",
            "article__title",
            "article__url",
            "heading",
            "text",
            "article__intents",
            "language",
        )
    )
    ids: list[int] = []
    languages: list[str] = []
    meta: list[tuple[int, str, str, str, str, tuple[str, ...]]] = []
    docs: list[list[str]] = []
    for chunk_id, article_id, title, url, heading, text, intents, language in rows:
        ids.append(chunk_id)
        languages.append(language)
        meta.append(
            (article_id, title, article_url(article_id, url), heading, text, tuple(intents or ()))
        )
        # Titles and headings count as words of the passage: they name what it answers.
        docs.append(tokens(f"{title} {heading} {text}"))
    return _KbState(
        version=version,
        chunk_ids=np.array(ids, dtype=np.int64),
        rows={chunk_id: i for i, chunk_id in enumerate(ids)},
        meta=meta,
        bm25=BM25(docs),
        languages=languages,
        uses_intents=any(m[5] for m in meta),
    )


def retrieval_state_reset() -> None:
    with _lock:
        _states.clear()


def query_embed(
    query: str, model: str = "minilm", base: int | None = None
) -> npt.NDArray[np.float32]:
    vector: npt.NDArray[np.float32] = kb_texts_embed([query], model, base)[0]
    return vector


def passages_retrieve(
    *,
    kb_id: int,
    query: str,
    k: int = 5,
    vector: npt.NDArray[np.float32] | None = None,
    kb: KnowledgeBase | None = None,
) -> list[Passage]:
    """The k best published passages for `query`, dense and keyword ranks fused (RRF).
    `kb`: the knowledge base's row if the caller has just read it (saves a query)."""
    state = _state(kb_id, kb)
    if not len(state.chunk_ids):
        return []
    if vector is None:
        vector = query_embed(query, state.model, state.base)
    # The id array is only iterated; NamedIndex.search types it as a plain sequence.
    allowed_ids = cast("Sequence[int]", state.chunk_ids)
    dense_hits = kb_index(CHUNK_INDEX, state.model, state.base).search(
        vector, CANDIDATES, allowed_ids=allowed_ids
    )
    keyword_hits = state.bm25.search(tokens(query), CANDIDATES)
    fused: dict[int, float] = {}
    dense: dict[int, float] = {}
    keyword: dict[int, float] = {}
    for rank, hit in enumerate(dense_hits):
        row = state.rows.get(hit.id)
        if row is None:
            continue
        fused[row] = fused.get(row, 0.0) + 1.0 / (RRF_K + rank + 1)
        dense[row] = hit.score
    for rank, (row, score) in enumerate(keyword_hits):
        fused[row] = fused.get(row, 0.0) + 1.0 / (RRF_K + rank + 1)
        keyword[row] = score
    if state.model != "minilm":
        _other_languages_fuse(state, query, dense_hits, fused)
    best = sorted(fused, key=lambda r: -fused[r])[:k]
    missing = [r for r in best if r not in dense]
    if missing:
        # Keyword-only hits get their cosine too, so confidence never rests on rank alone.
        index = kb_index(CHUNK_INDEX, state.model, state.base).current()
        for row in missing:
            vec = index.vector(int(state.chunk_ids[row]))
            dense[row] = float(vec @ vector) if vec is not None else 0.0
    out = []
    for row in best:
        article_id, title, url, heading, text, intents = state.meta[row]
        out.append(
            Passage(
                chunk_id=int(state.chunk_ids[row]),
                article_id=article_id,
                title=title,
                url=url,
                heading=heading,
                text=text,
                score=fused[row],
                dense=dense.get(row, 0.0),
                keyword=keyword.get(row, 0.0),
                intents=intents,
            )
        )
    return out


def _other_languages_fuse(
    state: _KbState, query: str, dense_hits: Sequence[Any], fused: dict[int, float]
) -> None:
    """On a multilingual KB a passage in another language than the question can have no keyword
    rank (no word is shared), so plain fusion buries it under same-language keyword matches: an
    English question never reached the Chinese article that answers it. Its dense rank stands in
    for the keyword rank it cannot have (bench/RESULTS.md, "Chinese and mixed-language text")."""
    asked = language_detect(query)
    if not asked:
        return
    for rank, hit in enumerate(dense_hits):
        row = state.rows.get(hit.id)
        if row is not None and state.languages[row] not in ("", asked):
            fused[row] = fused.get(row, 0.0) + 1.0 / (RRF_K + rank + 1)


# -- suggested replies (FAQ pairs and past conversations) ------------------------------------
def reply_index_id(kind: str, pk: int) -> int:
    return pk * 2 + (0 if kind == "faq" else 1)


@dataclass(frozen=True)
class Suggestion:
    kind: str
    id: int
    question: str
    reply: str
    score: float


def replies_suggest(*, kb_id: int, query: str, k: int = 3) -> list[Suggestion]:
    """Top-k replies an agent could send: published FAQ answers and past best replies."""
    faqs = dict(
        FAQ.objects.filter(kb_id=kb_id, status=FAQ.Status.PUBLISHED).values_list("id", "question")
    )
    past = dict(
        PastConversation.objects.filter(kb_id=kb_id)
        .exclude(best_reply="")
        .values_list("id", "question")
    )
    allowed = [reply_index_id("faq", i) for i in faqs] + [reply_index_id("past", i) for i in past]
    if not allowed:
        return []
    model, base = kb_encoder(kb_id)
    hits = kb_index(REPLY_INDEX, model, base).search(
        query_embed(query, model, base), k * 4, allowed_ids=allowed
    )
    out: list[Suggestion] = []
    seen: set[str] = set()
    faq_answers = dict(
        FAQ.objects.filter(pk__in=[h.id // 2 for h in hits if h.id % 2 == 0]).values_list(
            "id", "answer"
        )
    )
    past_replies = dict(
        PastConversation.objects.filter(
            pk__in=[h.id // 2 for h in hits if h.id % 2 == 1]
        ).values_list("id", "best_reply")
    )
    for hit in hits:
        pk = hit.id // 2
        if hit.id % 2 == 0:
            suggestion = Suggestion("faq", pk, faqs[pk], faq_answers.get(pk, ""), hit.score)
        else:
            suggestion = Suggestion("past", pk, past[pk], past_replies.get(pk, ""), hit.score)
        if suggestion.reply and suggestion.reply not in seen:
            seen.add(suggestion.reply)
            out.append(suggestion)
        if len(out) == k:
            break
    return out


# -- benchmark helpers ------------------------------------------------------------------------
SYNTHETIC_PREFIX = "bench-synthetic:"


def synthetic_chunks_add(*, kb_id: int, total: int, seed: int = 7) -> int:
    """Pad a knowledge base to `total` published chunks with recombined demo sentences."""

    have = Chunk.objects.filter(kb_id=kb_id, article__status=Article.Status.PUBLISHED).count()
    need = total - have
    if need <= 0:
        return have
    rng = np.random.default_rng(seed)
    sentences = [
        s
        for text in Chunk.objects.filter(kb_id=kb_id).values_list("text", flat=True)
        for s in sentences_split(text, lines=True)
    ] or ["Placeholder sentence for padding."]
    index = kb_index(CHUNK_INDEX, *kb_encoder(kb_id))
    made = 0
    batch = 500
    while made < need:
        n = min(batch, need - made)
        article = Article.objects.create(
            kb_id=kb_id,
            title=f"Archive note {have + made}",
            body="(synthetic)",
            source_key=f"{SYNTHETIC_PREFIX}{have + made}",
        )
        chunks = []
        for i in range(n):
            text = " ".join(rng.choice(sentences, size=4))
            chunks.append(
                Chunk(
                    article=article,
                    kb_id=kb_id,
                    position=i,
                    heading="Archive",
                    text=text,
                    content_hash=content_hash(text),
                    embedded=True,
                )
            )
        chunks = Chunk.objects.bulk_create(chunks)
        # Random unit vectors: the bench measures search cost, not the quality of padding.
        vectors = rng.standard_normal((n, 384)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        index.upsert([c.pk for c in chunks], vectors)
        made += n
    KnowledgeBase.objects.filter(pk=kb_id).update(content_version=F("content_version") + 1)
    return have + made


def synthetic_chunks_remove(*, kb_id: int) -> None:

    ids = list(
        Chunk.objects.filter(
            kb_id=kb_id, article__source_key__startswith=SYNTHETIC_PREFIX
        ).values_list("id", flat=True)
    )
    vectors_remove(CHUNK_INDEX, ids)
    Article.objects.filter(kb_id=kb_id, source_key__startswith=SYNTHETIC_PREFIX).delete()
    KnowledgeBase.objects.filter(pk=kb_id).update(content_version=F("content_version") + 1)
