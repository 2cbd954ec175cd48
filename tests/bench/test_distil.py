"""`python -m bench distil`: the transfer set's order and exclusions, labels labelled once and
resumed chunk by chunk, and a clean skip where the corpus is absent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bench import distil
from mlcore.classifier import forms


def _corpus(folder: Path) -> Path:
    folder.mkdir()
    (folder / "reuters21578_sentences.txt").write_text(
        "\n".join(f"Reuters sentence number {i} about profits." for i in range(30))
    )
    (folder / "stocknet_tweets.txt").write_text(
        "\n".join(f"$ABC tweet {i} going up" for i in range(30))
        + "\nReuters sentence number 3 about profits."  # a repeat across files: read once
    )
    return folder


def test_the_transfer_set_drops_the_labelled_texts_and_keeps_one_seeded_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(distil, "NEWS", _corpus(tmp_path / "news"))
    labelled = {"Reuters sentence number 0 about profits.", "$ABC tweet 5 going up"}

    first = distil.transfer_corpus(labelled)
    again = distil.transfer_corpus(labelled)

    assert first == again and len(first) == 58 and len(set(first)) == 58
    assert not labelled & set(first)
    assert first != sorted(first, key=lambda t: ("tweet" in t, t))  # sources are mixed
    assert distil.transfer_corpus(labelled, seed=1) != first


class _Teacher:
    serving = "onnx-int8"
    labels = ["negative", "neutral", "positive"]

    def __init__(self) -> None:
        self.labelled: list[str] = []

    def predict_proba(self, texts: list[str], *, batch_size: int) -> np.ndarray:
        self.labelled += texts
        return np.tile(np.array([[0.2, 0.3, 0.5]], dtype=np.float32), (len(texts), 1))

    def evaluate(self, texts: list[str], labels: list[str]) -> dict[str, Any]:
        return {"accuracy": 0.5, "macro": {"f1": 0.4}}


def test_teacher_labels_are_kept_per_chunk_and_only_missing_chunks_are_labelled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    teachers: list[_Teacher] = []

    def fastest(path: Path, texts: list[str], labels: list[str], **_: Any) -> Any:
        teachers.append(_Teacher())
        return teachers[-1], []

    monkeypatch.setattr(forms, "classifier_fastest_form", fastest)
    monkeypatch.setattr(distil, "CHUNK", 4)
    splits = {"validation": (["v"], ["neutral"]), "held": (["h"], ["neutral"])}
    texts = [f"text {i}" for i in range(10)]

    proba, info = distil.teacher_labels(tmp_path / "m", splits, texts, tmp_path / "labels")
    assert proba.shape == (10, 3) and info["chunks_labelled_now"] == 3
    assert info["form"] == "onnx-int8" and teachers[0].labelled == texts

    (tmp_path / "labels" / "00001.npy").unlink()  # as if the run stopped in that chunk
    proba, info = distil.teacher_labels(tmp_path / "m", splits, texts, tmp_path / "labels")
    assert proba.shape == (10, 3) and info["chunks_labelled_now"] == 1
    assert teachers[1].labelled == texts[4:8]

    _, info = distil.teacher_labels(tmp_path / "m", splits, texts, tmp_path / "labels")
    assert info["chunks_labelled_now"] == 0 and len(teachers) == 2  # no teacher loaded


def test_the_bench_is_skipped_where_the_news_corpus_is_absent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(distil, "NEWS", tmp_path / "absent")

    outcome = distil.main(["--transfer", "0"])

    assert outcome["results"] == {} and "skipped" in outcome["notes"]


def test_another_student_seed_trains_its_own_students_on_the_same_teacher_labels(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    splits = {
        part: ([f"{part} text {i}" for i in range(4)], ["positive", "negative"] * 2)
        for part in ("train", "validation", "held")
    }
    teacher_calls: list[Path] = []
    students: list[tuple[int, Path]] = []

    def teacher_ready(base: str, splits: Any, folder: Path) -> tuple[Path, dict[str, Any]]:
        teacher_calls.append(folder)
        return folder, {"accuracy": 0.87, "macro_f1": 0.86}

    plain: list[int] = []

    def student_run(n: int, *args: Any, **kwargs: Any) -> dict[str, Any]:
        config, folder = args[-2], args[-1]
        if kwargs.get("plain"):
            plain.append(config.seed)
            return {"transfer": 0, "accuracy": 0.84, "macro_f1": 0.81}
        students.append((config.seed, folder))
        row = {"transfer": n, "accuracy": 0.86, "macro_f1": 0.85, "int8_change_points": 0.0}
        return row

    monkeypatch.setattr(distil, "NEWS", _corpus(tmp_path / "news"))
    monkeypatch.setattr(distil, "PHRASEBANK", tmp_path / "news")  # present: not read here
    monkeypatch.setattr(distil, "OUT", tmp_path / "out")
    monkeypatch.setattr(distil, "_splits", lambda: splits)
    monkeypatch.setattr(distil, "teacher_ready", teacher_ready)
    monkeypatch.setattr(
        distil, "teacher_labels", lambda path, s, texts, folder: (np.zeros((len(texts), 2)), {})
    )
    monkeypatch.setattr(distil, "student_run", student_run)

    first = distil.main(["--transfer", "10"])
    second = distil.main(["--transfer", "10", "--student-seed", "7"])

    (seed_a, folder_a), (seed_b, folder_b) = students
    assert (seed_a, seed_b) == (42, 7)
    assert folder_a != folder_b and folder_a.parent == folder_b.parent
    assert teacher_calls[0] == teacher_calls[1]  # one teacher, its labels shared
    assert first["results"]["student_seed"] == 42 and second["results"]["student_seed"] == 7
    assert "seed 7" in second["notes"]
    # Each run measures the plain fine-tune of its own seed beside its students.
    assert plain == [42, 7] and second["results"]["plain"]["accuracy"] == 0.84
    assert "plain MiniLM 0.84 / 0.81" in second["notes"]
