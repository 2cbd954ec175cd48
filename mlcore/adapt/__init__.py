"""Domain adaptation of sentence encoders to unlabelled text (no Django).

`adapt(texts, out_dir=..., config=AdaptConfig(method=...))` -> `AdaptResult`; methods in
`METHODS`: tsdae, mlm-keep, tapt (mlm-keep on the task's own texts), lora.
"""

from .corpus import (
    corpus_hash,
    corpus_read,
    corpus_split,
    text_clean,
    text_key,
    texts_clean,
)
from .exclusion import texts_without
from .methods import ADAPT_FILE, adapt, adapt_info, corpus_ready, encoder_cosine
from .run import (
    DEFAULT_METHOD,
    METHODS,
    AdaptConfig,
    AdaptMethod,
    AdaptProgress,
    AdaptResult,
    method_get,
)

__all__ = [
    "ADAPT_FILE",
    "DEFAULT_METHOD",
    "METHODS",
    "AdaptConfig",
    "AdaptMethod",
    "AdaptProgress",
    "AdaptResult",
    "adapt",
    "adapt_info",
    "corpus_hash",
    "corpus_read",
    "corpus_ready",
    "corpus_split",
    "encoder_cosine",
    "method_get",
    "text_clean",
    "text_key",
    "texts_clean",
    "texts_without",
]
