"""Which passages of a text speak about which watchlist company, for per-company sentiment.

A text that names one company is about it as a whole. In a text that names several, each
company's passages are the sentences that mention it; a sentence that names several companies is
cut at contrast words ("while", "but", "whereas", ";", "，而", "，但" ...) into clauses, so in
"A beats estimates, while rival B slumps" A gets "A beats estimates" and B "while rival B
slumps". A clause or sentence that names no company continues the one before it ("Its shares
rose 5%." after a sentence about A is about A); text before the first mention belongs to nobody.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from mlcore.language import has_han
from mlcore.text import sentences_split

from .text import EntityMatch, WatchItem, entities_match

# Sentences read from a body at most (as scoring's SENTIMENT_MAX_SENTENCES cap).
ALL_SENTENCES = 100_000
# Where a sentence that names several companies is cut: the cut keeps the contrast word with the
# clause after it. ", and" cuts only between two full clauses (see _MIN_WORDS).
_CONTRAST_EN = re.compile(
    r";\s*|,?\s+(?=(?:while|whereas|but|however|although|though|yet|meanwhile|even as|"
    r"in contrast|unlike|as opposed to|and rival|and peer)\b)|,\s+(?=and\s)",
    re.IGNORECASE,
)
_CONTRAST_ZH = re.compile(
    r"[；;]|[，,]\s*(?=(?:而|但|但是|然而|不过|同时|与此同时|相比之下|反观|相反|另一方面)"
    r")"
)
# A clause shorter than this (words; Chinese: characters) is no clause ("Nokia, Ericsson and
# Siemens fell" is one): it stays joined to its neighbour.
_MIN_WORDS = 3
_MIN_HAN_CHARS = 4

Passage = tuple[str, float]


def _long_enough(piece: str) -> bool:
    if has_han(piece):
        return sum(1 for c in piece if has_han(c)) >= _MIN_HAN_CHARS
    return len(re.findall(r"\w+", piece)) >= _MIN_WORDS


def clauses_split(sentence: str) -> list[str]:
    """A sentence cut at its contrast words; pieces too short to be clauses stay joined."""
    pattern = _CONTRAST_ZH if has_han(sentence) else _CONTRAST_EN
    cuts = [0]
    for m in pattern.finditer(sentence):
        if m.start() > cuts[-1]:
            cuts.append(m.start())
    pieces = [sentence[a:b] for a, b in zip(cuts, [*cuts[1:], len(sentence)], strict=True)]
    merged: list[str] = []
    for piece in pieces:
        if merged and not (_long_enough(piece) and _long_enough(merged[-1])):
            merged[-1] += piece
        else:
            merged.append(piece)
    return [p.strip(" ,;，；") for p in merged if p.strip(" ,;，；")]


def _mentioned(text: str, items: Sequence[WatchItem]) -> frozenset[int]:
    return frozenset(m.entity_id for m in entities_match(text, items))


def company_passages(
    title: str,
    body: str,
    items: Sequence[WatchItem],
    *,
    max_sentences: int = ALL_SENTENCES,
) -> dict[int, list[Passage]]:
    """Company id -> (passage, weight) for the companies `items` (those the text mentions).

    Headline sentences weigh double when there is a body, as in the document's own score. A
    company the passages never name (e.g. a ticker that counts only beside the name elsewhere)
    gets no entry: it takes the document's score."""
    units: list[Passage] = []
    head_weight = 2.0 if body.strip() else 1.0
    units += [(s, head_weight) for s in sentences_split(title, limit=ALL_SENTENCES) if s.strip()]
    units += [(s, 1.0) for s in sentences_split(body, limit=max_sentences)[:max_sentences]]
    passages: dict[int, list[Passage]] = {item.id: [] for item in items}
    current: frozenset[int] = frozenset()
    for sentence, weight in units:
        named = _mentioned(sentence, items)
        pieces = clauses_split(sentence) if len(named) > 1 else [sentence]
        for piece in pieces:
            found = _mentioned(piece, items) if len(pieces) > 1 else named
            if found:
                current = found
            for entity_id in current:
                passages[entity_id].append((piece, weight))
    return {pk: found for pk, found in passages.items() if found}


def company_units(
    title: str,
    body: str,
    matches: Sequence[EntityMatch],
    watchlist: Sequence[WatchItem],
    max_sentences: int = ALL_SENTENCES,
) -> tuple[list[str], dict[int, list[tuple[int, float]]]]:
    """The passages to score for each company of a text that names several (each distinct
    passage once): (texts, company id -> [(index in texts, weight)]). Nothing for one company,
    whose score is the text's own."""
    if len(matches) < 2:
        return [], {}
    ids = {m.entity_id for m in matches}
    items = [item for item in watchlist if item.id in ids]
    found = company_passages(title, body, items, max_sentences=max_sentences)
    texts: list[str] = []
    index: dict[str, int] = {}
    companies: dict[int, list[tuple[int, float]]] = {}
    for entity_id, passages in found.items():
        for text, weight in passages:
            if text not in index:
                index[text] = len(texts)
                texts.append(text)
            companies.setdefault(entity_id, []).append((index[text], weight))
    return texts, companies
