"""Unlabelled corpora for adaptation and distillation: read, deduplicate, cap, hash, split."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable, Sequence
from pathlib import Path

from ..text import content_hash

# A text longer than this is cut: adaptation reads 64-128 tokens of it anyway.
MAX_TEXT_CHARS = 2000


def text_clean(raw: str) -> str:
    """One text as a corpus keeps it: whitespace runs made one space, cut at MAX_TEXT_CHARS
    (a cleaned text cleans to itself, so a stored corpus hashes the same when read again)."""
    return " ".join(raw.split())[:MAX_TEXT_CHARS].rstrip()


def texts_clean(texts: Iterable[str], *, limit: int | None = None) -> list[str]:
    """Stripped, non-empty texts, each once (case and whitespace ignored), first seen kept, at
    most `limit` of them."""
    seen: set[str] = set()
    out: list[str] = []
    for raw in texts:
        text = text_clean(raw)
        if not text:
            continue
        key = text_key(text)
        if key in seen:
            continue
        seen.add(key)
        out.append(text)
        if limit is not None and len(out) >= limit:
            break
    return out


def text_key(text: str) -> str:
    """What two texts share when a corpus counts them as one: cleaned, case and whitespace
    ignored."""
    return content_hash(text_clean(text), normalised=True)


def corpus_read(paths: Sequence[str | Path], *, limit: int | None = None) -> list[str]:
    """The texts of plain-text files (one text a line, UTF-8), cleaned and deduplicated across
    files. FileNotFoundError / UnicodeDecodeError name the bad file."""

    def lines() -> Iterable[str]:
        for path in paths:
            with Path(path).open(encoding="utf-8") as handle:
                yield from handle

    return texts_clean(lines(), limit=limit)


def corpus_hash(texts: Sequence[str]) -> str:
    """A digest of the texts in order: two runs on the same corpus share it."""
    digest = hashlib.sha256()
    for text in texts:
        digest.update(text.encode())
        digest.update(b"\n")
    return digest.hexdigest()


def corpus_split(
    texts: Sequence[str], *, held_out: int, seed: int = 42
) -> tuple[list[str], list[str]]:
    """(train, held-out): `held_out` texts drawn at random (at most a fifth of the corpus)."""
    order = list(range(len(texts)))
    random.Random(seed).shuffle(order)
    n = min(held_out, len(texts) // 5)
    return [texts[i] for i in order[n:]], [texts[i] for i in order[:n]]
