"""Topics by a model: zero-shot from the embedder over topic descriptions, and a classifier
trained from analysts' topic corrections once a topic has enough of them.

Each topic has a few descriptions, written as the headlines it covers. A text gets a topic when
its cosine to the closest of the topic's description vectors reaches the calibrated threshold
(SENTIMENT_TOPIC_THRESHOLD, chosen on apps/sentiment/data/topic_sentences.csv's calibration half
by `python -m bench sentiment_topics`); its score is that cosine. The keyword lists in text.py
remain the fallback: for Chinese text (the English embedder does not read it), with
SENTIMENT_TOPIC_TAGGER=keywords, and when the embedder cannot be loaded.

Analysts' corrections (TopicCorrection, the latest per text) train one logistic regression per
topic on the embedder's vectors as soon as that topic has SENTIMENT_TOPIC_MIN_EXAMPLES texts
with it and as many without it; such a topic is then tagged by its classifier (probability at
least 0.5, the score), the others still zero-shot. The classifiers are retrained in-process
whenever a correction is added.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

import numpy as np
from django.conf import settings

from apps.mlops.runtime import texts_embed
from mlcore.language import has_han

from . import selectors
from .text import TOPICS, topics_tag

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
assert set(TOPIC_DESCRIPTIONS) == set(TOPICS)


# (examples key, embedder) -> classifiers per topic; one entry, replaced when corrections change.
_CLASSIFIERS: dict[tuple[Any, ...], dict[str, Any]] = {}


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


def _classifiers(embed: Embed) -> dict[str, Any]:
    key, examples = selectors.topic_examples()
    cache_key = (key, embed, settings.SENTIMENT_TOPIC_MIN_EXAMPLES)
    if cache_key not in _CLASSIFIERS:
        _CLASSIFIERS.clear()
        _CLASSIFIERS[cache_key] = classifiers_train(
            examples, embed, settings.SENTIMENT_TOPIC_MIN_EXAMPLES
        )
    return _CLASSIFIERS[cache_key]


@lru_cache(maxsize=4)
def _description_vectors(embed: Embed) -> tuple[list[str], np.ndarray]:
    """(topic of each description, their unit vectors), embedded once per embedder."""
    keys = [key for key, lines in TOPIC_DESCRIPTIONS.items() for _line in lines]
    texts = [line for lines in TOPIC_DESCRIPTIONS.values() for line in lines]
    return keys, np.asarray(embed(texts), dtype=np.float32)


def topic_similarities(
    texts: Sequence[str], embed: Embed = texts_embed, vectors: np.ndarray | None = None
) -> list[dict[str, float]]:
    """For each text, topic -> cosine to the closest of its descriptions."""
    keys, described = _description_vectors(embed)
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


def _model_topics(texts: Sequence[str], embed: Embed, threshold: float) -> list[dict[str, float]]:
    """Topics of English texts: each topic's classifier where analysts' corrections trained
    one, zero-shot similarity for the rest."""
    vectors = np.asarray(embed(list(texts)), dtype=np.float32)
    sims = topic_similarities(texts, embed, vectors)
    trained = _classifiers(embed)
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
    texts: Sequence[str], *, threshold: float | None = None, embed: Embed = texts_embed
) -> list[dict[str, float]]:
    """Topic -> score (the cosine, rounded) for each text, from the model; Chinese texts, and
    every text when SENTIMENT_TOPIC_TAGGER is "keywords" or the embedder fails, get keyword
    topics instead."""
    out: list[dict[str, float]] = [{} for _ in texts]
    use_model = settings.SENTIMENT_TOPIC_TAGGER == "model"
    english = [i for i, text in enumerate(texts) if use_model and not has_han(text)]
    floor = settings.SENTIMENT_TOPIC_THRESHOLD if threshold is None else threshold
    if english:
        try:
            tagged = _model_topics([texts[i] for i in english], embed, floor)
        except Exception:
            log.warning("topic model unavailable; tagging topics by keywords", exc_info=True)
            english = []
        else:
            for i, found in zip(english, tagged, strict=True):
                out[i] = found
    by_model = set(english)
    for i, text in enumerate(texts):
        if i not in by_model:
            out[i] = topics_tag(text)
    return out
