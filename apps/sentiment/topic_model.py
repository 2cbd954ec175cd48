"""Topics by a model: zero-shot from a source's embedder over topic descriptions, and a
classifier trained from analysts' topic corrections once a topic has enough of them.

Each source names its embedder (Source.embedding_model, the names of
apps.mlops.runtime.EMBEDDING_MODELS). Each topic has a few descriptions, written as the headlines
it covers (the multilingual embedder also reads the Chinese ones of topics_zh.py). A text gets a
topic when its cosine to the closest of the topic's description vectors reaches the embedder's
calibrated threshold (SENTIMENT_TOPIC_THRESHOLD for MiniLM, SENTIMENT_TOPIC_THRESHOLD_MULTILINGUAL,
both chosen by `python -m bench sentiment_topics` on the calibration halves of
apps/sentiment/data/topic_sentences*.csv); its score is that cosine. The keyword lists remain
the fallback: for Chinese text under MiniLM (it does not read Chinese), with
SENTIMENT_TOPIC_TAGGER=keywords, and when the embedder cannot be loaded. Under the multilingual
embedder a Chinese text also keeps its keyword topics besides the model's: on the Chinese set
the two together beat either alone (bench/RESULTS.md).

Analysts' corrections (TopicCorrection, the latest per text) train one logistic regression per
topic and embedder on that embedder's vectors (vectors of different models never mix) as soon
as that topic has SENTIMENT_TOPIC_MIN_EXAMPLES texts with it and as many without it; such a
topic is then tagged by its classifier (probability at least 0.5, the score), the others still
zero-shot. MiniLM's classifiers learn from the texts without Chinese only (it never tags the
others). The classifiers are retrained in-process whenever a correction is added.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from functools import cache, lru_cache
from typing import Any

import numpy as np
from django.conf import settings

from apps.mlops.runtime import EMBEDDING_MODELS, texts_embed
from mlcore.language import has_han

from . import selectors
from .text import TOPICS, topics_tag
from .topics_zh import TOPIC_DESCRIPTIONS_ZH

log = logging.getLogger(__name__)
Embed = Callable[[Sequence[str]], np.ndarray]

TOPIC_DESCRIPTIONS: dict[str, tuple[str, ...]] = {
    "earnings": (
        "The company reported quarterly earnings: revenue, net profit and earnings per share.",
        "Operating profit rose in the third quarter compared with a year earlier.",
        "Net sales fell and the company swung to a loss in the period.",
        "Quarterly results beat analysts' estimates.",
    ),
    "guidance": (
        "The company raised its full-year outlook and guidance.",
        "The company cut its forecast for the year and now expects lower sales.",
        "Management reiterated its financial targets for next year.",
    ),
    "mna": (
        "The company agreed to acquire a rival in a takeover deal.",
        "A merger between the two companies was announced.",
        "The group will sell its division to a buyer and divest the unit.",
        "An investor bought a stake in the company and made a tender offer.",
    ),
    "litigation": (
        "The company was sued in court over the lawsuit.",
        "A class action and legal dispute against the company.",
        "The court ruled against the company and it must pay a settlement.",
        "Antitrust authorities fined the company.",
    ),
    "regulation": (
        "Regulators opened an investigation into the company.",
        "The drug received approval from the regulator.",
        "New rules from the financial supervisor and compliance requirements.",
        "The company received a licence from the authorities.",
    ),
    "management": (
        "The chief executive officer resigned and a new CEO was appointed.",
        "The board of directors named a new chairman.",
        "The chief financial officer will step down.",
    ),
    "layoffs": (
        "The company will cut jobs and lay off workers.",
        "Restructuring leads to redundancies and a smaller workforce.",
        "Employees were laid off as the plant closes.",
    ),
    "products": (
        "The company launched a new product.",
        "A new model was unveiled to customers.",
        "The company recalled vehicles over a defect.",
        "The service was rolled out on a new platform.",
    ),
    "macro": (
        "Inflation and interest rates set by the central bank.",
        "The economy slowed and unemployment rose.",
        "Tariffs, currency moves and bond yields hit the markets.",
        "Gross domestic product grew in the quarter.",
    ),
    "credit": (
        "A rating agency downgraded the company's credit rating.",
        "The company refinanced its debt and issued bonds.",
        "The company defaulted on its loans and filed for bankruptcy.",
        "Liquidity concerns over the company's debt.",
    ),
}
assert set(TOPIC_DESCRIPTIONS) == set(TOPICS) == set(TOPIC_DESCRIPTIONS_ZH)
# The embedders that read Chinese: a Chinese text gets their model topics.
READS_CHINESE = frozenset({"multilingual"})


# Embedding model -> ((examples key, embedder), classifiers per topic); replaced when
# corrections change.
_CLASSIFIERS: dict[str, tuple[tuple[Any, ...], dict[str, Any]]] = {}


@cache
def topic_embedder(embedding_model: str) -> Embed:
    """The embedding function of `embedding_model`: one object per model, so the description
    vectors and classifiers cached per embedder are per model."""
    if embedding_model not in EMBEDDING_MODELS:
        raise ValueError(f"unknown embedding model {embedding_model!r}")

    def embed(texts: Sequence[str]) -> np.ndarray:
        return texts_embed(texts, embedding_model)

    return embed


def topic_threshold(embedding_model: str) -> float:
    """The calibrated zero-shot threshold of an embedder's cosines."""
    if embedding_model == "multilingual":
        return float(settings.SENTIMENT_TOPIC_THRESHOLD_MULTILINGUAL)
    return float(settings.SENTIMENT_TOPIC_THRESHOLD)


def classifiers_train(
    examples: Sequence[tuple[str, Sequence[str]]], embed: Embed, min_examples: int
) -> dict[str, Any]:
    """Topic -> logistic regression on the embedder's vectors, for each topic with at least
    `min_examples` corrected texts with it and as many without it."""
    if not examples:
        return {}
    counts = {key: sum(key in topics for _t, topics in examples) for key in TOPICS}
    trainable = [
        key for key, n in counts.items() if n >= min_examples and len(examples) - n >= min_examples
    ]
    if not trainable:
        return {}
    # heavy: scikit-learn loads only where a topic has enough corrections to train
    from sklearn.linear_model import LogisticRegression

    vectors = np.asarray(embed([text for text, _topics in examples]), dtype=np.float32)
    models: dict[str, Any] = {}
    for key in trainable:
        target = np.asarray([key in topics for _t, topics in examples], dtype=int)
        model = LogisticRegression(C=4.0, class_weight="balanced", max_iter=1000)
        models[key] = model.fit(vectors, target)
    return models


def _classifiers(embed: Embed, embedding_model: str = "minilm") -> dict[str, Any]:
    key, examples = selectors.topic_examples()
    if embedding_model not in READS_CHINESE:
        examples = [(text, topics) for text, topics in examples if not has_han(text)]
    cache_key = (key, embed, settings.SENTIMENT_TOPIC_MIN_EXAMPLES)
    cached = _CLASSIFIERS.get(embedding_model)
    if cached is None or cached[0] != cache_key:
        trained = classifiers_train(examples, embed, settings.SENTIMENT_TOPIC_MIN_EXAMPLES)
        _CLASSIFIERS[embedding_model] = (cache_key, trained)
        return trained
    return cached[1]


@lru_cache(maxsize=8)
def _description_vectors(embed: Embed, chinese: bool) -> tuple[list[str], np.ndarray]:
    """(topic of each description, their unit vectors), embedded once per embedder; with
    `chinese`, the Chinese descriptions too."""
    described = [TOPIC_DESCRIPTIONS] + ([TOPIC_DESCRIPTIONS_ZH] if chinese else [])
    keys = [key for d in described for key, lines in d.items() for _line in lines]
    texts = [line for d in described for lines in d.values() for line in lines]
    return keys, np.asarray(embed(texts), dtype=np.float32)


def topic_similarities(
    texts: Sequence[str],
    embedding_model: str = "minilm",
    *,
    embed: Embed | None = None,
    vectors: np.ndarray | None = None,
) -> list[dict[str, float]]:
    """For each text, topic -> cosine to the closest of its descriptions, under the embedder
    of `embedding_model` (or the stand-in `embed`)."""
    embed = embed or topic_embedder(embedding_model)
    keys, described = _description_vectors(embed, embedding_model in READS_CHINESE)
    if vectors is None:
        vectors = np.asarray(embed(list(texts)), dtype=np.float32)
    sims = vectors @ described.T
    out: list[dict[str, float]] = []
    for row in sims:
        best: dict[str, float] = {}
        for key, value in zip(keys, row.tolist(), strict=True):
            best[key] = max(best.get(key, -1.0), value)
        out.append(best)
    return out


def _model_topics(
    texts: Sequence[str], embedding_model: str, embed: Embed, threshold: float
) -> list[dict[str, float]]:
    """Topics of texts the embedder reads: each topic's classifier where analysts'
    corrections trained one, zero-shot similarity for the rest."""
    vectors = np.asarray(embed(list(texts)), dtype=np.float32)
    sims = topic_similarities(texts, embedding_model, embed=embed, vectors=vectors)
    trained = _classifiers(embed, embedding_model)
    found = [
        {k: round(v, 2) for k, v in s.items() if v >= threshold and k not in trained} for s in sims
    ]
    for key, model in trained.items():
        probs = model.predict_proba(vectors)[:, 1]
        for tags, p in zip(found, probs.tolist(), strict=True):
            if p >= 0.5:
                tags[key] = round(p, 2)
    return [dict(sorted(tags.items())) for tags in found]


def topics_model_tag(
    texts: Sequence[str],
    *,
    embedding_model: str = "minilm",
    threshold: float | None = None,
    embed: Embed | None = None,
) -> list[dict[str, float]]:
    """Topic -> score (the cosine, rounded) for each text, from the embedder of
    `embedding_model` (a source's; `embed` stands in for it in tests). Chinese texts under an
    embedder that does not read Chinese, and every text when SENTIMENT_TOPIC_TAGGER is
    "keywords" or the embedder fails, get keyword topics instead; Chinese texts under one that
    does get the model's topics and their keyword topics."""
    out: list[dict[str, float]] = [{} for _ in texts]
    use_model = settings.SENTIMENT_TOPIC_TAGGER == "model"
    chinese = embedding_model in READS_CHINESE
    readable = [i for i, text in enumerate(texts) if use_model and (chinese or not has_han(text))]
    floor = topic_threshold(embedding_model) if threshold is None else threshold
    if readable:
        try:
            embed = embed or topic_embedder(embedding_model)
            tagged = _model_topics([texts[i] for i in readable], embedding_model, embed, floor)
        except Exception:
            log.warning("topic model unavailable; tagging topics by keywords", exc_info=True)
            readable = []
        else:
            for i, found in zip(readable, tagged, strict=True):
                out[i] = found
    by_model = set(readable)
    for i, text in enumerate(texts):
        if i not in by_model:
            out[i] = topics_tag(text)
        elif chinese and has_han(text):
            # The keywords catch what the model misses in short Chinese headlines.
            out[i] = dict(sorted((topics_tag(text) | out[i]).items()))
    return out
