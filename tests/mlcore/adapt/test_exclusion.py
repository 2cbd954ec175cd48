"""Texts kept out of a corpus: whole or inside a longer text, case, spacing and stop aside."""

from __future__ import annotations

from mlcore.adapt import texts_without


def test_a_kept_out_text_goes_whatever_its_case_spacing_or_closing_stop() -> None:
    texts = ["Profit rose.", "Sales  fell. ", "Orders grew.", "Profit rose sharply."]

    kept = texts_without(texts, ["SALES FELL.", "profit rose", "Margins held."])

    assert kept == ["Orders grew.", "Profit rose sharply."]
    assert texts_without(texts, []) == texts


def test_a_text_holding_a_kept_out_one_goes_with_it() -> None:
    judged = [
        "Margins held firm this quarter.",
        "Freeze the card in the app. Then order a new one from settings.",
    ]
    texts = [
        "Costs rose. MARGINS held  firm this quarter! Net profit was flat.",
        "Costs rose\n\nMargins held firm this quarter",  # a paragraph break ends a sentence
        "Sorry to hear that. Freeze the card in the app. Then order a new one from settings.",
        "Freeze the card in the app. Call us if it was stolen.",  # only its first sentence
        "Margins held firm this quarter, analysts said.",  # another sentence
    ]

    assert texts_without(texts, judged) == texts[3:]


def test_a_short_kept_out_text_goes_only_as_a_whole() -> None:
    texts = ["Thanks!", "Thanks! Your card ships today.", "Love it."]

    # Too common as a sentence of other texts to mean the judged row.
    assert texts_without(texts, ["thanks", "Love it!"]) == ["Thanks! Your card ships today."]
