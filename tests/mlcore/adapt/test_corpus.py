"""Unlabelled corpora: cleaned, deduplicated (case and spacing aside), capped, hashed."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlcore.adapt import (
    AdaptConfig,
    adapt,
    corpus_hash,
    corpus_read,
    corpus_split,
    method_get,
    text_clean,
    texts_clean,
)
from mlcore.adapt.corpus import MAX_TEXT_CHARS


def test_a_corpus_keeps_each_text_once_across_files_and_stops_at_the_cap(tmp_path: Path) -> None:
    first = tmp_path / "a.txt"
    second = tmp_path / "b.txt"
    first.write_text("Profit rose.\n\n  profit   ROSE.\nSales fell.\n")
    second.write_text("Sales fell.\nOrders grew.\nMargins held.\n")

    assert corpus_read([first, second]) == [
        "Profit rose.",
        "Sales fell.",
        "Orders grew.",
        "Margins held.",
    ]
    assert corpus_read([first, second], limit=3) == ["Profit rose.", "Sales fell.", "Orders grew."]


def test_the_corpus_hash_names_the_texts_in_order() -> None:
    assert corpus_hash(["a", "b"]) == corpus_hash(["a", "b"])
    assert corpus_hash(["a", "b"]) != corpus_hash(["b", "a"])


def test_the_held_out_part_is_at_most_a_fifth_and_disjoint() -> None:
    texts = [f"text {i}" for i in range(50)]

    train, held = corpus_split(texts, held_out=30)

    assert len(held) == 10
    assert set(train).isdisjoint(held) and len(train) + len(held) == 50


def test_an_unknown_method_or_a_tiny_corpus_is_refused_before_any_model_loads(
    tmp_path: Path,
) -> None:
    with pytest.raises(ValueError, match="unknown adaptation method 'bert': one of mlm-keep"):
        method_get("bert")
    with pytest.raises(ValueError, match="unknown adaptation method"):
        AdaptConfig(method="simcse")
    with pytest.raises(ValueError, match="3 distinct texts are too few"):
        adapt(["a", "b", "c", "A"], out_dir=tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_text_cut_at_the_length_limit_cleans_to_itself(tmp_path: Path) -> None:
    # A cut that ends on a space would leave it, and a stored corpus read again (cleaned again)
    # would hash differently from what its import recorded.
    raw = "a" * (MAX_TEXT_CHARS - 1) + " tail"
    cleaned = text_clean(raw)
    stored = tmp_path / "stored.txt"
    stored.write_text(cleaned + "\n")

    assert len(cleaned) == MAX_TEXT_CHARS - 1 and not cleaned.endswith(" ")
    assert text_clean(cleaned) == cleaned
    assert corpus_hash(corpus_read([stored])) == corpus_hash(texts_clean([raw]))
