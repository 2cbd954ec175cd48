"""int8 forms of an exported fp32 encoder, by onnxruntime.quantization.

dynamic  weights int8 per output channel, activations quantised on the fly per batch. On
         MiniLM this keeps the mean cosine to fp32 at 0.992 where per-tensor weights gave 0.959
         (1,000 PhraseBank sentences; see docs/mlops.md).
static   QDQ: activations' ranges calibrated beforehand on texts of the model's own validation
         set (MinMax over length-sorted batches), weights int8 per channel.

Only MatMul nodes are quantised: the embeddings' gathers, LayerNorm and softmax stay fp32, which
is where int8 costs transformers their accuracy. A fused `Attention` node holds its query, key
and value projections inside, where no int8 rule reaches them (onnxruntime's QAttention takes
neither the fused node's attention bias nor its per-projection sizes), so before quantising
`attention_unpacked` takes each projection out into one MatMul feeding `MultiHeadAttention`: on
MiniLM the int8 form then runs 13% faster (bench/RESULTS.md, "QKV projections in int8").

`int8_guarded` checks a quantised classifier against its fp32 form on the version's validation
texts. Where more than 2% of the labels change, it quantises again leaving the feed-forward's
second projections (and, in static int8 of an unfused export, the activation-by-activation
attention products; a fused export keeps them inside its fp32 Attention nodes) in fp32. This is
what mpnet needs: its GELU outputs carry outlier channels that one int8 scale per tensor cannot
hold (-4.7 points with every MatMul in int8, 0.0 with those 12 left out; smoothing the
LayerNorm outputs instead changed nothing; docs/mlops.md).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

QUANTISED_OPS = ["MatMul"]


def matmul_roles(source: str | Path) -> list[tuple[str, str, int]]:
    """(node name, role, layer) of every MatMul of an exported encoder, in graph order.

    Roles: 'activations' (both inputs computed: attention scores and their weighted sum),
    'attention_out' (the projection after the heads are merged back), 'ffn_out' (the
    feed-forward's second projection, fed by GELU), 'in' (query, key, value and the
    feed-forward's first projection, fed by LayerNorm). Layers count feed-forward blocks. In a
    fused export (mlcore.serving.onnx_export) the attention products and the query, key and
    value projections are inside each layer's `Attention` node, so no MatMul has those roles.
    """
    # heavy: onnx is needed only when a form is exported
    import onnx

    graph = onnx.load(str(source), load_external_data=False).graph
    weights = {i.name for i in graph.initializer}
    producer = {out: node.op_type for node in graph.node for out in node.output}
    roles, layer = [], 0
    for node in graph.node:
        if node.op_type != "MatMul":
            continue
        fed_by = producer.get(node.input[0], "")
        if len(node.input) < 2 or node.input[1] not in weights:
            role = "activations"
        elif "Gelu" in fed_by:
            role = "ffn_out"
        elif fed_by in ("Reshape", "Attention", "MultiHeadAttention"):
            role = "attention_out"
        else:
            role = "in"
        roles.append((node.name, role, layer))
        if role == "ffn_out":
            layer += 1
    return roles


def attention_unpacked(source: str | Path, target: str | Path) -> Path:
    """The ONNX file at `source` with each fused `Attention` node's query, key and value
    projections taken out: one MatMul by the packed weights, split in three, into a
    `MultiHeadAttention` node that adds the same bias and attention bias. The same function in
    fp32; nodes with a mask index, a past state or a causal mask stay as they are. A graph with
    no node to take apart (mpnet's export has none) is not copied: `source` is returned."""
    # heavy: onnx is needed only when a form is exported
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(source))
    graph = model.graph
    weights = {i.name: i for i in graph.initializer}
    producer = {out: node for node in graph.node for out in node.output}
    used = {name for node in graph.node for name in node.input}

    def constant(name: str) -> np.ndarray | None:  # an initializer, or a Concat of them
        if name in weights:
            return numpy_helper.to_array(weights[name])
        node = producer.get(name)
        if node is None or node.op_type != "Concat":
            return None
        parts = [numpy_helper.to_array(weights[i]) for i in node.input if i in weights]
        axis = next((a.i for a in node.attribute if a.name == "axis"), 0)
        return np.concatenate(parts, axis=axis) if len(parts) == len(node.input) else None

    nodes, unpacked = [], 0
    for node in graph.node:
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        inputs = list(node.input) + [""] * (6 - len(node.input))
        packed = constant(inputs[1]) if node.op_type == "Attention" else None
        sizes = list(attrs.get("qkv_hidden_sizes") or [])
        if (
            packed is None
            or any(inputs[3:5])
            or attrs.get("unidirectional")
            or (sizes and len(set(sizes)) != 1)
            or any(out in used for out in node.output[1:] if out)
        ):
            nodes.append(node)
            continue
        unpacked += 1
        qkv_weight = f"{node.name or node.output[0]}_qkv_weight"
        graph.initializer.append(numpy_helper.from_array(packed.astype(np.float32), qkv_weight))
        qkv, q, k, v = (f"{node.output[0]}_{part}" for part in ("qkv", "q", "k", "v"))
        kept = {n: attrs[n] for n in ("num_heads", "scale", "mask_filter_value") if n in attrs}
        nodes += [
            helper.make_node("MatMul", [inputs[0], qkv_weight], [qkv], name=f"{qkv}_MatMul"),
            helper.make_node(
                "Split", [qkv], [q, k, v], name=f"{qkv}_Split", axis=-1, num_outputs=3
            ),
            helper.make_node(
                "MultiHeadAttention",
                [q, k, v, inputs[2], "", inputs[5]],
                [node.output[0]],
                name=f"{node.name or node.output[0]}_MultiHeadAttention",
                domain="com.microsoft",
                **kept,
            ),
        ]
    if not unpacked:
        return Path(source)
    # The Concat nodes that built packed weights feed nothing now.
    used = {name for node in nodes for name in node.input} | {o.name for o in graph.output}
    del graph.node[:]
    graph.node.extend(n for n in nodes if n.op_type != "Concat" or any(o in used for o in n.output))
    # So do the separate projection weights they joined.
    used = {name for node in graph.node for name in node.input} | {o.name for o in graph.output}
    dead = [i for i in graph.initializer if i.name not in used]
    for initializer in dead:
        graph.initializer.remove(initializer)
    final, raw = _atomic(Path(target))
    try:
        onnx.save(model, str(raw))
        os.replace(raw, final)
    finally:
        raw.unlink(missing_ok=True)
    return final


def _unpacked_file(raw: Path) -> Path:
    """Where the fp32 graph read by a quantisation into `raw` goes (`attention_unpacked`)."""
    return raw.with_name(raw.stem + "-unpacked.onnx")


def _atomic(target: Path) -> tuple[Path, Path]:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, raw = tempfile.mkstemp(dir=target.parent, prefix=".quant-", suffix=".onnx")
    os.close(fd)
    return target, Path(raw)


def int8_dynamic(
    source: str | Path,
    target: str | Path,
    *,
    per_channel: bool = True,
    keep_fp32: Sequence[str] = (),
) -> Path:
    """The dynamic-int8 form of an fp32 ONNX file (the MatMuls named in `keep_fp32` stay fp32)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    final, raw = _atomic(Path(target))
    try:
        quantize_dynamic(
            str(attention_unpacked(source, _unpacked_file(raw))),
            str(raw),
            weight_type=QuantType.QInt8,
            per_channel=per_channel,
            op_types_to_quantize=QUANTISED_OPS,
            nodes_to_exclude=list(keep_fp32),
        )
        os.replace(raw, final)
    finally:
        raw.unlink(missing_ok=True)
        _unpacked_file(raw).unlink(missing_ok=True)
    return final


def calibration_batches(
    tokenizer: Any, texts: Sequence[str], *, max_length: int, batch_size: int = 32
) -> list[dict[str, np.ndarray]]:
    """Model feeds of `texts`, length-sorted batches as the served model sees them."""
    ordered = sorted((t or " " for t in texts), key=len)
    feeds = []
    for start in range(0, len(ordered), batch_size):
        enc = tokenizer(
            ordered[start : start + batch_size],
            padding=True,
            truncation=True,
            max_length=max_length,
            return_tensors="np",
        )
        feeds.append(
            {
                "input_ids": enc["input_ids"].astype(np.int64),
                "attention_mask": enc["attention_mask"].astype(np.int64),
            }
        )
    return feeds


def int8_static(
    source: str | Path,
    target: str | Path,
    feeds: Sequence[dict[str, np.ndarray]],
    *,
    per_channel: bool = True,
    keep_fp32: Sequence[str] = (),
) -> Path:
    """The static-int8 (QDQ) form of an fp32 ONNX file, calibrated on `feeds` (the MatMuls
    named in `keep_fp32` stay fp32)."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    if not feeds:
        raise ValueError("static int8 needs calibration texts (the version's validation texts)")

    class Reader(CalibrationDataReader):  # type: ignore[misc]
        def __init__(self) -> None:
            self._feeds: Iterator[dict[str, np.ndarray]] = iter(feeds)

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self._feeds, None)

    final, raw = _atomic(Path(target))
    try:
        quantize_static(
            str(attention_unpacked(source, _unpacked_file(raw))),
            str(raw),
            Reader(),
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            per_channel=per_channel,
            op_types_to_quantize=QUANTISED_OPS,
            calibrate_method=CalibrationMethod.MinMax,
            nodes_to_exclude=list(keep_fp32),
        )
        os.replace(raw, final)
    finally:
        raw.unlink(missing_ok=True)
        for leftover in final.parent.glob(raw.stem + "*"):  # augmented calibration models
            leftover.unlink(missing_ok=True)
    return final


# Below this share of validation labels unchanged by int8, the sensitive MatMuls stay fp32.
MIN_AGREEMENT = 0.98


def label_agreement(
    reference: str | Path, candidate: str | Path, feeds: Sequence[dict[str, np.ndarray]]
) -> float:
    """Share of texts in `feeds` whose arg-max `logits` are the same in both ONNX files."""
    # heavy: onnxruntime is needed only when a form is exported
    import onnxruntime as ort

    sessions = [
        ort.InferenceSession(str(f), providers=["CPUExecutionProvider"])
        for f in (reference, candidate)
    ]
    same = total = 0
    for feed in feeds:
        ref, cand = (s.run(["logits"], feed)[0].argmax(axis=1) for s in sessions)
        same += int((ref == cand).sum())
        total += len(ref)
    return same / total if total else 1.0


def int8_guarded(
    kind: str, source: str | Path, target: str | Path, feeds: Sequence[dict[str, np.ndarray]]
) -> tuple[Path, list[str]]:
    """A classifier's int8 form ('dynamic' or 'static') and the MatMuls it left in fp32: all
    quantised first; where under MIN_AGREEMENT of the validation labels survive, again with the
    feed-forward output projections (and, static, the attention products) in fp32."""

    def quantise(keep: Sequence[str]) -> Path:
        if kind == "dynamic":
            return int8_dynamic(source, target, keep_fp32=keep)
        return int8_static(source, target, feeds, keep_fp32=keep)

    out = quantise(())
    if not feeds or label_agreement(source, out, feeds) >= MIN_AGREEMENT:
        return out, []
    roles = {"ffn_out"} if kind == "dynamic" else {"ffn_out", "activations"}
    keep = [name for name, role, _ in matmul_roles(source) if role in roles]
    return quantise(keep), keep
