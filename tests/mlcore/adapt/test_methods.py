"""Each adaptation method on the real MiniLM: a few steps, then the saved encoder loads as a
base model, differs from MiniLM, and keeps its sentence vectors close to MiniLM's."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mlcore.adapt import ADAPT_FILE, METHODS, AdaptConfig, AdaptProgress, adapt, corpus_hash
from mlcore.adapt.objectives import lora_wrap
from mlcore.base_models import base_model_path
from mlcore.embedder import Embedder
from mlcore.serving.device import training_precision

pytestmark = pytest.mark.slow


def _weights(path: Path) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    return load_file(str(path / "model.safetensors"))


@pytest.mark.parametrize("method", list(METHODS))
def test_a_method_saves_a_loadable_encoder_that_moved_but_kept_its_sentence_vectors(
    method: str, news_texts: list[str], tmp_path: Path
) -> None:
    events: list[AdaptProgress] = []

    result = adapt(
        news_texts,
        out_dir=tmp_path / method,
        config=AdaptConfig(method=method, batch_size=8, max_steps=3, held_out=16),
        device="cpu",
        progress=events.append,
    )

    assert [e.step for e in events] == [1, 2, 3] and events[-1].total_steps == 3
    saved = sorted(p.name for p in result.path.iterdir())
    assert "model.safetensors" in saved and "tokenizer.json" in saved
    assert not [name for name in saved if name.endswith((".bin", ".pt", ".pkl"))]
    base, adapted = _weights(base_model_path()), _weights(result.path)
    assert set(base) - {"embeddings.position_ids"} <= set(adapted)
    moved = [k for k in adapted if not np.array_equal(base[k], adapted[k])]
    assert moved, "no weight changed"
    vectors = Embedder(result.path, device="cpu").embed(news_texts[:10])
    reference = Embedder(base_model_path(), device="cpu").embed(news_texts[:10])
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert float((vectors * reference).sum(axis=1).min()) > 0.9
    assert result.metrics["cosine_to_base"] > 0.9
    assert result.metrics["steps"] == 3
    # bf16 mixed precision where this CPU has it natively; the saved weights stay fp32 anyway
    assert result.metrics["train_precision"] == training_precision("cpu")
    assert {w.dtype for w in adapted.values() if w.dtype.kind == "f"} == {np.dtype("float32")}
    info = json.loads((result.path / ADAPT_FILE).read_text())
    assert info["method"] == method
    assert info["corpus_hash"] == result.corpus_hash == corpus_hash(news_texts)
    loss_key = "held_out_reconstruction_loss" if method == "tsdae" else "held_out_mlm_loss"
    assert np.isfinite(result.metrics[loss_key]) and np.isfinite(result.metrics[f"{loss_key}_base"])


def test_a_stopped_adaptation_leaves_no_encoder(news_texts: list[str], tmp_path: Path) -> None:
    from mlcore.classifier import TrainingCancelled

    with pytest.raises(TrainingCancelled):
        adapt(
            news_texts,
            out_dir=tmp_path / "stopped",
            config=AdaptConfig(method="mlm-keep", batch_size=8, max_steps=3, held_out=16),
            device="cpu",
            should_stop=lambda: True,
        )

    assert not (tmp_path / "stopped").exists()


@pytest.mark.parametrize("architecture", ["bert", "mpnet"])
def test_lora_finds_the_attention_weights_of_minilm_and_of_mpnet(architecture: str) -> None:
    # heavy: transformers loads torch
    from transformers import BertConfig, BertForMaskedLM, MPNetConfig, MPNetForMaskedLM

    sizes = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2}
    sizes |= {"intermediate_size": 37, "vocab_size": 99}
    mlm = (
        BertForMaskedLM(BertConfig(**sizes))
        if architecture == "bert"
        else MPNetForMaskedLM(MPNetConfig(**sizes))
    )

    trained = {name for name, p in lora_wrap(mlm).named_parameters() if p.requires_grad}

    # Adapters on each layer's query and value, and the MLM head's transform; nothing else.
    adapters = {name for name in trained if ".lora_" in name}
    assert len(adapters) == 2 * 2 * 2  # layers x (query, value) x (A, B)
    head = trained - adapters
    assert head and all("predictions" in name or "lm_head" in name for name in head)
    assert not any("decoder" in name for name in head)
