"""Plain text helpers: sentences, watchlist matching, topic tagging, language guess, hashing."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

# Abbreviations that end in a period without ending a sentence.
_ABBREVIATIONS = {"inc", "corp", "co", "ltd", "plc", "mr", "ms", "dr", "st", "vs", "u.s", "e.g"}
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'“(]?[A-Z0-9$])")
LONG_TEXT_CHARS = 220


def sentences_split(text: str, *, limit: int = 40) -> list[str]:
    """Split prose into sentences; keeps 'Acme Corp. said' together. At most `limit` sentences."""
    text = re.sub(r"\s+", " ", text or "").strip()
    if not text:
        return []
    parts: list[str] = []
    buffer = ""
    for piece in _SENTENCE_END.split(text):
        buffer = f"{buffer} {piece}".strip() if buffer else piece
        last_word = buffer.rsplit(" ", 1)[-1].rstrip(".").lower()
        if last_word in _ABBREVIATIONS:
            continue
        parts.append(buffer)
        buffer = ""
    if buffer:
        parts.append(buffer)
    return [p for p in parts if len(p) > 2][:limit]


def content_hash(title: str, body: str) -> str:
    normal = re.sub(r"\s+", " ", f"{title}\n{body}".lower()).strip()
    return hashlib.sha256(normal.encode()).hexdigest()


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


def _words_pattern(phrases: Iterable[str]) -> re.Pattern[str] | None:
    cleaned = sorted({p.strip() for p in phrases if p and p.strip()}, key=len, reverse=True)
    if not cleaned:
        return None
    body = "|".join(re.escape(p) for p in cleaned)
    return re.compile(rf"(?<![\w$]){body}(?![\w])", re.IGNORECASE)


def entities_match(text: str, watchlist: Sequence[WatchItem]) -> list[EntityMatch]:
    """Which watchlist companies a text mentions, on word boundaries.

    Names and aliases match case-insensitively. Tickers match only in capitals; a ticker that is
    also a common word ("AI", "ALL", "NOW") counts only as "$AI", "(AI)", "NYSE: AI" or when the
    company's name is mentioned too, because users get burned by false ticker matches.
    """
    found: list[EntityMatch] = []
    for item in watchlist:
        name_pattern = _words_pattern([item.name, *item.aliases])
        name_hits = name_pattern.findall(text) if name_pattern else []
        ticker_hits: list[str] = []
        ticker = item.ticker.strip().lstrip("$").upper()  # rows stored before normalising
        if ticker:
            t = re.escape(ticker)
            cashtag = re.findall(rf"\${t}(?![\w])", text)
            in_context = re.findall(
                rf"(?:\(\s*(?:(?:NYSE|NASDAQ|Nasdaq|LSE|TSX|HEL|XETRA)\s*:\s*)?{t}\s*\)"
                rf"|(?:NYSE|NASDAQ|Nasdaq|LSE|TSX|HEL|XETRA)\s*:\s*{t})(?![\w])",
                text,
            )
            ticker_hits = cashtag + in_context
            if not item.ticker_needs_context or name_hits:
                bare = re.findall(rf"(?<![\w$]){t}(?![\w])", text)
                ticker_hits = bare if len(bare) >= len(ticker_hits) else ticker_hits
        mentions = len(name_hits) + len(ticker_hits)
        if mentions:
            matched = (name_hits or ticker_hits)[0]
            found.append(EntityMatch(item.id, mentions, matched.strip()[:200]))
    return found


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
            "acquires",
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
            "sued",
            "sues",
            "court",
            "class action",
            "settlement",
            "litigation",
            "antitrust",
            "verdict",
            "fined",
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
            "resigns",
            "steps down",
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
            "layoffs",
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
        ("launch", "launches", "product", "recall", "unveils", "rollout", "platform", "model"),
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
            "liquidity",
        ),
    ),
}
_TOPIC_PATTERNS = {
    key: re.compile(
        r"(?<![\w])(?:" + "|".join(re.escape(w.strip()) for w in words) + r")(?![\w])",
        re.IGNORECASE,
    )
    for key, (_label, words) in TOPICS.items()
}


def topic_label(key: str) -> str:
    return TOPICS[key][0] if key in TOPICS else key


def topics_tag(text: str) -> dict[str, float]:
    """Topic -> score in (0, 1]: more distinct keyword hits give a higher score."""
    tags: dict[str, float] = {}
    for key, pattern in _TOPIC_PATTERNS.items():
        distinct = {m.lower() for m in pattern.findall(text)}
        if distinct:
            tags[key] = round(min(1.0, 0.5 + 0.25 * (len(distinct) - 1)), 2)
    return tags


# -- language --------------------------------------------------------------------------------------
_STOPWORDS = {
    "en": {"the", "and", "of", "to", "in", "is", "for", "on", "with", "said", "its", "by", "from"},
    "de": {"der", "die", "und", "das", "ist", "mit", "von", "den", "für", "auf", "nicht", "sich"},
    "fr": {"le", "la", "les", "et", "des", "est", "pour", "dans", "une", "sur", "du", "avec"},
    "es": {"el", "la", "los", "las", "y", "de", "que", "en", "para", "con", "una", "por"},
    "fi": {"ja", "on", "oli", "että", "se", "ei", "kuin", "mutta", "myös", "tai", "vuonna"},
}


def language_guess(text: str, default: str = "") -> str:
    """A two-letter language code from stopword counts; `default` when too little text."""
    words = re.findall(r"[a-zäöüßéèàçñ]+", text.lower())
    if len(words) < 4:
        return default or ("en" if words else "")
    counts = {lang: sum(w in stops for w in words) for lang, stops in _STOPWORDS.items()}
    best = max(counts, key=lambda k: counts[k])
    return best if counts[best] > 0 else (default or "")
