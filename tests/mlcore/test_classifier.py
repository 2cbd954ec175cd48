from dataclasses import replace

import numpy as np
import pytest

from mlcore.classifier import (
    NeighbourMemory,
    TextClassifier,
    TrainConfig,
    TrainingCancelled,
    fit,
    int8_form_save,
    serving_form_set,
    stratified_split,
)
from mlcore.heads import HEAD_FILE

pytestmark = pytest.mark.slow

POSITIVE = [
    "Profit rose strongly this quarter",
    "Sales increased and margins improved",
    "The company beat expectations",
    "Revenue grew by a record amount",
    "Operating income jumped",
    "Orders surged to an all-time high",
]
NEGATIVE = [
    "The company reported a heavy loss",
    "Sales fell sharply",
    "Profit warning issued after weak demand",
    "Revenue dropped and costs rose",
    "The firm cut jobs after losses",
    "Shares plunged on the bad results",
]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    texts = POSITIVE * 3 + NEGATIVE * 3
    labels = ["positive"] * 18 + ["negative"] * 18
    events = []
    result = fit(
        texts,
        labels,
        config=TrainConfig(
            epochs=6, batch_size=8, learning_rate=1e-4, patience=6, val_fraction=0.2
        ),
        device="cpu",
        progress=events.append,
    )
    path = result.classifier.save(tmp_path_factory.mktemp("clf") / "model")
    return result, events, path


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


def test_save_load_and_int8_form_agree(trained):
    result, _, path = trained
    texts = ["Profit rose", "Losses widened"]

    loaded = TextClassifier.load(path, device="cpu")
    int8_form_save(path)
    serving_form_set(path, "int8")
    quantized = TextClassifier.load(path, device="cpu")

    assert quantized.serving == "int8"
    np.testing.assert_allclose(
        loaded.predict_proba(texts), result.classifier.predict_proba(texts), atol=1e-5
    )
    assert [p.label for p in quantized.predict(texts)] == [p.label for p in loaded.predict(texts)]


def test_int8_form_saved_under_one_engine_serves_under_another(trained, monkeypatch):
    import torch

    from mlcore.classifier import int8_engine_select

    _, _, path = trained
    texts = ["Profit rose", "Losses widened", "The meeting is in April"]
    engines = [e for e in ("fbgemm", "onednn") if e in torch.backends.quantized.supported_engines]
    if len(engines) < 2:
        pytest.fail(f"this torch build lacks an int8 engine: {engines}")
    before = torch.backends.quantized.engine
    try:
        monkeypatch.setenv("ML_INT8_ENGINE", engines[0])
        assert int8_engine_select() == engines[0]
        int8_form_save(path)
        first = TextClassifier.load(path, device="cpu", serving="int8").predict_proba(texts)
        monkeypatch.setenv("ML_INT8_ENGINE", engines[1])
        second = TextClassifier.load(path, device="cpu", serving="int8")
        assert torch.backends.quantized.engine == engines[1]
        np.testing.assert_allclose(second.predict_proba(texts), first, atol=0.05)
        monkeypatch.setenv("ML_INT8_ENGINE", "no-such-engine")  # ignored, not an error
        assert int8_engine_select() == engines[1]
    finally:
        torch.backends.quantized.engine = before


def test_cancel_stops_training():
    with pytest.raises(TrainingCancelled):
        fit(
            POSITIVE + NEGATIVE,
            ["p"] * 6 + ["n"] * 6,
            config=TrainConfig(epochs=1),
            device="cpu",
            should_stop=lambda: True,
        )


def test_stratified_split_keeps_every_label():
    labels = ["a"] * 10 + ["b"] * 10

    train, held = stratified_split(labels, 0.2, seed=1)

    assert sorted(train + held) == list(range(20))
    assert {labels[i] for i in held} == {"a", "b"} and len(held) == 4


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


def test_neighbour_memory_votes_for_the_nearest_labels():
    vectors = np.array([[1, 0], [0.9, 0.1], [0, 1]], dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    memory = NeighbourMemory(vectors, np.array([0, 0, 1]), k=2, temperature=0.1, weight=1.0)

    votes = memory.proba(np.array([[1, 0], [0, 1]], dtype=np.float32), n_labels=2)

    assert votes[0].argmax() == 0 and votes[0, 0] == pytest.approx(1.0)
    assert votes[1].argmax() == 1 and 0.5 < votes[1, 1] < 1.0
    np.testing.assert_allclose(votes.sum(axis=1), 1.0, rtol=1e-6)


def test_centroid_head_neighbours_and_averaging_train_save_and_load(tmp_path):
    texts = POSITIVE * 3 + NEGATIVE * 3
    labels = ["positive"] * 18 + ["negative"] * 18
    config = TrainConfig(
        epochs=2,
        batch_size=8,
        val_fraction=0.2,
        head_init="centroids",
        head_lr_multiplier=10.0,
        neighbours_k=3,
        average_epochs=2,
    )

    result = fit(texts, labels, config=config, device="cpu")
    loaded = TextClassifier.load(result.classifier.save(tmp_path / "knn"), device="cpu")

    chosen = result.metrics["neighbours"]
    assert chosen["k"] == 3 and chosen["weight"] in (0.0, 0.25, 0.5, 0.75, 1.0)
    assert result.metrics["averaged_epochs"] in (0, 2)  # 2 only where validation agreed
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


def test_two_member_ensemble_trains_saves_loads_and_quantizes(tmp_path):
    texts = POSITIVE * 3 + NEGATIVE * 3
    labels = ["positive"] * 18 + ["negative"] * 18
    events = []
    config = TrainConfig(
        epochs=2, batch_size=8, val_fraction=0.2, head_init="centroids", ensemble=2, neighbours_k=3
    )

    result = fit(texts, labels, config=config, device="cpu", progress=events.append)
    path = result.classifier.save(tmp_path / "ensemble")
    loaded = TextClassifier.load(path, device="cpu")
    int8_form_save(path)
    quantized = TextClassifier.load(path, device="cpu", serving="int8")

    assert [m["seed"] for m in result.metrics["members"]] == [42, 43]
    assert (path / "member_0" / HEAD_FILE).exists() and (path / "member_1" / HEAD_FILE).exists()
    steps = [e.step for e in events if e.phase == "step"]
    assert steps == sorted(steps) and steps[-1] == events[-1].total_steps  # one run, not two
    probe = ["Quarterly profit soared", "Heavy losses and job cuts"]
    assert [p.label for p in loaded.predict(probe)] == ["positive", "negative"]
    np.testing.assert_allclose(
        loaded.predict_proba(probe), result.classifier.predict_proba(probe), atol=1e-5
    )
    assert [p.label for p in quantized.predict(probe)] == ["positive", "negative"]


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


def test_distilled_student_is_one_model_with_the_teachers_on_record(tmp_path):
    texts = POSITIVE * 3 + NEGATIVE * 3
    labels = ["positive"] * 18 + ["negative"] * 18
    events = []
    config = TrainConfig(epochs=2, batch_size=8, val_fraction=0.2, distil_from=2, neighbours_k=3)

    result = fit(texts, labels, config=config, device="cpu", progress=events.append)
    path = result.classifier.save(tmp_path / "student")
    loaded = TextClassifier.load(path, device="cpu")

    assert result.metrics["teacher"]["members"] == 2
    assert 0.0 <= result.metrics["teacher"]["val_macro_f1"] <= 1.0
    assert {h["stage"] for h in result.history} == {"teacher", "student"}
    assert not (path / "member_0").exists()  # served as a single model
    steps = [e.step for e in events if e.phase == "step"]
    assert steps == sorted(steps) and steps[-1] == events[-1].total_steps  # one job: 3 runs
    probe = ["Quarterly profit soared", "Heavy losses and job cuts"]
    assert [p.label for p in loaded.predict(probe)] == ["positive", "negative"]


def test_layer_lr_decay_scales_each_layer_below_the_top():
    from transformers import AutoModel

    from mlcore.classifier import _param_groups
    from mlcore.embedder import base_model_path
    from mlcore.heads import MeanPoolClassifier

    model = MeanPoolClassifier(AutoModel.from_pretrained(str(base_model_path())), 3)
    config = TrainConfig(learning_rate=1.0, layer_lr_decay=0.5, head_lr_multiplier=4.0)

    lr_of = {id(p): g["lr"] for g in _param_groups(model, config) for p in g["params"]}
    named = dict(model.named_parameters())

    assert lr_of[id(named["classifier.weight"])] == 4.0
    assert lr_of[id(named["encoder.encoder.layer.5.output.dense.weight"])] == 1.0
    assert lr_of[id(named["encoder.encoder.layer.4.output.dense.weight"])] == 0.5
    assert lr_of[id(named["encoder.encoder.layer.0.attention.self.query.weight"])] == 0.5**5
    assert lr_of[id(named["encoder.embeddings.position_embeddings.weight"])] == 0.5**6
    decays = {id(p): g["weight_decay"] for g in _param_groups(model, config) for p in g["params"]}
    assert decays[id(named["encoder.encoder.layer.5.output.dense.bias"])] == 0.0
    assert decays[id(named["encoder.encoder.layer.5.output.dense.weight"])] == 0.01
    assert len(lr_of) == len(named)  # every trainable parameter in exactly one group


def test_adversary_moves_each_text_by_eps_along_its_gradient_then_steps_aside():
    import torch
    from transformers import AutoModel

    from mlcore.classifier import _EmbeddingAdversary
    from mlcore.embedder import base_model_path
    from mlcore.heads import MeanPoolClassifier

    torch.manual_seed(0)
    model = MeanPoolClassifier(AutoModel.from_pretrained(str(base_model_path())), 2).eval()
    ids = torch.tensor([[101, 2000, 3000, 102], [101, 2001, 102, 0]])
    mask = (ids > 0).long()
    adversary = _EmbeddingAdversary(model.encoder.embeddings, 0.5)
    model.train()
    for module in model.modules():  # no dropout: only the perturbation changes the logits
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    labels = torch.tensor([0, 1])
    clean = model(input_ids=ids, attention_mask=mask).logits
    torch.nn.functional.cross_entropy(clean, labels).backward()

    adversary.perturb()
    norms = adversary.delta.flatten(1).norm(dim=1).tolist()
    shifted = model(input_ids=ids, attention_mask=mask).logits
    adversary.clear()
    again = model(input_ids=ids, attention_mask=mask).logits
    adversary.remove()

    assert norms == pytest.approx([0.5, 0.5], abs=1e-4)
    # a step up the loss's gradient raises the loss
    assert torch.nn.functional.cross_entropy(shifted, labels) > torch.nn.functional.cross_entropy(
        clean, labels
    )
    torch.testing.assert_close(again, clean)


def test_rdrop_term_is_zero_without_dropout_and_positive_with_it():
    import torch
    from transformers import AutoModel

    from mlcore.classifier import _batch_loss
    from mlcore.embedder import base_model_path
    from mlcore.heads import MeanPoolClassifier

    torch.manual_seed(0)
    model = MeanPoolClassifier(AutoModel.from_pretrained(str(base_model_path())), 2)
    batch = {
        "input_ids": torch.tensor([[101, 2000, 3000, 102], [101, 2001, 102, 0]]),
        "attention_mask": torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]]),
    }
    y = torch.tensor([0, 1])
    plain, rdrop = TrainConfig(), TrainConfig(rdrop_alpha=5.0)

    model.eval()  # dropout off: both passes agree, so R-Drop adds nothing
    torch.testing.assert_close(
        _batch_loss(model, batch, [0, 1], y, None, rdrop),
        _batch_loss(model, batch, [0, 1], y, None, plain),
    )
    model.train()
    torch.manual_seed(1)
    with_term = _batch_loss(model, batch, [0, 1], y, None, rdrop)
    torch.manual_seed(1)
    without = _batch_loss(model, batch, [0, 1], y, None, replace(rdrop, rdrop_alpha=0.0))
    assert with_term.item() > 0 and with_term.item() != pytest.approx(without.item())


def test_regularised_fit_with_decay_rdrop_fgm_and_reinit_learns_saves_and_loads(tmp_path):
    texts = POSITIVE * 3 + NEGATIVE * 3
    labels = ["positive"] * 18 + ["negative"] * 18
    config = TrainConfig(
        epochs=4,
        batch_size=8,
        learning_rate=1.5e-4,
        patience=4,
        val_fraction=0.2,
        layer_lr_decay=0.8,
        rdrop_alpha=1.0,
        adversarial_eps=1.0,
        reinit_layers=1,
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
