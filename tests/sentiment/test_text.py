"""Watchlist matching (word boundaries, ambiguous tickers, overlapping names, large watchlists),
topics, language. Sentence splitting is mlcore.text's (tests/mlcore/test_text.py)."""

from __future__ import annotations

import time

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


VANTAGE = WatchItem(5, "Vantage Retail", "VTR", ("Vantage",), False)


LUMEN = WatchItem(6, "Lumen Software", "LUMS", ("Lumen",), False)


COBALT = WatchItem(7, "Cobalt Motors", "CBLT", ("Cobalt",), False)


ACME_ALONE = WatchItem(1, "Acme", "ACME", (), False)


ACME_BANK = WatchItem(2, "Acme Bank", "ACMB", (), False)


KESTREL = WatchItem(9, "Kestrel Airlines", "KSTL", (), False)


def matched_ids(text: str, *items: WatchItem) -> set[int]:
    return {m.entity_id for m in entities_match(text, list(items))}


def test_an_alias_inside_a_longer_word_is_no_mention() -> None:
    assert matched_ids("Acme keeps its competitive advantage", VANTAGE) == set()
    assert matched_ids("Illumen raised prices", LUMEN) == set()
    assert matched_ids("Vantage's sales rose; Lumen-backed deal", VANTAGE, LUMEN) == {5, 6}


def test_a_longer_name_of_another_company_wins_the_overlap() -> None:
    assert matched_ids("Acme Bank cut its rates", ACME_ALONE, ACME_BANK) == {2}
    assert matched_ids("ACME BANK CUTS RATES", ACME_ALONE, ACME_BANK) == {2}
    both = entities_match("Acme Bank lends to Acme", [ACME_ALONE, ACME_BANK])
    assert {(m.entity_id, m.mentions) for m in both} == {(1, 1), (2, 1)}


def test_a_lowercase_common_word_is_not_the_company_but_its_name_is() -> None:
    assert matched_ids("Battery makers fear higher cobalt prices", COBALT) == set()
    assert matched_ids("Cobalt recalls 40,000 cars", COBALT) == {7}
    assert matched_ids("COBALT MOTORS RECALLS CARS", COBALT) == {7}
    assert matched_ids("cobalt motors recalls cars", COBALT) == {7}  # the full name, any case
    assert matched_ids("cobalt is tanking lol", COBALT) == {7}  # a text with no capitals at all


def test_a_multi_word_name_matches_across_line_breaks_and_non_breaking_spaces() -> None:
    assert matched_ids("Kestrel\u00a0Airlines cancels flights", KESTREL) == {9}
    assert matched_ids("Shares of Kestrel\nAirlines fell", KESTREL) == {9}


def test_a_long_filing_against_a_large_watchlist_is_tagged_quickly() -> None:
    watchlist = [ACME_ALONE, ACME_BANK] + [
        WatchItem(i, f"Company{i} Holdings", f"C{i}", (f"Company{i}",), False)
        for i in range(10, 310)
    ]
    filing = "Acme Bank and Acme said the new tariffs hit margins. " * 20_000  # about 1 MB

    started = time.monotonic()
    found = entities_match(filing, watchlist)
    elapsed = time.monotonic() - started

    assert elapsed < 5  # it took about 25 s: every company's patterns read the whole text
    assert {(m.entity_id, m.mentions) for m in found} == {(1, 20_000), (2, 20_000)}


def test_topics_see_plurals_and_past_tenses() -> None:
    tags = topics_tag("Acme hit by lawsuits, new tariffs and sanctions; its chief resigned")

    assert set(tags) == {"litigation", "macro", "regulation", "management"}


def test_a_topic_score_counts_distinct_keywords_not_spellings() -> None:
    assert topics_tag("Layoffs at Acme: the layoff wave continues")["layoffs"] == 0.5
    assert topics_tag("Acme announces layoffs and a restructuring")["layoffs"] == 0.75


def test_courts_are_litigation_but_courting_investors_is_not() -> None:
    assert "litigation" not in topics_tag("Acme is courting new investors")
    assert "litigation" in topics_tag("Acme lost in two courts")
