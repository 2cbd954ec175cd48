"""Which encoder made a knowledge base's vectors, and the indices that hold them.

A KB's chunks and questions are embedded by its embedding model (MiniLM or the multilingual
one). A MiniLM KB may instead be served by the support app's adapted base ("support-base": MiniLM
adapted to the company's own text, apps/support/adaptation.py): `KnowledgeBase.adapted_base`
names the version whose vectors its indices hold. Every encoder has indices of its own, and a
query is embedded by the encoder of the index it searches, so two encoders' vectors are never
compared. A new version's indices are filled before a KB switches to them
(services/embedding.py `knowledge_base_adapted_base_set`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from apps.mlops.runtime import (
    EMBEDDING_DIMS,
    EMBEDDING_MODELS,
    NamedIndex,
    adapted_base_version_path,
    folder_texts_embed,
    index_name,
    named_index,
    texts_embed,
)

from .models import KnowledgeBase

APP = "support"


def passage_text(title: str, heading: str, text: str) -> str:
    """What a passage's vector is made from: its article's title, its heading and its text."""
    return f"{title}. {heading}. {text}"


def encoder_key(model: str, base: int | None = None) -> str:
    """The name of the encoder: the embedding model, or the adapted base's version of it."""
    return model if base is None else f"{model}-base{base}"


def kb_index(name: str, model: str, base: int | None = None) -> NamedIndex:
    """The index `name` (CHUNK_INDEX, REPLY_INDEX) holding vectors of the embedding `model`,
    or of version `base` of the support app's adapted base."""
    return named_index(index_name(name, encoder_key(model, base)), EMBEDDING_DIMS[model])


def kb_texts_embed(texts: Sequence[str], model: str, base: int | None = None) -> np.ndarray:
    """Unit vectors of `texts` from the embedding `model`, or from version `base` of the
    adapted base."""
    if base is None:
        return texts_embed(texts, model)
    return folder_texts_embed(texts, adapted_base_version_path(APP, base))


def vectors_remove(name: str, ids: Sequence[int]) -> None:
    """Remove ids from the index `name` of every encoder that has one."""
    bases = KnowledgeBase.objects.exclude(adapted_base=None).values_list("adapted_base", flat=True)
    indices = [kb_index(name, model) for model in EMBEDDING_MODELS]
    indices += [kb_index(name, "minilm", base) for base in sorted({b for b in bases if b})]
    for index in indices:
        if index.name == name or index.path.exists():
            index.remove(ids)
