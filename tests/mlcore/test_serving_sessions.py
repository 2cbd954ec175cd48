"""ONNX Runtime sessions (mlcore.serving.sessions) on a tiny graph built here."""

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from mlcore.serving.sessions import OnnxRunner

SPIN = "session.intra_op.allow_spinning"


@pytest.fixture
def tiny_encoder(tmp_path):
    """input_ids x attention_mask -> 'vectors' as float32: a graph with the encoder's inputs."""
    ids = helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "sequence"])
    mask = helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "sequence"])
    out = helper.make_tensor_value_info("vectors", TensorProto.FLOAT, ["batch", "sequence"])
    graph = helper.make_graph(
        [
            helper.make_node("Mul", ["input_ids", "attention_mask"], ["kept"]),
            helper.make_node("Cast", ["kept"], ["vectors"], to=TensorProto.FLOAT),
        ],
        "tiny",
        [ids, mask],
        [out],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = tmp_path / "tiny.onnx"
    onnx.save(model, str(path))
    return path


def test_a_session_runs_the_encoder_inputs_and_names_its_outputs(tiny_encoder):
    runner = OnnxRunner(tiny_encoder, threads=1)

    out = runner.run(np.array([[5, 7, 0]]), np.array([[1, 1, 0]]))

    assert list(out) == ["vectors"]
    np.testing.assert_array_equal(out["vectors"], np.array([[5.0, 7.0, 0.0]], dtype=np.float32))


def test_intra_op_threads_do_not_spin_between_runs_unless_asked(tiny_encoder, monkeypatch):
    monkeypatch.delenv("ML_ORT_SPIN", raising=False)
    default = OnnxRunner(tiny_encoder, threads=2).session.get_session_options()
    monkeypatch.setenv("ML_ORT_SPIN", "1")
    spinning = OnnxRunner(tiny_encoder, threads=2).session.get_session_options()

    assert default.get_session_config_entry(SPIN) == "0"
    assert spinning.get_session_config_entry(SPIN) == "1"
