"""Evaluating a version on this server's held-out data: what the gate uses for imported ones."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from apps.mlops import services
from apps.mlops.evaluation import held_out_evaluate
from apps.mlops.kinds import ModelKind
from tests.mlops.factories import ModelVersionFactory

pytestmark = pytest.mark.django_db


class KeywordClassifier:
    """Says "refund" when the text mentions money, else "delivery"; loaded from a folder."""

    labels = ["delivery", "refund"]

    def __init__(self, path: Path) -> None:
        self.path = path

    def predict(self, texts: list[str]) -> list[SimpleNamespace]:
        return [SimpleNamespace(label="refund" if "money" in t else "delivery") for t in texts]


def _version(tmp_path: Path, rows: list[tuple[str, str]], *, origin: str = "") -> Path:
    folder = tmp_path / f"artifact-{len(list(tmp_path.iterdir()))}"
    folder.mkdir()
    (folder / "model.json").write_text("{}")
    lines = [json.dumps({"text": t, "label": y}) for t, y in rows]
    (folder / "eval.jsonl").write_text("\n".join(lines) + "\n")
    info = services.registry().register("test-lookup", folder)
    ModelVersionFactory(
        name="test-lookup", version=info.version, artifact_path=str(info.path), origin=origin
    )
    return info.path / "artifact"


KIND = ModelKind(name="test-lookup", title="t", loader=KeywordClassifier, main_metric="macro_f1")


def test_a_classifier_is_scored_on_the_newest_local_versions_rows_not_its_own(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    _version(work, [("old rows", "refund")] * 4)  # an older local version: not used
    _version(work, [("my money back", "refund"), ("where is it", "delivery"), ("late", "refund")])
    imported = _version(
        work, [("money", "refund"), ("parcel", "delivery")], origin="imported from x"
    )

    metrics = held_out_evaluate(kind=KIND, path=imported)

    assert metrics["held_out"] == {"rows": 3, "from_version": 2, "evaluated_here": True}
    assert metrics["accuracy"] == pytest.approx(2 / 3)
    assert metrics["macro_f1"] == pytest.approx(metrics["macro"]["f1"])


def test_labels_the_server_does_not_use_count_as_misses(tmp_path):
    class OtherLabels(KeywordClassifier):
        labels = ["pos", "neg"]

        def predict(self, texts: list[str]) -> list[SimpleNamespace]:
            return [SimpleNamespace(label="pos") for _ in texts]

    work = tmp_path / "work"
    work.mkdir()
    _version(work, [("a", "refund"), ("b", "delivery")])
    kind = ModelKind(name="test-lookup", title="t", loader=OtherLabels, main_metric="macro_f1")

    metrics = held_out_evaluate(kind=kind, path=tmp_path)

    assert metrics["accuracy"] == 0.0 and metrics["macro_f1"] == 0.0


def test_no_local_version_means_no_metrics(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    imported = _version(work, [("money", "refund")], origin="imported from x")

    assert held_out_evaluate(kind=KIND, path=imported) == {}
