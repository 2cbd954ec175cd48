"""Chinese word segmentation (jieba) for keyword search and matching, with a user dictionary.

Latin-script text never reaches jieba: callers keep their own tokenizers for it, so English
results are unchanged. Names added with `user_words_add` (watchlist companies and aliases,
topic keywords) are kept whole by the segmenter."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from typing import Any

from .language import has_han

_PUNCT_OR_SPACE = re.compile(r"^[\W_]+$", re.UNICODE)
_tokenizer: Any = None
_user_words: set[str] = set()
_lock = threading.Lock()

# Function words that carry no meaning for search (the Chinese counterpart of English stopwords).
STOPWORDS_ZH = frozenset(
    [
        "的",
        "了",
        "吗",
        "呢",
        "吧",
        "啊",
        "是",
        "在",
        "和",
        "与",
        "及",
        "或",
        "我",
        "你",
        "他",
        "她",
        "它",
        "我们",
        "你们",
        "他们",
        "这",
        "那",
        "这个",
        "那个",
        "什么",
        "怎么",
        "怎样",
        "如何",
        "为什么",
        "哪",
        "哪里",
        "哪个",
        "请问",
        "请",
        "一个",
        "有",
        "没有",
        "就",
        "都",
        "也",
        "还",
        "会",
        "能",
        "可以",
        "要",
        "把",
        "被",
        "给",
        "对",
        "从",
        "到",
        "向",
        "着",
        "过",
        "么",
        "呀",
        "嘛",
        "哦",
        "您",
        "谢谢",
        "你好",
    ]
)


def _tokenizer_get() -> Any:
    global _tokenizer
    if _tokenizer is None:
        # heavy: jieba builds its dictionary on import
        import jieba

        jieba.setLogLevel(logging.WARNING)
        _tokenizer = jieba.Tokenizer()
    return _tokenizer


def user_words_add(words: Iterable[str]) -> None:
    """Keep these words whole when segmenting (names, aliases, keywords with Chinese in them)."""
    with _lock:
        tokenizer = _tokenizer_get()
        for word in words:
            word = " ".join((word or "").split())
            if word and has_han(word) and word not in _user_words:
                # A high frequency makes jieba prefer the whole word over its parts.
                tokenizer.add_word(word, freq=100_000)
                _user_words.add(word)


def words_split(text: str, *, for_search: bool = False) -> list[str]:
    """The words of a text in order, spaces and punctuation dropped. `for_search` also yields
    the shorter words inside long ones (搜索引擎 -> 搜索, 引擎, 搜索引擎) for better recall."""
    with _lock:
        tokenizer = _tokenizer_get()
        pieces = tokenizer.cut_for_search(text) if for_search else tokenizer.cut(text, HMM=True)
        return [p.strip() for p in pieces if p.strip() and not _PUNCT_OR_SPACE.match(p)]


def word_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) character offsets of the segmenter's words in `text`."""
    with _lock:
        tokenizer = _tokenizer_get()
        return [(start, end) for _word, start, end in tokenizer.tokenize(text)]
