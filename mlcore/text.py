"""Text helpers shared by the apps: splitting text into sentences, and content hashes."""

from __future__ import annotations

import hashlib
import re

# Abbreviations that end in a period without ending a sentence (lower case, no period), and
# those that do so only before a number ("No. 3", "Fig. 2"). Dotted initials ("U.S.", "J.P.",
# "e.g.") never end one either: "J.P. Morgan" is one name.
_ABBREVIATIONS = frozenset(
    {
        *("inc", "corp", "co", "cos", "ltd", "plc", "llc", "bros"),
        *("mr", "mrs", "ms", "messrs", "dr", "prof", "sr", "jr", "st", "gov", "sen", "rep", "gen"),
        *("vs", "approx", "est", "dept"),
        *("jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec"),
    }
)
_NUMBER_ABBREVIATIONS = frozenset({"no", "nos", "fig", "vol", "pp"})
_DOTTED = re.compile(r"(?:[A-Za-z]\.){2,}")
# A sentence ends at . ! ? (maybe followed by a closing quote or bracket) before a capital, a
# digit, a currency sign or an opening quote.
_SENTENCE_END = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"'”’)\]]))\s+(?=[\"'“‘(\[]?[A-Z0-9$€£¥])")
# Paragraph breaks and bullet points end a sentence even without a full stop.
_PARAGRAPH = re.compile(r"\n\s*\n|\n\s*[-*•·–]\s+|^\s*[-*•·–]\s+")
# The plain rule of `lines=True`: . ! ? then a space before a capital, a digit, a quote or "(".
_LINE_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")
# Chinese (and other full-width) sentence ends: 。！？；, and … / …… after a Chinese character,
# each with any closing quotes or brackets after it. They need no space after them. English text
# holds none of these (an ellipsis after a Latin letter is no end), so its split is unchanged.
_CJK_SENTENCE_END = re.compile(
    r"(?:[。！？；!?]*[。！？；]|(?<=[\u3400-\u9fff\uff00-\uffef])(?:…+|\.{3,}))[”’」』）)】〉》]*"
)
# The sentiment model reads 64 tokens of a piece (its training max_length), about 250
# characters of English: a longer run-on sentence is cut at clause breaks so its end is read too.
MAX_SENTENCE_CHARS = 250


def _ends_sentence(piece: str, following: str) -> bool:
    last = piece.rsplit(" ", 1)[-1].lstrip("\"'“‘([")
    if not last.endswith("."):
        return True
    if _DOTTED.fullmatch(last):
        return False
    word = last.rstrip(".").lower()
    if word in _ABBREVIATIONS:
        return False
    return not (word in _NUMBER_ABBREVIATIONS and following[:1].isdigit())


def _pieces_cut(sentence: str, max_chars: int, limit: int) -> list[str]:
    """At most `limit` pieces of at most max_chars of a sentence, cut after '; ' or ', ' where
    possible (else after a word); a megabyte without a full stop costs no more than `limit`."""
    pieces: list[str] = []
    start = 0
    while len(sentence) - start > max_chars and len(pieces) < limit:
        window = sentence[start : start + max_chars + 1]
        cut = max(window.rfind("; "), window.rfind(", "), window.rfind("，"), window.rfind("、"))
        if cut < max_chars // 2:
            cut = window.rfind(" ")
        if cut <= 0:
            cut = max_chars - 1  # one unbroken token: cut it anywhere
        pieces.append(window[: cut + 1].strip())
        start += cut + 1
    rest = sentence[start:].strip()
    return [*pieces, rest] if rest and len(pieces) < limit else pieces


def _cjk_split(text: str) -> list[str]:
    """The text cut after each Chinese sentence end (the text itself when it has none)."""
    if not _CJK_SENTENCE_END.search(text):
        return [text]
    out, start = [], 0
    for match in _CJK_SENTENCE_END.finditer(text):
        out.append(text[start : match.end()].strip())
        start = match.end()
    return [p for p in [*out, text[start:].strip()] if p]


def sentences_split(
    text: str, *, limit: int = 40, max_chars: int = MAX_SENTENCE_CHARS, lines: bool = False
) -> list[str]:
    """Split prose into sentences; keeps 'Acme Corp. said' together. At most `limit` sentences.

    Paragraphs and bullet points are sentences of their own; a sentence longer than `max_chars`
    is cut into pieces at clause breaks.

    `lines=True` is the rule for text whose pieces are re-joined or quoted word for word
    (knowledge-base chunks): each line is split on its own, only after . ! ? before a capital,
    a digit, a quote or "(", and every piece is kept whole (`limit` and `max_chars` do not
    apply): no abbreviation rules, no cutting, no fragment dropped.
    """
    if lines:
        out: list[str] = []
        for line in text.splitlines():
            for clause in _cjk_split(line):
                out += [s.strip() for s in _LINE_SENTENCE_END.split(clause) if s.strip()]
        return out
    parts: list[str] = []
    for paragraph in _PARAGRAPH.split(text or ""):
        paragraph = re.sub(r"\s+", " ", paragraph).strip()
        if not paragraph:
            continue
        pieces = [p for c in _cjk_split(paragraph) for p in _SENTENCE_END.split(c) if p]
        buffer = ""
        for i, piece in enumerate(pieces):
            buffer = f"{buffer} {piece}" if buffer else piece
            following = pieces[i + 1] if i + 1 < len(pieces) else ""
            if following and not _ends_sentence(buffer, following):
                continue
            parts.extend(_pieces_cut(buffer, max_chars, limit - len(parts)))
            buffer = ""
            if len(parts) >= limit:
                break
        if len(parts) >= limit:
            break
    return [p for p in parts if len(p) > 2][:limit]


def content_hash(*parts: str, normalised: bool = False) -> str:
    """SHA-256 hex digest of the parts.

    Exact by default (parts joined by the unit separator, so ("ab", "c") and ("a", "bc")
    differ). `normalised=True` ignores case and whitespace: the parts joined by a line break,
    lower-cased, every run of whitespace one space, so a re-published text hashes the same.
    """
    if normalised:
        text = re.sub(r"\s+", " ", "\n".join(parts).lower()).strip()
    else:
        text = "\x1f".join(parts)
    return hashlib.sha256(text.encode()).hexdigest()
