"""Exporting a transformer encoder to ONNX (torch.onnx's dynamo exporter, dynamic batch and
sequence axes), then letting onnxruntime's transformer optimiser fuse what it can.

TorchScript tracing (`dynamo=False`) is not used: with transformers 5 it bakes the example's
attention-mask shapes into the graph, and its vectors drift by 0.1 from torch's on a differently
padded batch; the dynamo export matches torch to about 3e-7.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

EMBEDDER_OUTPUTS = ["vectors"]
CLASSIFIER_OUTPUTS = ["logits", "pooled"]


def _embedder_module(model: Any) -> Any:
    import torch

    class MeanPooledUnit(torch.nn.Module):
        def __init__(self, encoder: Any) -> None:
            super().__init__()
            self.encoder = encoder

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            hidden = self.encoder(
                input_ids=input_ids, attention_mask=attention_mask
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    return MeanPooledUnit(model)


def _classifier_module(model: Any) -> Any:
    import torch

    class LogitsAndPooled(torch.nn.Module):
        def __init__(self, classifier: Any) -> None:
            super().__init__()
            self.classifier = classifier

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            out = self.classifier(input_ids=input_ids, attention_mask=attention_mask)
            pooled = getattr(out, "pooled", None)
            if pooled is None:  # a [CLS]-pooled Hugging Face head exposes no sentence vector
                pooled = out.logits[:, :1] * 0
            return out.logits, pooled

    return LogitsAndPooled(model)


def encoder_export(model: Any, tokenizer: Any, target: str | Path, *, kind: str) -> Path:
    """Export `model` (an embedder's encoder, or a classifier) as an fp32 ONNX file at `target`.

    kind 'embedder': outputs `vectors`, unit mean-pooled sentence vectors.
    kind 'classifier': outputs `logits` and `pooled` (the sentence vector the neighbour memory
    uses). The file is written under a temporary name and renamed into place.
    """
    import torch

    if kind not in ("embedder", "classifier"):
        raise ValueError(f"unknown export kind {kind!r}")
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    module = (_embedder_module if kind == "embedder" else _classifier_module)(model)
    module = module.to("cpu").float().eval()
    example = tokenizer(
        ["an example sentence to trace", "a second, longer example sentence to trace it with"],
        padding=True,
        return_tensors="pt",
    )
    batch, seq = torch.export.Dim("batch"), torch.export.Dim("sequence")
    names = EMBEDDER_OUTPUTS if kind == "embedder" else CLASSIFIER_OUTPUTS
    fd, raw = tempfile.mkstemp(dir=target.parent, prefix=".export-", suffix=".onnx")
    os.close(fd)
    try:
        with torch.inference_mode(False), torch.no_grad():
            torch.onnx.export(
                module,
                (example["input_ids"], example["attention_mask"]),
                raw,
                input_names=["input_ids", "attention_mask"],
                output_names=names,
                dynamic_shapes={
                    "input_ids": {0: batch, 1: seq},
                    "attention_mask": {0: batch, 1: seq},
                },
                opset_version=18,
                dynamo=True,
                external_data=False,
                verbose=False,
            )
        _optimise(Path(raw), model)
        os.replace(raw, target)
    finally:
        Path(raw).unlink(missing_ok=True)
    return target


def _optimise(path: Path, model: Any) -> None:
    """Fuse LayerNorm, GELU and bias adds in place (onnxruntime's transformer optimiser)."""
    from onnxruntime.transformers import optimizer

    config = _encoder_config(model)
    optimised = optimizer.optimize_model(
        str(path),
        model_type="bert",
        num_heads=int(getattr(config, "num_attention_heads", 0) or 0),
        hidden_size=int(getattr(config, "hidden_size", 0) or 0),
        opt_level=1,
    )
    optimised.save_model_to_file(str(path))


def _encoder_config(model: Any) -> Any:
    config = getattr(model, "config", None)
    if config is not None:
        return config
    for child in model.modules():
        if getattr(child, "config", None) is not None:
            return child.config
    return None
