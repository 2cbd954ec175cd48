"""Watchlist matching with ambiguous tickers, topics, language."""

from __future__ import annotations

from apps.sentiment.text import (
    WatchItem,
    entities_match,
    language_guess,
    topics_tag,
)

ACME = WatchItem(1, "Acme Corp", "ACME", ("Acme",), False)
AION = WatchItem(2, "Aion Intelligence", "AI", ("Aion",), True)
ALLMARK = WatchItem(3, "Allmark Insurance", "ALL", ("Allmark",), True)


def ids(text: str) -> set[int]:
    return {m.entity_id for m in entities_match(text, [ACME, AION, ALLMARK])}


def test_names_aliases_and_tickers_match_on_word_boundaries() -> None:
    assert ids("Acme said profit rose") == {1}
    assert ids("ACME shares rose") == {1}
    assert ids("Acmeology is a new field") == set()
    assert ids("acme corp. beats estimates") == {1}


def test_ambiguous_tickers_need_a_cashtag_exchange_or_the_company_name() -> None:
    assert ids("Why AI spending is reshaping chips") == set()
    assert ids("ALL of the banks rallied today") == set()
    assert ids("$AI jumps 14% on chip deal") == {2}
    assert ids("Shares of Aion Intelligence (NYSE: AI) rose") == {2}
    assert ids("Allmark (ALL) cut its forecast") == {3}


def test_topics_are_tagged_with_scores() -> None:
    tags = topics_tag("Acme to cut jobs in a restructuring after a profit warning on revenue")

    assert set(tags) >= {"layoffs", "earnings"}
    assert tags["layoffs"] > 0.5  # several distinct layoff words
    assert "litigation" not in tags


def test_language_guess() -> None:
    assert language_guess("The company said that its profit rose in the quarter") == "en"
    assert language_guess("Die Firma hat mit dem Umsatz nicht gerechnet und ist für") == "de"
