"""Exporting a transformer encoder to ONNX (torch.onnx's dynamo exporter, dynamic batch and
sequence axes), then fusing attention, LayerNorm and GELU for ONNX Runtime (onnxscript's ORT
fusions).

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
        _optimise(Path(raw))
        os.replace(raw, target)
    finally:
        Path(raw).unlink(missing_ok=True)
    return target


def _optimise(path: Path) -> dict[str, int]:
    """Fuse the export in place for ONNX Runtime (onnxscript's ORT fusions) and say how many of
    each fusion it made: each layer's attention (scores, softmax, weighted sum and, with
    'attention', the query, key and value projections) into one `Attention` node, the residual
    adds with their LayerNorm into `SkipLayerNormalization`, GELU with its bias into `BiasGelu`.

    onnxruntime's own transformer optimiser, used before, fused no attention in these dynamo
    exports of PyTorch's SDPA attention (only the 6 BiasGelu of MiniLM).
    """
    # heavy: onnx_ir and onnxscript are needed only when a form is exported
    import onnx_ir as ir
    from onnxscript.rewriter.ort_fusions import optimize_for_ort

    model, counts = optimize_for_ort(ir.load(str(path)))
    ir.save(model, str(path))
    return {name: n for name, n in counts.items() if n}
