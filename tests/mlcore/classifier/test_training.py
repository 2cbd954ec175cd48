"""Fine-tuning: learning, cancelling, pooling forms, centroid head and vote, distillation, FGM."""

from dataclasses import replace

import numpy as np
import pytest

from mlcore.classifier import NeighbourMemory, TextClassifier, TrainConfig, TrainingCancelled, fit

from .sentences import NEGATIVE, POSITIVE

pytestmark = pytest.mark.slow


def test_two_class_fine_tune_learns(trained):
    result, events, _ = trained

    preds = result.classifier.predict(["Quarterly profit soared", "Heavy losses and job cuts"])

    assert [p.label for p in preds] == ["positive", "negative"]
    assert preds[0].scores["positive"] > 0.5 and sum(preds[0].scores.values()) == pytest.approx(1)
    assert result.metrics["accuracy"] >= 0.8
    assert set(result.metrics["per_class"]) == {"negative", "positive"}
    assert (
        events and events[-1].phase == "epoch" and events[-1].step == events[-1].total_steps
    ) or result.stopped_early
    assert all(e.eta_s >= 0 for e in events)


def test_cancel_stops_training():
    with pytest.raises(TrainingCancelled):
        fit(
            POSITIVE + NEGATIVE,
            ["p"] * 6 + ["n"] * 6,
            config=TrainConfig(epochs=1),
            device="cpu",
            should_stop=lambda: True,
        )


def test_cls_pooling_form_also_trains_saves_and_loads(tmp_path):
    texts = POSITIVE * 2 + NEGATIVE * 2
    labels = ["positive"] * 12 + ["negative"] * 12
    result = fit(
        texts, labels, config=TrainConfig(epochs=2, batch_size=8, pooling="cls"), device="cpu"
    )

    loaded = TextClassifier.load(result.classifier.save(tmp_path / "cls"), device="cpu")

    assert loaded.pooling == "cls" and loaded.labels == ["negative", "positive"]
    np.testing.assert_allclose(
        loaded.predict_proba(["Profit rose"]),
        result.classifier.predict_proba(["Profit rose"]),
        atol=1e-5,
    )


def test_centroid_head_and_neighbours_train_save_and_load(tmp_path):
    texts = POSITIVE * 3 + NEGATIVE * 3
    labels = ["positive"] * 18 + ["negative"] * 18
    config = TrainConfig(
        epochs=2,
        batch_size=8,
        val_fraction=0.2,
        head_init="centroids",
        head_lr_multiplier=10.0,
        neighbours_k=3,
    )

    result = fit(texts, labels, config=config, device="cpu")
    loaded = TextClassifier.load(result.classifier.save(tmp_path / "knn"), device="cpu")

    chosen = result.metrics["neighbours"]
    assert chosen["k"] == 3 and chosen["weight"] in (0.0, 0.25, 0.5, 0.75, 1.0)
    assert result.metrics["accuracy"] >= 0.8
    if chosen["weight"] > 0:  # validation rows joined the memory after choosing
        assert loaded.neighbours is not None and len(loaded.neighbours.vectors) == 36
    else:  # the vote did not help on validation: served as a plain head
        assert loaded.neighbours is None
    probe = ["Quarterly profit soared", "Heavy losses and job cuts"]
    assert [p.label for p in loaded.predict(probe)] == ["positive", "negative"]
    np.testing.assert_allclose(
        loaded.predict_proba(probe), result.classifier.predict_proba(probe), atol=1e-5
    )
    loaded.neighbours = NeighbourMemory(  # a vote always in use, for the empty-batch case
        np.eye(2, 384, dtype=np.float32), np.array([0, 1]), k=1, temperature=0.1, weight=0.5
    )
    assert loaded.predict_proba([]).shape == (0, 2)
    assert loaded.predict_proba(probe).shape == (2, 2)


def test_soft_targets_pull_the_student_towards_the_teacher():
    texts = POSITIVE * 3 + NEGATIVE * 3
    labels = ["positive"] * 18 + ["negative"] * 18
    config = TrainConfig(
        epochs=3, batch_size=8, learning_rate=1e-4, patience=3, distil_weight=1.0, seed=7
    )
    # A "teacher" that says every text is negative: with weight 1 its view is the only target,
    # so the student must move towards it, whatever the labels say.
    teacher = np.tile(np.array([[0.95, 0.05]], dtype=np.float32), (len(texts), 1))

    plain = fit(texts, labels, config=replace(config, distil_weight=0.0), device="cpu")
    distilled = fit(texts, labels, config=config, device="cpu", soft_targets=teacher)

    probe = POSITIVE[:3]
    negative = plain.classifier.labels.index("negative")
    assert (
        distilled.classifier.predict_proba(probe)[:, negative].mean()
        > plain.classifier.predict_proba(probe)[:, negative].mean() + 0.2
    )
    with pytest.raises(ValueError, match="one row of soft targets per text"):
        fit(texts, labels, config=config, device="cpu", soft_targets=teacher[:5])
    with pytest.raises(ValueError, match="columns"):
        fit(texts, labels, config=config, device="cpu", soft_targets=np.ones((36, 3), "f"))


def test_regularised_fit_with_layer_decay_and_fgm_learns_saves_and_loads(tmp_path):
    texts = POSITIVE * 3 + NEGATIVE * 3
    labels = ["positive"] * 18 + ["negative"] * 18
    config = TrainConfig(
        epochs=4,
        batch_size=8,
        learning_rate=1.5e-4,
        patience=4,
        val_fraction=0.2,
        layer_lr_decay=0.8,
        adversarial_eps=1.0,
    )

    result = fit(texts, labels, config=config, device="cpu")
    loaded = TextClassifier.load(result.classifier.save(tmp_path / "reg"), device="cpu")

    embeddings = result.classifier.model.encoder.embeddings
    assert not embeddings._forward_hooks  # the adversary's hook is gone after training
    assert result.metrics["train_config"]["adversarial_eps"] == 1.0
    probe = ["Quarterly profit soared", "Heavy losses and job cuts"]
    assert [p.label for p in loaded.predict(probe)] == ["positive", "negative"]
    np.testing.assert_allclose(
        loaded.predict_proba(probe), result.classifier.predict_proba(probe), atol=1e-5
    )


@pytest.mark.parametrize(
    ("native", "precision", "expected"),
    [
        (True, "auto", "bf16"),
        (True, "fp32", "fp32"),
        (False, "auto", "fp32"),
    ],
)
def test_training_computes_in_bf16_where_the_cpu_has_it_and_keeps_fp32_weights(
    monkeypatch, native, precision, expected
):
    import torch

    from mlcore.classifier import training
    from mlcore.serving import device

    monkeypatch.setattr(device, "cpu_bf16_native", lambda: native)
    seen = []
    real_loss = training.batch_loss

    def loss_watched(*args):
        seen.append(torch.is_autocast_enabled("cpu"))
        return real_loss(*args)

    monkeypatch.setattr(training, "batch_loss", loss_watched)
    result = fit(
        POSITIVE + NEGATIVE,
        ["positive"] * 6 + ["negative"] * 6,
        config=TrainConfig(epochs=1, batch_size=4, max_steps=2, precision=precision),
        device="cpu",
    )

    assert result.metrics["train_precision"] == expected
    assert seen == [expected == "bf16"] * 2
    assert {p.dtype for p in result.classifier.model.parameters()} == {torch.float32}


def test_an_unknown_training_precision_is_refused():
    with pytest.raises(ValueError, match="precision must be one of"):
        TrainConfig(precision="fp16")
