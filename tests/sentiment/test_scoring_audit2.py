"""Scoring, tagging and the training commands, as an analyst meets them: sentences that survive
abbreviations and quotes, companies matched on real word boundaries, topics that see plurals."""

from __future__ import annotations

import time
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from apps.sentiment import services
from apps.sentiment.models import Aggregate, Document, DocumentEntity, Source
from apps.sentiment.text import WatchItem, entities_match, topics_tag
from apps.sentiment.uploads import DocumentRow

NOW = timezone.now().replace(minute=30, second=0, microsecond=0)
VANTAGE = WatchItem(5, "Vantage Retail", "VTR", ("Vantage",), False)
LUMEN = WatchItem(6, "Lumen Software", "LUMS", ("Lumen",), False)
COBALT = WatchItem(7, "Cobalt Motors", "CBLT", ("Cobalt",), False)
ACME = WatchItem(1, "Acme", "ACME", (), False)
ACME_BANK = WatchItem(2, "Acme Bank", "ACMB", (), False)
KESTREL = WatchItem(9, "Kestrel Airlines", "KSTL", (), False)


@pytest.fixture
def source(db) -> Source:  # type: ignore[no-untyped-def]
    return services.source_get_or_create(name="Wire", kind=Source.Kind.API)


def ids(text: str, *items: WatchItem) -> set[int]:
    return {m.entity_id for m in entities_match(text, list(items))}


# -- sentences -------------------------------------------------------------------------------------
def test_a_long_document_is_scored_to_its_last_words(source, scorer) -> None:  # type: ignore[no-untyped-def]
    filler = ", ".join(["volumes were steady in the northern region"] * 10)
    body = f"The quarter was uneventful. {filler}, and the auditor found a large loss."
    result = services.documents_ingest(
        source_id=source.pk,
        rows=[DocumentRow(1, "", "", "Acme quarterly update", body, NOW, "en")],
        now=NOW,
    )

    services.documents_score(document_ids=result.created_ids)

    score = Document.objects.get().score
    assert any("large loss" in s["text"] and s["label"] == "negative" for s in score.sentences)
    assert all(len(s["text"]) <= 250 for s in score.sentences)


# -- companies -------------------------------------------------------------------------------------
def test_an_alias_inside_a_longer_word_is_no_mention() -> None:
    assert ids("Acme keeps its competitive advantage", VANTAGE) == set()
    assert ids("Illumen raised prices", LUMEN) == set()
    assert ids("Vantage's sales rose; Lumen-backed deal", VANTAGE, LUMEN) == {5, 6}


def test_a_longer_name_of_another_company_wins_the_overlap() -> None:
    assert ids("Acme Bank cut its rates", ACME, ACME_BANK) == {2}
    assert ids("ACME BANK CUTS RATES", ACME, ACME_BANK) == {2}
    both = entities_match("Acme Bank lends to Acme", [ACME, ACME_BANK])
    assert {(m.entity_id, m.mentions) for m in both} == {(1, 1), (2, 1)}


def test_a_lowercase_common_word_is_not_the_company_but_its_name_is() -> None:
    assert ids("Battery makers fear higher cobalt prices", COBALT) == set()
    assert ids("Cobalt recalls 40,000 cars", COBALT) == {7}
    assert ids("COBALT MOTORS RECALLS CARS", COBALT) == {7}
    assert ids("cobalt motors recalls cars", COBALT) == {7}  # the full name, any case
    assert ids("cobalt is tanking lol", COBALT) == {7}  # a text with no capitals at all


def test_a_multi_word_name_matches_across_line_breaks_and_non_breaking_spaces() -> None:
    assert ids("Kestrel\u00a0Airlines cancels flights", KESTREL) == {9}
    assert ids("Shares of Kestrel\nAirlines fell", KESTREL) == {9}


def test_a_long_filing_against_a_large_watchlist_is_tagged_quickly() -> None:
    watchlist = [ACME, ACME_BANK] + [
        WatchItem(i, f"Company{i} Holdings", f"C{i}", (f"Company{i}",), False)
        for i in range(10, 310)
    ]
    filing = "Acme Bank and Acme said the new tariffs hit margins. " * 20_000  # about 1 MB

    started = time.monotonic()
    found = entities_match(filing, watchlist)
    elapsed = time.monotonic() - started

    assert elapsed < 5  # it took about 25 s: every company's patterns read the whole text
    assert {(m.entity_id, m.mentions) for m in found} == {(1, 20_000), (2, 20_000)}


def test_scoring_tags_the_longer_company_only(source, scorer) -> None:  # type: ignore[no-untyped-def]
    acme = services.entity_upsert(name="Acme", ticker="ACME")
    bank = services.entity_upsert(name="Acme Bank", ticker="ACMB")
    result = services.documents_ingest(
        source_id=source.pk,
        rows=[DocumentRow(1, "", "", "Acme Bank shares plunge", "", NOW, "en")],
        now=NOW,
    )

    services.documents_score(document_ids=result.created_ids)

    assert list(DocumentEntity.objects.values_list("entity_id", flat=True)) == [bank.pk]
    assert not Aggregate.objects.filter(subject_kind="entity", subject_key=str(acme.pk)).exists()


# -- topics ----------------------------------------------------------------------------------------
def test_topics_see_plurals_and_past_tenses() -> None:
    tags = topics_tag("Acme hit by lawsuits, new tariffs and sanctions; its chief resigned")

    assert set(tags) == {"litigation", "macro", "regulation", "management"}


def test_a_topic_score_counts_distinct_keywords_not_spellings() -> None:
    assert topics_tag("Layoffs at Acme: the layoff wave continues")["layoffs"] == 0.5
    assert topics_tag("Acme announces layoffs and a restructuring")["layoffs"] == 0.75


def test_courts_are_litigation_but_courting_investors_is_not() -> None:
    assert "litigation" not in topics_tag("Acme is courting new investors")
    assert "litigation" in topics_tag("Acme lost in two courts")


# -- commands --------------------------------------------------------------------------------------
def test_train_refuses_promote_together_with_no_promote(monkeypatch: pytest.MonkeyPatch) -> None:
    from apps.sentiment.management.commands import sentiment_train

    runs: list[dict[str, object]] = []
    monkeypatch.setattr(sentiment_train, "version_train_and_register", lambda **kw: runs.append(kw))

    with pytest.raises(CommandError, match="not allowed with"):
        call_command("sentiment_train", "--promote", "--no-promote", stdout=StringIO())

    assert runs == []  # nothing trained, nothing registered


def test_train_refuses_zero_epochs_or_batch_size_before_training(  # type: ignore[no-untyped-def]
    db, model_dirs, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlcore.classifier
    from apps.mlops.models import ModelVersion

    def no_fit(*args: object, **kwargs: object) -> None:
        raise AssertionError("fine-tuning started")

    monkeypatch.setattr(mlcore.classifier, "fit", no_fit)

    with pytest.raises(CommandError, match="epochs: must be at least 1, got 0"):
        call_command("sentiment_train", "--epochs", "0", stdout=StringIO())
    with pytest.raises(CommandError, match="batch_size: must be at least 1, got 0"):
        call_command("sentiment_train", "--batch-size", "0", stdout=StringIO())
    with pytest.raises(CommandError, match="learning_rate: must be greater than 0"):
        call_command("sentiment_train", "--learning-rate=-1e-4", stdout=StringIO())
    assert not ModelVersion.objects.filter(name="sentiment").exists()


class _TwoClassModel:
    """A served model that only knows negative and positive (trained on a two-class file)."""

    labels = ["negative", "positive"]

    def predict(self, texts: list[str]) -> list[object]:
        from mlcore.types import Prediction

        return [
            Prediction("negative" if "fell" in t else "positive", {"negative": 0.5}) for t in texts
        ]


def test_evaluate_counts_rows_of_a_label_the_model_does_not_know_as_errors(  # type: ignore[no-untyped-def]
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from apps.sentiment.management.commands import sentiment_evaluate

    monkeypatch.setattr(sentiment_evaluate, "model_available", lambda name: True)
    monkeypatch.setattr(sentiment_evaluate, "model_load", lambda name: _TwoClassModel())
    monkeypatch.setattr(
        sentiment_evaluate, "registry", lambda: type("R", (), {"loaded_version": lambda s, n: 3})()
    )
    data = tmp_path / "eval.csv"
    data.write_text(
        "\ufeffsentence,label,all_agree\n"
        "Sales fell,negative,yes\nProfit fell,negative,yes\n"
        "Sales rose,positive,yes\nProfit rose,positive,no\n"
        "The meeting is in May,neutral,yes\nThe office moved,neutral,no\n"
    )
    out = StringIO()

    call_command("sentiment_evaluate", "--data", str(data), stdout=out)

    summary = json.loads(out.getvalue().strip().splitlines()[-1])
    assert summary["n"] == 6
    assert summary["accuracy"] == round(4 / 6, 4)  # the neutral rows are wrong, not left out
    assert summary["all_agree_accuracy"] == 0.75
    assert "neutral" in out.getvalue()
