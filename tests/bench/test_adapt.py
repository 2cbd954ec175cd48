"""`python -m bench adapt`: each method's gain paired with the plain fine-tune of the same seed,
article hit@k counted per article, and a clean skip where the corpus is absent."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest

from apps.sentiment.defaults import DEFAULT_PARAMS, RECIPE_FIELDS, TEACHER_PARAMS
from bench import adapt


def _seed_row(seed: int, accuracy: float, macro_f1: float) -> dict[str, float]:
    return {"seed": seed, "phrasebank_accuracy": accuracy, "phrasebank_macro_f1": macro_f1}


def test_each_methods_gain_is_paired_with_the_plain_fine_tune_of_the_same_seed() -> None:
    results = {
        "plain_minilm": {"seeds": [_seed_row(42, 0.84, 0.80), _seed_row(43, 0.85, 0.82)]},
        # Listed in another order than plain's: pairing goes by seed, not by position.
        "tapt": {"seeds": [_seed_row(43, 0.86, 0.81), _seed_row(42, 0.83, 0.80)]},
        "one_seed_only": {"phrasebank_accuracy": 0.9},
    }

    gains = adapt._paired_gains(results)

    assert set(gains) == {"tapt"}
    accuracy = gains["tapt"]["phrasebank_accuracy_points"]
    assert accuracy == {"mean": 0.0, "min": -1.0, "max": 1.0}
    assert gains["tapt"]["phrasebank_macro_f1_points"]["min"] == -1.0


def test_gains_of_an_mpnet_run_are_paired_with_plain_mpnet() -> None:
    results = {
        "plain_mpnet": {"seeds": [_seed_row(42, 0.87, 0.86)]},
        "mlm-keep": {"seeds": [_seed_row(42, 0.88, 0.85)]},
    }

    gains = adapt._paired_gains(results, "plain_mpnet")

    assert gains["mlm-keep"]["phrasebank_accuracy_points"]["mean"] == 1.0
    assert gains["mlm-keep"]["phrasebank_macro_f1_points"]["mean"] == -1.0


def test_the_teacher_recipe_is_the_shipped_one_with_the_teachers_fields() -> None:
    args = argparse.Namespace(recipe="teacher", epochs=1)

    config = adapt._train_config(args, 7)

    assert {name: getattr(config, name) for name in TEACHER_PARAMS} == TEACHER_PARAMS
    kept = set(RECIPE_FIELDS) - set(TEACHER_PARAMS)
    assert {name: getattr(config, name) for name in kept} == {n: DEFAULT_PARAMS[n] for n in kept}
    assert config.seed == 7


class _Embedder:
    """Vectors by keyword: a text about cards points one way, one about PINs another, one
    about both leans to cards."""

    def embed(self, texts: list[str]) -> np.ndarray:
        def vector(text: str) -> list[float]:
            if "card" in text and "pin" in text:
                return [0.8, 0.6]
            return [1.0, 0.0] if "card" in text else [0.0, 1.0]

        return np.array([vector(t) for t in texts], dtype=np.float32)


def test_article_hits_rank_articles_not_passages(monkeypatch: pytest.MonkeyPatch) -> None:
    articles = [
        (["card passage one", "card passage two", "card passage three"], {"card_arrival"}),
        (["pin passage"], {"change_pin"}),
    ]
    held = [("where is my card", "card_arrival"), ("the pin of my card", "change_pin")]
    monkeypatch.setattr(adapt, "_articles", lambda: articles)
    monkeypatch.setattr(adapt, "banking77_split", lambda: ([], held))

    hits = adapt._article_hits(_Embedder(), ks=(1, 2))

    # The PIN question's three best passages are the card article's: its second best article,
    # the PIN one, is a hit at 2 (a count over passages would miss it).
    assert hits == {"article_hit_at_1": 0.5, "article_hit_at_2": 1.0}


def test_the_bench_is_skipped_where_the_news_corpus_is_absent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(adapt, "NEWS", tmp_path / "absent")

    outcome = adapt.main(["--methods", "tapt"])

    assert outcome["results"] == {} and "skipped" in outcome["notes"]
