"""Language of a text (lingua, offline, a fixed set of languages) and Chinese-script helpers."""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Iterable
from typing import Any

# Codes a text may be stored with; lingua chooses among these only (fewer is faster and surer).
LANGUAGES = ("en", "zh", "ja", "ko", "de", "fr", "es", "it", "pt", "nl", "fi", "sv", "ru")
LANGUAGE_NAMES = {
    "en": "English",
    "zh": "中文 (Chinese)",
    "ja": "日本語 (Japanese)",
    "ko": "한국어 (Korean)",
    "de": "Deutsch",
    "fr": "Français",
    "es": "Español",
    "it": "Italiano",
    "pt": "Português",
    "nl": "Nederlands",
    "fi": "Suomi",
    "sv": "Svenska",
    "ru": "Русский",
}
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_KANA_HANGUL = re.compile(r"[\u3040-\u30ff\uac00-\ud7af]")
_LETTER = re.compile(r"[^\W\d_]", re.UNICODE)
_MIN_LATIN_WORDS = 3

_detector: Any = None
_lock = threading.Lock()


def has_han(text: str) -> bool:
    """Whether the text holds a Chinese character (Han ideograph)."""
    return _HAN.search(text or "") is not None


def han_share(text: str) -> float:
    """The share of a text's letters that are Chinese characters (0.0 for no letters)."""
    letters = _LETTER.findall(text or "")
    return sum(1 for c in letters if _HAN.match(c)) / len(letters) if letters else 0.0


def _detector_get() -> Any:
    global _detector
    with _lock:
        if _detector is None:
            # heavy: lingua's language models load on first use
            from lingua import IsoCode639_1, LanguageDetectorBuilder

            codes = [getattr(IsoCode639_1, code.upper()) for code in LANGUAGES]
            _detector = LanguageDetectorBuilder.from_iso_codes_639_1(*codes).build()
        return _detector


def language_detect(text: str, default: str = "") -> str:
    """A two-letter code from LANGUAGES; `default` when the text is too short to tell.

    Text that is mostly Chinese characters (without kana or hangul) is "zh" at once: a Chinese
    sentence with an English product name in it is still Chinese."""
    text = (text or "").strip()
    if not text:
        return default
    if han_share(text) >= 0.3 and not _KANA_HANGUL.search(text):
        return "zh"
    if not has_han(text) and len(text.split()) < _MIN_LATIN_WORDS:
        return default
    found = _detector_get().detect_language_of(text[:2000])
    return found.iso_code_639_1.name.lower() if found is not None else default


def languages_count(texts: Iterable[str]) -> Counter[str]:
    """How many texts are in each language ("" for those too short to tell)."""
    return Counter(language_detect(t) for t in texts)


def is_chinese_or_mixed(texts: Iterable[str], *, share: float = 0.1) -> bool:
    """Whether at least `share` of the texts are Chinese: a training set that needs a
    multilingual base rather than the English one."""
    counts = languages_count(texts)
    total = sum(counts.values())
    return bool(total) and counts["zh"] / total >= share


def base_model_pick(texts: Iterable[str], requested: str = "auto") -> str:
    """The base model to fine-tune: `requested` unless it is "auto" (or empty), else from the
    training texts' languages: "multilingual" for a Chinese or mixed set, else "minilm" (the
    better one for English)."""
    if requested and requested != "auto":
        return requested
    return "multilingual" if is_chinese_or_mixed(texts) else "minilm"
