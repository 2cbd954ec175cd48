"""Texts kept out of a corpus: those a model is judged on must not be in the unlabelled text it
learns from, whole or inside a longer text, whatever their case, spacing or closing stop."""

from __future__ import annotations

from collections.abc import Iterable

from ..text import sentences_split
from .corpus import MAX_TEXT_CHARS, text_clean

# A kept-out text this short ("Thanks!", "Love it.") is matched only as a whole text: as a
# sentence inside others it is too common to mean the judged row.
MIN_CONTAINED_WORDS = 4
# The most sentences of one text compared (more than MAX_TEXT_CHARS can hold).
MAX_SENTENCES = 400
_CLOSERS = " .!?\"'"


def _bare(text: str) -> str:
    """Case, spacing and a closing stop or quote aside."""
    return " ".join(text.lower().split()).rstrip(_CLOSERS)


def _first_sentence(text: str) -> str:
    pieces = sentences_split(text, limit=1)
    return _bare(pieces[0]) if pieces else ""


class Exclusion:
    """The texts to keep out, ready to test corpus texts against: a corpus text goes when it
    is one of them, or holds one (of MIN_CONTAINED_WORDS words or more) in its sentences."""

    def __init__(self, texts: Iterable[str]) -> None:
        self.whole: set[str] = set()
        # A kept-out text found by its first sentence, then confirmed as a whole.
        self.by_first: dict[str, set[str]] = {}
        for text in texts:
            bare = _bare(text_clean(text))
            if not bare:
                continue
            self.whole.add(bare)
            if len(bare.split()) >= MIN_CONTAINED_WORDS:
                first = _first_sentence(text) or bare
                self.by_first.setdefault(first, set()).add(bare)

    def __bool__(self) -> bool:
        return bool(self.whole)

    def holds(self, text: str) -> bool:
        """Whether `text` is, or holds, a kept-out text."""
        bare = _bare(text_clean(text))
        if bare in self.whole:
            return True
        if not self.by_first:
            return False
        raw = text[: 2 * MAX_TEXT_CHARS]  # paragraph breaks still separate sentences
        for sentence in sentences_split(raw, limit=MAX_SENTENCES):
            for kept_out in self.by_first.get(_bare(sentence), ()):
                if kept_out in bare:
                    return True
        return False


def texts_without(texts: Iterable[str], exclude: Iterable[str]) -> list[str]:
    """`texts` less those that are, or hold, one of `exclude` (Exclusion)."""
    exclusion = Exclusion(exclude)
    if not exclusion:
        return list(texts)
    return [text for text in texts if not exclusion.holds(text)]
