"""Settings of financial sentiment: long texts, trend charts and topic tagging (docs/sentiment.md).

Read from the environment like config/settings.py, which imports them; kept here so that the
main settings module stays one readable page per concern.
"""

from __future__ import annotations

import environ
from django.core.exceptions import ImproperlyConfigured

env = environ.Env()

# Sentences of one long text the sentiment model scores (the first ones; the rest are counted).
SENTIMENT_MAX_SENTENCES = env.int("SENTIMENT_MAX_SENTENCES", default=200)
if not 1 <= SENTIMENT_MAX_SENTENCES <= 1000:
    raise ImproperlyConfigured(
        f"SENTIMENT_MAX_SENTENCES must be between 1 and 1000, got {SENTIMENT_MAX_SENTENCES}"
    )
# Trend charts draw a window's negative share (and mean) only from this many texts up: a share of
# one or two texts is noise, and a window below it is a gap in the line, as an empty one is.
SENTIMENT_CHART_MIN_COUNT = env.int("SENTIMENT_CHART_MIN_COUNT", default=3)
if not 1 <= SENTIMENT_CHART_MIN_COUNT <= 1000:
    raise ImproperlyConfigured(
        f"SENTIMENT_CHART_MIN_COUNT must be between 1 and 1000, got {SENTIMENT_CHART_MIN_COUNT}"
    )
# Topic tagging: "model" (zero-shot from the embedder over topic descriptions, a topic when the
# cosine reaches SENTIMENT_TOPIC_THRESHOLD, calibrated by `python -m bench sentiment_topics`) or
# "keywords" (the keyword lists, which stay the fallback for Chinese text and a failed embedder).
SENTIMENT_TOPIC_TAGGER = env.str("SENTIMENT_TOPIC_TAGGER", default="model")
if SENTIMENT_TOPIC_TAGGER not in ("model", "keywords"):
    raise ImproperlyConfigured(
        f"SENTIMENT_TOPIC_TAGGER must be 'model' or 'keywords', got {SENTIMENT_TOPIC_TAGGER!r}"
    )
SENTIMENT_TOPIC_THRESHOLD = env.float("SENTIMENT_TOPIC_THRESHOLD", default=0.39)
# The same for sources on the multilingual embedder (its cosines run on another scale),
# calibrated on the Chinese set by the same bench.
SENTIMENT_TOPIC_THRESHOLD_MULTILINGUAL = env.float(
    "SENTIMENT_TOPIC_THRESHOLD_MULTILINGUAL", default=0.40
)
# Analysts' topic corrections train a topic's classifier once it has this many texts with the
# topic and as many without it (until then the topic stays zero-shot).
SENTIMENT_TOPIC_MIN_EXAMPLES = env.int("SENTIMENT_TOPIC_MIN_EXAMPLES", default=8)
# How often beat looks for feeds that are due (each feed keeps its own poll interval, at least
# 60 s): a new feed waits up to this long for its first poll.
SENTIMENT_POLL_DUE_S = env.int("SENTIMENT_POLL_DUE_S", default=60)
if not 1 <= SENTIMENT_POLL_DUE_S <= 3600:
    raise ImproperlyConfigured(
        f"SENTIMENT_POLL_DUE_S must be between 1 and 3600, got {SENTIMENT_POLL_DUE_S}"
    )
# Sentiment training distils over the ingested documents' sentences by default (parameter
# `distil_documents`, "auto") once they hold this many beyond the labelled set: with an mpnet
# teacher, 10k news texts lifted the 22M student by 1.2 points of accuracy and all 178k by 3.4
# (`python -m bench distil`, bench/RESULTS.md).
SENTIMENT_DISTIL_MIN_TEXTS = env.int("SENTIMENT_DISTIL_MIN_TEXTS", default=10_000)
if SENTIMENT_DISTIL_MIN_TEXTS < 1:
    raise ImproperlyConfigured(
        f"SENTIMENT_DISTIL_MIN_TEXTS must be at least 1, got {SENTIMENT_DISTIL_MIN_TEXTS}"
    )
