"""Loading a saved classifier never unpickles: a pickle payload in its folder never runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


class Payload:
    """Unpickling this creates `marker`: what an attacker's archive would do with a shell."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (open, (str(self.marker), "w"))


def _untrained(path: Path, *, pooling: str = "mean") -> Path:
    """A classifier folder as `TextClassifier.save` writes it (an untrained head: only loading
    is under test)."""
    from transformers import AutoModel, AutoModelForSequenceClassification, AutoTokenizer

    from mlcore.base_models import base_model_path
    from mlcore.classifier import TextClassifier
    from mlcore.heads import MeanPoolClassifier

    base = str(base_model_path())
    if pooling == "mean":
        model = MeanPoolClassifier(AutoModel.from_pretrained(base), 2)
    else:
        model = AutoModelForSequenceClassification.from_pretrained(
            base, num_labels=2, id2label={0: "no", 1: "yes"}, label2id={"no": 0, "yes": 1}
        )
    classifier = TextClassifier(
        model, AutoTokenizer.from_pretrained(base), ["no", "yes"], pooling=pooling
    )
    return classifier.save(path)


def _serve_int8(path: Path) -> None:
    info = json.loads((path / "serving.json").read_text())
    (path / "serving.json").write_text(json.dumps({**info, "serving": "int8"}))


def test_int8_form_is_rebuilt_from_fp32_and_a_pickled_int8_file_never_runs(tmp_path):
    import torch

    from mlcore.classifier import LEGACY_QUANTIZED_FILE, TextClassifier

    path = _untrained(tmp_path / "clf")
    marker = tmp_path / "pwned"
    torch.save(Payload(marker), path / LEGACY_QUANTIZED_FILE)
    _serve_int8(path)

    loaded = TextClassifier.load(path, device="cpu")

    assert not marker.exists()
    assert loaded.serving == "int8"
    assert loaded.predict(["profit rose"])[0].label in {"no", "yes"}


def test_a_pickled_legacy_head_is_refused_without_running(tmp_path):
    import pickle

    import torch

    from mlcore.classifier import TextClassifier
    from mlcore.heads import HEAD_FILE, LEGACY_HEAD_FILE

    path = _untrained(tmp_path / "clf")
    marker = tmp_path / "pwned"
    (path / HEAD_FILE).unlink()
    torch.save(Payload(marker), path / LEGACY_HEAD_FILE)

    with pytest.raises(pickle.UnpicklingError):
        TextClassifier.load(path, device="cpu")

    assert not marker.exists()


def test_pickled_transformer_weights_are_refused_without_running(tmp_path):
    import torch

    from mlcore.classifier import TextClassifier

    path = _untrained(tmp_path / "clf", pooling="cls")
    marker = tmp_path / "pwned"
    (path / "model.safetensors").unlink()
    torch.save(Payload(marker), path / "pytorch_model.bin")

    with pytest.raises(OSError):
        TextClassifier.load(path, device="cpu")

    assert not marker.exists()


def test_heads_are_saved_as_safetensors_and_load_back(tmp_path):
    from mlcore.classifier import TextClassifier
    from mlcore.heads import HEAD_FILE

    path = _untrained(tmp_path / "clf")
    first = TextClassifier.load(path, device="cpu").predict_proba(["profit rose"])
    second = TextClassifier.load(path, device="cpu").predict_proba(["profit rose"])

    assert (path / HEAD_FILE).exists() and not list(path.glob("*.pt"))
    assert first.tolist() == second.tolist()
