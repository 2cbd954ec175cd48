"""Per-company sentiment: the project's multi-company sentences (bench/data/company_sentences.csv,
one gold label per sentence and company) scored the old way (the text's label for every company
it names) and the new way (each company's passages, apps/sentiment/company_text.py), and
PhraseBank held-out sentences that name one company (their company score must be the text's).

    python -m bench sentiment_companies                    # trains a PhraseBank model (1 epoch)
    python -m bench sentiment_companies --epochs 2 --save /tmp/pb-model
    python -m bench sentiment_companies --model /tmp/pb-model   # reuse a saved classifier

The model is MiniLM fine-tuned on bench.sentiment's seeded 85% PhraseBank split; the held-out 15%
gives the single-company sentences (named by a list of PhraseBank's Finnish companies).
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench.sentiment import PHRASEBANK, phrasebank_split
from mlcore.metrics import classification_report

GOLD = Path(__file__).resolve().parent / "data" / "company_sentences.csv"
# Companies PhraseBank names often (each in 5 to 100 sentences of train.csv).
PHRASEBANK_COMPANIES = (
    *("Nokia", "Amer Sports", "Nordea", "Aspo", "Ruukki", "UPM-Kymmene", "YIT", "Alma Media"),
    *("Sanoma", "Metso", "Sampo", "Cargotec", "Stockmann", "Neste", "Kone", "Outokumpu"),
    *("Marimekko", "Fiskars", "Finnair", "TeliaSonera", "Aspocomp", "Rautaruukki", "Okmetic"),
    *("Glaston", "Componenta", "Fortum", "Kesko", "Elisa", "Basware", "Atria", "Ahlstrom"),
    *("Tieto", "Raisio", "Incap", "Uponor", "Talvivaara", "Olvi", "Wartsila", "Vaisala"),
    *("Ponsse", "Efore", "Tecnomen", "Huhtamaki", "HKScan", "Stora Enso"),
)
LABELS = ["negative", "neutral", "positive"]


def _django() -> None:
    if "DATA_DIR" not in os.environ:
        os.environ["DATA_DIR"] = tempfile.mkdtemp(prefix="bench-companies-")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    # setup: Django is configured just above
    import django

    django.setup()


def _model(args: argparse.Namespace, results: dict[str, Any]) -> Any:
    import torch

    # heavy: mlcore.classifier loads torch and transformers
    from mlcore.classifier import TextClassifier, TrainConfig, fit

    torch.set_num_threads(args.threads)
    if args.model:
        results["model"] = f"saved classifier {args.model}"
        return TextClassifier.load(Path(args.model), device="cpu", serving="fp32")
    train, _test = phrasebank_split()
    started = time.monotonic()
    fitted = fit(
        [r["sentence"] for r in train],
        [r["label"] for r in train],
        config=TrainConfig(epochs=args.epochs, max_length=64, seed=42),
        device="cpu",
    )
    results["model"] = f"MiniLM fine-tuned on PhraseBank 85% split, {args.epochs} epoch(s)"
    results["train_s"] = round(time.monotonic() - started, 1)
    path = fitted.classifier.save(Path(args.save or tempfile.mkdtemp(prefix="pb-model-")))
    results["model_path"] = str(path)
    return TextClassifier.load(path, device="cpu", serving="fp32")


def _score(classifier: Any, title: str, items: list[Any]) -> tuple[str, dict[int, str]]:
    """(the text's label, company id -> its label) as the scoring service works them out."""
    # setup: the apps can be imported only after django.setup()
    from apps.sentiment.company_text import company_units
    from apps.sentiment.services.scoring import probabilities_combine
    from apps.sentiment.text import entities_match

    labels = list(classifier.labels)
    whole = classifier.predict_proba([title])
    text_label = labels[int(whole[0].argmax())]
    matches = entities_match(title, items)
    texts, companies = company_units(title, "", matches, items)
    own: dict[int, str] = {m.entity_id: text_label for m in matches}
    if texts:
        probs = classifier.predict_proba(texts)
        for entity_id, rows in companies.items():
            combined = probabilities_combine(
                probs[[i for i, _w in rows]], [w for _i, w in rows], labels
            )
            own[entity_id] = labels[int(combined.argmax())]
    return text_label, own


def multi_company_section(classifier: Any, results: dict[str, Any]) -> None:
    # setup: the apps can be imported only after django.setup()
    from apps.sentiment.text import WatchItem

    with GOLD.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    names = sorted({r["company"] for r in rows})
    items = [WatchItem(i, name, "", (), False) for i, name in enumerate(names)]
    ids = {name: i for i, name in enumerate(names)}
    gold: dict[str, dict[int, str]] = defaultdict(dict)
    for r in rows:
        gold[r["sentence"]][ids[r["company"]]] = r["label"]
    truth, old, new, mixed = [], [], [], []
    for sentence, companies in gold.items():
        text_label, own = _score(classifier, sentence, items)
        differ = len(set(companies.values())) > 1
        for entity_id, label in companies.items():
            truth.append(label)
            old.append(text_label)
            new.append(own.get(entity_id, text_label))
            mixed.append(differ)
    for name, predicted in (("text_label_for_each", old), ("per_company", new)):
        report = classification_report(truth, predicted, LABELS)
        sub = [i for i, m in enumerate(mixed) if m]
        results[f"multi_{name}"] = {
            "accuracy": round(report["accuracy"], 3),
            "macro_f1": round(report["macro"]["f1"], 3),
            "accuracy_where_companies_differ": round(
                sum(truth[i] == predicted[i] for i in sub) / len(sub), 3
            ),
        }
    results["multi_sentences"] = len(gold)
    results["multi_pairs"] = len(truth)
    results["multi_pairs_where_companies_differ"] = sum(mixed)


def phrasebank_section(classifier: Any, results: dict[str, Any], notes: list[str]) -> None:
    # setup: the apps can be imported only after django.setup()
    from apps.sentiment.text import WatchItem, entities_match

    if not PHRASEBANK.exists():
        notes.append(f"PhraseBank section skipped: {PHRASEBANK} is absent")
        return
    _train, test = phrasebank_split()
    items = [WatchItem(i, name, "", (), False) for i, name in enumerate(PHRASEBANK_COMPANIES)]
    single = [r for r in test if len(entities_match(r["sentence"], items)) == 1]
    truth: list[str] = []
    text_labels: list[str] = []
    company_labels: list[str] = []
    for r in single:
        text_label, own = _score(classifier, r["sentence"], items)
        truth.append(r["label"])
        text_labels.append(text_label)
        company_labels.extend(own.values())
    results["phrasebank_single_company_sentences"] = len(single)
    results["phrasebank_company_score_equals_text_score"] = round(
        sum(a == b for a, b in zip(text_labels, company_labels, strict=True)) / max(len(single), 1),
        3,
    )
    report = classification_report(truth, text_labels, LABELS)
    results["phrasebank_single_company_accuracy"] = round(report["accuracy"], 3)
    results["phrasebank_single_company_macro_f1"] = round(report["macro"]["f1"], 3)


def main(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench sentiment_companies")
    parser.add_argument("--model", default="", help="a saved classifier folder to reuse")
    parser.add_argument("--save", default="", help="where to save the trained classifier")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    _django()
    results: dict[str, Any] = {}
    notes: list[str] = []
    classifier = _model(args, results)
    print("model ready; scoring", file=sys.stderr)
    multi_company_section(classifier, results)
    phrasebank_section(classifier, results, notes)
    return {
        "title": "Sentiment per company: multi-company sentences and single-company PhraseBank",
        "results": results,
        "notes": notes,
    }
