"""One training step's parts: layer-wise learning rates and the FGM adversary."""

import pytest

from mlcore.classifier import TrainConfig

pytestmark = pytest.mark.slow


def test_layer_lr_decay_scales_each_layer_below_the_top():
    from transformers import AutoModel

    from mlcore.base_models import base_model_path
    from mlcore.classifier.steps import param_groups
    from mlcore.heads import MeanPoolClassifier

    model = MeanPoolClassifier(AutoModel.from_pretrained(str(base_model_path())), 3)
    config = TrainConfig(learning_rate=1.0, layer_lr_decay=0.5, head_lr_multiplier=4.0)

    lr_of = {id(p): g["lr"] for g in param_groups(model, config) for p in g["params"]}
    named = dict(model.named_parameters())

    assert lr_of[id(named["classifier.weight"])] == 4.0
    assert lr_of[id(named["encoder.encoder.layer.5.output.dense.weight"])] == 1.0
    assert lr_of[id(named["encoder.encoder.layer.4.output.dense.weight"])] == 0.5
    assert lr_of[id(named["encoder.encoder.layer.0.attention.self.query.weight"])] == 0.5**5
    assert lr_of[id(named["encoder.embeddings.position_embeddings.weight"])] == 0.5**6
    decays = {id(p): g["weight_decay"] for g in param_groups(model, config) for p in g["params"]}
    assert decays[id(named["encoder.encoder.layer.5.output.dense.bias"])] == 0.0
    assert decays[id(named["encoder.encoder.layer.5.output.dense.weight"])] == 0.01
    assert len(lr_of) == len(named)  # every trainable parameter in exactly one group


def test_adversary_moves_each_text_by_eps_along_its_gradient_then_steps_aside():
    import torch
    from transformers import AutoModel

    from mlcore.base_models import base_model_path
    from mlcore.classifier.steps import EmbeddingAdversary
    from mlcore.heads import MeanPoolClassifier

    torch.manual_seed(0)
    model = MeanPoolClassifier(AutoModel.from_pretrained(str(base_model_path())), 2).eval()
    ids = torch.tensor([[101, 2000, 3000, 102], [101, 2001, 102, 0]])
    mask = (ids > 0).long()
    adversary = EmbeddingAdversary(model.encoder.embeddings, 0.5)
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
