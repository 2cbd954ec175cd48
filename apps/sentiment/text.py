"""Plain text helpers: watchlist matching, topic tagging, language guess (sentences and hashes:
mlcore.text)."""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from mlcore.language import has_han, language_detect
from mlcore.segment import user_words_add, word_spans, words_split

from .topics_zh import TOPICS_ZH

LONG_TEXT_CHARS = 220
# A word character that is not a Chinese character: names and tickers end where one of these
# does not follow. Chinese has no spaces, so a Chinese character next to "Apple" or "TCEHY" is a
# boundary; text with no Chinese in it matches exactly as with \w.
_W = r"[^\W\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]"


# -- watchlist -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class WatchItem:
    id: int
    name: str
    ticker: str
    aliases: tuple[str, ...]
    ticker_needs_context: bool


@dataclass(frozen=True)
class EntityMatch:
    entity_id: int
    mentions: int
    matched: str


_TICKER = re.compile(r"[A-Z0-9][A-Z0-9.\-]*")


def ticker_normalise(value: str) -> str:
    """A ticker as stored and matched: ' $ai ' -> 'AI'; ValueError unless letters, digits, '.', '-'.

    Tickers match only in capitals, so every way in (page, API, admin) stores them through here."""
    ticker = (value or "").strip().lstrip("$").strip().upper()
    if ticker and not _TICKER.fullmatch(ticker):
        raise ValueError("a ticker is letters, digits, '.' or '-' (an optional leading '$')")
    return ticker


@functools.lru_cache(maxsize=4096)
def _names_pattern(phrases: tuple[str, ...], w: str = r"\w") -> re.Pattern[str] | None:
    """Any of the phrases as whole words, case-insensitively, longest first; the words of a
    phrase may be apart by any whitespace (a line break, a non-breaking space)."""
    cleaned = sorted(
        {" ".join(p.split()) for p in phrases if p and p.strip()}, key=len, reverse=True
    )
    if not cleaned:
        return None
    body = "|".join(r"\s+".join(re.escape(w) for w in p.split(" ")) for p in cleaned)
    # The group matters: the boundaries must hold for every alternative, not the first and last.
    if w == r"\w":  # text without Chinese: the pattern as it always was
        return re.compile(rf"(?<![\w$])(?:{body})(?![\w])", re.IGNORECASE)
    return re.compile(rf"(?<!{w})(?<!\$)(?:{body})(?!{w})", re.IGNORECASE)


def _is_name_mention(surface: str, phrases: Sequence[str], lowercase_text: bool) -> bool:
    """A one-word name or alias written in lower case ("cobalt prices") is the common word, not
    the company ("Cobalt"), unless the alias was entered in lower case or the whole text is."""
    if lowercase_text or len(surface.split()) > 1 or not surface.islower():
        return True
    return any(p.strip().islower() and p.strip().lower() == surface for p in phrases)


@dataclass(frozen=True)
class _Hit:
    start: int
    end: int
    surface: str
    is_name: bool


def _entity_hits(
    text: str, item: WatchItem, lowercase_text: bool, bounds: set[int] | None = None
) -> list[_Hit]:
    """The item's mentions; in Chinese text (`bounds`: the segmenter's word boundaries) a name
    with Chinese in it counts only as whole words, so 中国银行 is not a mention of 国银."""
    phrases = (item.name, *item.aliases)
    w = r"\w" if bounds is None else _W
    pattern = _names_pattern(phrases, w)
    names = [
        _Hit(m.start(), m.end(), m.group(0), True)
        for m in (pattern.finditer(text) if pattern else ())
        if _is_name_mention(m.group(0), phrases, lowercase_text)
        and (bounds is None or not has_han(m.group(0)) or {m.start(), m.end()} <= bounds)
    ]
    ticker = item.ticker.strip().lstrip("$").upper()  # rows stored before normalising
    if not ticker:
        return names
    t = re.escape(ticker)
    exchange = r"(?:NYSE|NASDAQ|Nasdaq|LSE|TSX|HEL|XETRA)"
    in_context = [
        *re.finditer(rf"\${t}(?!{w})", text),
        *re.finditer(rf"(?:\(\s*(?:{exchange}\s*:\s*)?{t}\s*\)|{exchange}\s*:\s*{t})(?!{w})", text),
    ]
    tickers = in_context
    if not item.ticker_needs_context or names:
        bare = list(re.finditer(rf"(?<!{w})(?<!\$){t}(?!{w})", text))
        tickers = bare if len(bare) >= len(in_context) else in_context
    return names + [_Hit(m.start(), m.end(), m.group(0), False) for m in tickers]


# Runs of word characters other than Chinese ones (Chinese names are looked up as substrings).
_WORD = re.compile(rf"{_W}+")
_PLAIN_WORD = re.compile(r"\w+")


def _may_mention(item: WatchItem, words: set[str], lowered: set[str], text_lower: str) -> bool:
    for phrase in (item.name, *item.aliases):
        if phrase and has_han(phrase):
            if phrase.strip().lower() in text_lower:
                return True
            continue
        first = _WORD.search(phrase or "")
        if first is not None and first.group(0).lower() in lowered:
            return True
        if first is None and phrase and phrase.strip():
            return True  # no word to look for (an alias like "&"): let the pattern decide
    first = _WORD.search(item.ticker.strip().lstrip("$").upper())
    return first is not None and first.group(0) in words


def entities_match(text: str, watchlist: Sequence[WatchItem]) -> list[EntityMatch]:
    """Which watchlist companies a text mentions, on word boundaries.

    Names and aliases match case-insensitively, except that a one-word name or alias in lower
    case is the common word ("cobalt prices" is not Cobalt Motors). Tickers match only in
    capitals; a ticker that is also a common word ("AI", "ALL", "NOW") counts only as "$AI",
    "(AI)", "NYSE: AI" or when the company's name is mentioned too, because users get burned by
    false ticker matches. A mention inside a longer mention of another company is that company's
    ("Acme Bank" is not Acme).
    """
    lowercase_text = not any(c.isupper() for c in text)
    # A company can only be mentioned if the first word of one of its names or its ticker is a
    # word of the text: one pass over the text instead of several per company, so a long filing
    # against a large watchlist is tagged in a fraction of a second, not minutes.
    words = set((_WORD if has_han(text) else _PLAIN_WORD).findall(text))
    lowered = {w.lower() for w in words}
    bounds: set[int] | None = None
    if has_han(text):
        # Chinese names join the segmenter's dictionary, so it keeps them whole.
        user_words_add(p for item in watchlist for p in (item.name, *item.aliases) if p)
        bounds = {edge for span in word_spans(text) for edge in span}
    text_lower = text.lower()
    hits = {
        item.id: _entity_hits(text, item, lowercase_text, bounds)
        for item in watchlist
        if _may_mention(item, words, lowered, text_lower)
    }
    spans = sorted((h.start, h.end, entity_id) for entity_id, found in hits.items() for h in found)
    starts = [start for start, _end, _id in spans]
    longest = max((end - start for start, end, _id in spans), default=0)

    def inside_another(hit: _Hit, entity_id: int) -> bool:
        # Only spans starting within `longest` characters before the hit can contain it.
        lo = bisect.bisect_left(starts, hit.end - longest)
        hi = bisect.bisect_right(starts, hit.start)
        return any(
            other != entity_id and hit.end <= end and end - start > hit.end - hit.start
            for start, end, other in spans[lo:hi]
        )

    found_matches: list[EntityMatch] = []
    for item in watchlist:
        kept = [h for h in hits.get(item.id, ()) if not inside_another(h, item.id)]
        if kept:
            first = next((h for h in kept if h.is_name), kept[0])
            mentions = len({(h.start, h.end) for h in kept})  # "ACME" as name and ticker: once
            found_matches.append(
                EntityMatch(item.id, mentions, " ".join(first.surface.split())[:200])
            )
    return found_matches


# -- topics ----------------------------------------------------------------------------------------
TOPICS: dict[str, tuple[str, tuple[str, ...]]] = {
    "earnings": (
        "Earnings",
        (
            "earnings",
            "quarterly results",
            "net profit",
            "net income",
            "revenue",
            "eps",
            "operating profit",
            "net sales",
            "profit warning",
            "quarter",
            "q1",
            "q2",
            "q3",
            "q4",
        ),
    ),
    "guidance": (
        "Guidance",
        (
            "guidance",
            "outlook",
            "forecast",
            "expects",
            "full-year",
            "raises its",
            "cuts its",
            "lowered its",
            "reiterated",
        ),
    ),
    "mna": (
        "M&A",
        (
            "acquisition",
            "acquire",
            "merger",
            "takeover",
            "buyout",
            "bid for",
            "divest",
            "stake in",
            "tender offer",
        ),
    ),
    "litigation": (
        "Litigation",
        (
            "lawsuit",
            "sue",
            "court",
            "class action",
            "settlement",
            "litigation",
            "antitrust",
            "verdict",
            "fined",
            "fines",
        ),
    ),
    "regulation": (
        "Regulation",
        (
            "regulator",
            "regulatory",
            "sec ",
            "fda",
            "approval",
            "investigation",
            "probe",
            "compliance",
            "sanction",
            "license",
        ),
    ),
    "management": (
        "Management",
        (
            "ceo",
            "cfo",
            "chief executive",
            "resign",
            "steps down",
            "stepped down",
            "appoints",
            "appointed",
            "board of directors",
            "chairman",
            "succession",
        ),
    ),
    "layoffs": (
        "Layoffs",
        (
            "layoff",
            "laid off",
            "job cuts",
            "cut jobs",
            "redundancies",
            "workforce reduction",
            "lay off",
            "headcount",
            "restructuring",
        ),
    ),
    "products": (
        "Products",
        ("launch", "product", "recall", "unveil", "rollout", "platform", "model"),
    ),
    "macro": (
        "Macro",
        (
            "inflation",
            "interest rate",
            "central bank",
            "federal reserve",
            "gdp",
            "recession",
            "unemployment",
            "tariff",
            "currency",
            "currencies",
            "bond yields",
        ),
    ),
    "credit": (
        "Credit & debt",
        (
            "downgrade",
            "upgrade",
            "credit rating",
            "default",
            "bond",
            "debt",
            "refinancing",
            "bankruptcy",
            "bankrupt",
            "liquidity",
        ),
    ),
}
# Keywords whose verb forms mean something else ("courting investors", "modelled"): plural only.
_PLURAL_ONLY = frozenset({"court", "model"})


def _keyword_regex(keyword: str) -> str:
    """A keyword as whole words, any whitespace between them, its last word also inflected:
    'lawsuit' finds 'lawsuits', 'acquire' finds 'acquired' and 'acquiring'."""
    *head, last = keyword.split()
    if keyword in _PLURAL_ONLY:
        tail = re.escape(last) + "s?"
    elif last.isalpha() and len(last) >= 3 and last.endswith("e"):
        tail = re.escape(last[:-1]) + "(?:e|es|ed|ing)"
    elif last.isalpha() and len(last) >= 4:
        tail = re.escape(last) + "(?:s|es|ed|ing)?"
    else:
        tail = re.escape(last)
    return r"\s+".join([*(re.escape(w) for w in head), tail])


# One pattern per topic, one named group per keyword, so a text is read once per topic.
_TOPIC_PATTERNS = {
    key: re.compile(
        r"(?<![\w])(?:"
        + "|".join(f"(?P<k{i}>{_keyword_regex(w.strip())})" for i, w in enumerate(words))
        + r")(?![\w])",
        re.IGNORECASE,
    )
    for key, (_label, words) in TOPICS.items()
}


def topic_label(key: str) -> str:
    return TOPICS[key][0] if key in TOPICS else key


def topics_tag(text: str) -> dict[str, float]:
    """Topic -> score in (0, 1]: more distinct keyword hits give a higher score."""
    tags: dict[str, float] = {}
    words: set[str] = set()
    if has_han(text):
        user_words_add(w for keywords in TOPICS_ZH.values() for w in keywords)
        words = set(words_split(text))
    for key, pattern in _TOPIC_PATTERNS.items():
        # Distinct keywords, not spellings: "layoff" and "layoffs" are one piece of evidence.
        distinct = len({m.lastgroup for m in pattern.finditer(text)})
        distinct += len(words.intersection(TOPICS_ZH.get(key, ())))
        if distinct:
            tags[key] = round(min(1.0, 0.5 + 0.25 * (distinct - 1)), 2)
    return tags


# -- language --------------------------------------------------------------------------------------
def language_guess(text: str, default: str = "") -> str:
    """A two-letter language code (lingua; Chinese included); `default` when too little text."""
    if not has_han(text) and len(re.findall(r"[^\W\d_]+", text)) < 4:
        return default or ("en" if re.search(r"[^\W\d_]", text) else "")
    return language_detect(text, default)
