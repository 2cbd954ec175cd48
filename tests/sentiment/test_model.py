"""The real model: train from the demo set with the command, score obvious sentences, evaluate."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from apps.mlops.models import ModelVersion, PromotionEvent
from apps.mlops.services import model_load
from apps.sentiment.training import DEFAULT_PARAMS, DEMO_DATA

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

OBVIOUS = [
    ("Operating profit rose 35% to a record EUR 120 million, beating expectations.", "positive"),
    ("The company swung to a heavy loss and cut its full-year guidance.", "negative"),
    ("Shares plunged after the company issued a profit warning.", "negative"),
    ("The annual general meeting will be held in Helsinki in April.", "neutral"),
]


def test_train_command_promotes_and_the_model_scores_obvious_sentences(
    model_dirs: Path, tmp_path: Path, django_capture_on_commit_callbacks
) -> None:
    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command(
            "sentiment_train",
            "--data",
            str(DEMO_DATA),
            "--epochs",
            "2",
            "--batch-size",
            "16",
            "--max-length",
            "48",
            "--adversarial-eps",
            "0.5",
            stdout=out,
        )

    text = out.getvalue()
    assert "step " in text and "epoch 1/2" in text and "promoted" in text
    version = ModelVersion.objects.get(name="sentiment", is_production=True)
    assert version.params["batch_size"] == 16 and version.params["max_length"] == 48
    assert version.params["adversarial_eps"] == 0.5
    assert version.params["layer_lr_decay"] == DEFAULT_PARAMS["layer_lr_decay"]
    artifact = Path(version.artifact_path)
    artifact = artifact / "artifact" if (artifact / "artifact").is_dir() else artifact
    assert (artifact / "eval.jsonl").read_text().count("\n") >= 90
    model = model_load("sentiment")
    predictions = [p.label for p in model.predict([s for s, _ in OBVIOUS])]
    assert predictions == [label for _, label in OBVIOUS]

    phrasebank = tmp_path / "sentences.txt"
    demo_lines = DEMO_DATA.read_text().splitlines()[1:121]
    phrasebank.write_text(
        "\n".join(
            line.rsplit(",", 1)[0].strip('"') + "@" + line.rsplit(",", 1)[1] for line in demo_lines
        )
        + "\n"
    )
    csv_file = tmp_path / "eval.csv"
    csv_file.write_text(
        "sentence,label,all_agree\n"
        + "\n".join(
            f'"{s}",{label},{"yes" if i % 2 else "no"}' for i, (s, label) in enumerate(OBVIOUS)
        )
    )
    report = StringIO()
    call_command("sentiment_evaluate", "--data", str(csv_file), stdout=report)
    lines = report.getvalue().strip().splitlines()
    summary = json.loads(lines[-1])
    assert summary["n"] == 4 and summary["accuracy"] == 1.0 and summary["macro_f1"] == 1.0
    assert summary["all_agree_accuracy"] == 1.0
    assert any("confusion matrix" in line for line in lines)

    # A forced promotion of a barely-trained model is recorded as an override.
    call_command(
        "sentiment_train",
        "--data",
        str(phrasebank),
        "--epochs",
        "1",
        "--max-steps",
        "1",
        "--promote",
        stdout=StringIO(),
    )
    latest = PromotionEvent.objects.filter(name="sentiment").order_by("-pk").first()
    assert latest is not None and latest.kind == "override"


def test_training_files_with_bad_lines_are_refused_clearly(
    model_dirs: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("sentence,label\nProfit rose,positive\nSales fell,bearish\n")
    tiny = tmp_path / "tiny.csv"
    tiny.write_text("sentence,label\nProfit rose,positive\nSales fell,negative\n")

    with pytest.raises(CommandError, match=r"line 3: label 'bearish'"):
        call_command("sentiment_train", "--data", str(bad), stdout=StringIO())
    with pytest.raises(CommandError, match="too few"):
        call_command("sentiment_train", "--data", str(tiny), stdout=StringIO())
    with pytest.raises(CommandError, match="no training file"):
        call_command("sentiment_evaluate", "--data", str(tmp_path / "missing.csv"))
    with pytest.raises(CommandError, match=r"layer_lr_decay: must be at most 1, got 1\.5"):
        call_command("sentiment_train", "--layer-lr-decay", "1.5", stdout=StringIO())
    with pytest.raises(CommandError, match="adversarial_eps: must be at least 0, got -1"):
        call_command("sentiment_train", "--adversarial-eps", "-1", stdout=StringIO())
    assert not ModelVersion.objects.filter(name="sentiment").exists()  # nothing registered
