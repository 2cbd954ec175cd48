"""The served classifier: the neighbour vote, and label offsets saved by older versions."""

import numpy as np
import pytest

from mlcore.classifier import NeighbourMemory, TextClassifier, int8_form_save

LABELS = ["negative", "neutral", "positive"]


class _Fixed(TextClassifier):
    """A classifier whose head is a table: each text's probabilities are given."""

    def __init__(self, table: dict[str, list[float]]) -> None:
        super().__init__(None, None, LABELS)
        self.table = table

    def head_proba(self, texts, *, batch_size=64, pooled=False):  # type: ignore[no-untyped-def]
        rows = np.array([self.table[t] for t in texts], dtype=np.float32)
        return rows, np.zeros((0, 0), dtype=np.float32)


@pytest.mark.slow
def test_neighbour_memory_votes_for_the_nearest_labels():
    vectors = np.array([[1, 0], [0.9, 0.1], [0, 1]], dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    memory = NeighbourMemory(vectors, np.array([0, 0, 1]), k=2, temperature=0.1, weight=1.0)

    votes = memory.proba(np.array([[1, 0], [0, 1]], dtype=np.float32), n_labels=2)

    assert votes[0].argmax() == 0 and votes[0, 0] == pytest.approx(1.0)
    assert votes[1].argmax() == 1 and 0.5 < votes[1, 1] < 1.0
    np.testing.assert_allclose(votes.sum(axis=1), 1.0, rtol=1e-6)


@pytest.mark.slow
def test_label_offsets_are_saved_and_served_in_both_forms(trained, tmp_path):
    result, _, _ = trained
    classifier = result.classifier
    probe = ["Profit rose", "Losses widened"]
    plain = classifier.predict_proba(probe)
    positive = classifier.labels.index("positive")
    classifier.label_offsets = np.zeros(len(classifier.labels), dtype=np.float32)
    classifier.label_offsets[positive] = 1.0
    try:
        path = classifier.save(tmp_path / "offsets")
    finally:
        classifier.label_offsets = None
    int8_form_save(path)

    loaded = TextClassifier.load(path, device="cpu")
    quantized = TextClassifier.load(path, device="cpu", serving="int8")

    moved = loaded.predict_proba(probe)
    assert (moved[:, positive] > plain[:, positive]).all()
    np.testing.assert_allclose(moved.sum(axis=1), 1.0, rtol=1e-5)
    assert quantized.label_offsets is not None and quantized.label_offsets[positive] == 1.0


def test_offsets_scale_probabilities_and_keep_them_summing_to_one():
    classifier = _Fixed({"x": [0.2, 0.6, 0.2]})
    classifier.label_offsets = np.array([0.0, 0.0, np.log(3.0)], dtype=np.float32)

    (row,) = classifier.predict_proba(["x"])

    # 0.2, 0.6, 0.6 renormalised.
    np.testing.assert_allclose(row, [0.2 / 1.4, 0.6 / 1.4, 0.6 / 1.4], rtol=1e-5)


@pytest.mark.slow
def test_a_mixed_length_batch_gives_each_text_its_probabilities_alone(trained):
    classifier = trained[0].classifier
    texts = [
        "Up",
        "Operating profit rose sharply to a record level on strong demand in every region",
        "Losses widened",
        "The company cut its outlook for the year and announced job losses at two plants",
    ]

    together = classifier.predict_proba(texts)
    alone = np.concatenate([classifier.predict_proba([t]) for t in texts])

    np.testing.assert_allclose(together, alone, atol=1e-5)


def test_predict_batches_by_the_classifier_batch_size(trained):
    from mlcore.classifier import TextClassifier

    _, _, path = trained
    classifier = TextClassifier.load(path, device="cpu")
    sizes = []
    model = classifier.model

    def counting(**kwargs):
        sizes.append(len(kwargs["input_ids"]))
        return model(**kwargs)

    classifier.model = counting
    classifier.batch_size = 3
    classifier.predict(["good", "bad", "fine", "awful", "great"])

    assert classifier.batch_size == 3 and sorted(sizes) == [2, 3]


def test_a_classifier_on_cuda_would_batch_by_free_memory_on_the_cpu_by_default(
    trained, monkeypatch
):
    import torch

    from mlcore.classifier import TextClassifier, model
    from mlcore.serving import device

    monkeypatch.setattr(device, "cuda_available", lambda: True)
    monkeypatch.setattr(model, "cuda_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda: (40 << 30, 141 << 30))
    _, _, path = trained

    on_cpu = TextClassifier.load(path, device="cpu")
    on_gpu = device.model_batch_size(
        on_cpu.model, device="cuda", default=model.DEFAULT_BATCH, max_length=on_cpu.max_length
    )

    assert on_cpu.batch_size == model.DEFAULT_BATCH
    assert on_gpu > model.DEFAULT_BATCH and on_gpu & (on_gpu - 1) == 0
