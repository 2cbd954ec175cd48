"""The GPU branches, run on a CPU-only machine by replacing the device check at its boundary
(`mlcore.serving.device.cuda_available`, and the memory query where a branch asks it)."""

import pytest

from mlcore.serving import device, sessions


@pytest.fixture
def fake_cuda(monkeypatch):
    monkeypatch.setattr(device, "cuda_available", lambda: True)
    monkeypatch.setattr(sessions, "cuda_available", lambda: True)


def test_the_cpu_keeps_the_configured_batch_size():
    assert device.batch_size_for_memory(default=64, bytes_per_text=1, free_bytes=1 << 40) == 64


def test_a_gpu_batch_grows_with_free_memory_in_powers_of_two(fake_cuda):
    per_text = device.activation_bytes(384, 6, 256)

    small = device.batch_size_for_memory(default=64, bytes_per_text=per_text, free_bytes=8 << 30)
    large = device.batch_size_for_memory(default=64, bytes_per_text=per_text, free_bytes=80 << 30)
    tiny = device.batch_size_for_memory(default=64, bytes_per_text=per_text, free_bytes=1 << 20)

    assert 64 < small < large <= 4096
    assert small & (small - 1) == 0 and large & (large - 1) == 0
    assert small * per_text <= (8 << 30) // 2  # half the free memory at most
    assert tiny == 64  # never below the configured size


def test_free_memory_is_read_from_the_device_when_not_given(fake_cuda, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda: (40 << 30, 141 << 30))

    assert device.free_memory_bytes() == 40 << 30
    assert device.batch_size_for_memory(default=32, bytes_per_text=1 << 20) == 4096


def test_half_precision_is_bf16_where_the_gpu_has_it(fake_cuda, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert device.half_dtype() is torch.bfloat16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    assert device.half_dtype() is torch.float16


def test_without_cuda_there_is_no_half_precision_and_no_autocast():
    import torch

    with device.autocast("cuda"):
        enabled = torch.is_autocast_enabled("cuda")

    assert device.half_dtype() is None and device.gpu_name() == ""
    assert not enabled


def test_training_on_a_gpu_without_bf16_stays_in_fp32(fake_cuda, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    with device.autocast("cuda", training=True):
        enabled = torch.is_autocast_enabled("cuda")

    assert not enabled


def test_onnx_sessions_put_cuda_first_only_when_the_runtime_has_it(fake_cuda, monkeypatch):
    import onnxruntime as ort

    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CPUExecutionProvider"])
    assert sessions.providers_for("cuda") == ["CPUExecutionProvider"]
    monkeypatch.setattr(
        ort, "get_available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"]
    )
    assert sessions.providers_for("cuda") == ["CUDAExecutionProvider", "CPUExecutionProvider"]
    assert sessions.providers_for("cpu") == ["CPUExecutionProvider"]


def _tiny_encoder(dtype):
    import torch

    class Encoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.config = type("Config", (), {"hidden_size": 768, "num_hidden_layers": 12})()
            self.layer = torch.nn.Linear(4, 4).to(dtype)

    return Encoder()


def test_a_model_on_cuda_gets_a_batch_sized_by_free_memory_and_its_precision(
    fake_cuda, monkeypatch
):
    import torch

    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda: (40 << 30, 141 << 30))
    half, full = _tiny_encoder(torch.bfloat16), _tiny_encoder(torch.float32)

    on_cpu = device.model_batch_size(half, device="cpu", default=64, max_length=128)
    half_size = device.model_batch_size(half, device="cuda", default=64, max_length=128)
    full_size = device.model_batch_size(full, device="cuda:0", default=64, max_length=128)

    assert on_cpu == 64  # a model served on the CPU keeps its batch, GPU or not
    assert half_size > full_size > 64  # fp32 activations take twice the memory
    assert half_size * device.activation_bytes(768, 12, 128) <= (40 << 30) // 2


def test_without_cuda_a_cuda_model_keeps_the_default_batch():
    import torch

    assert (
        device.model_batch_size(
            _tiny_encoder(torch.float32), device="cuda", default=32, max_length=64
        )
        == 32
    )


@pytest.mark.parametrize(
    ("flags", "native"),
    [
        ("fpu sse2 avx512f avx512_vnni amx_bf16 amx_tile", True),
        ("fpu sse2 avx512f avx512_bf16", True),
        ("fpu sse2 avx2 avx512f avx512_vnni", False),  # bf16 only emulated: slower than fp32
    ],
)
def test_the_cpu_bf16_form_is_offered_only_where_the_cpu_has_native_bf16(tmp_path, flags, native):
    from mlcore.serving.device import cpu_bf16_native

    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nmodel name\t: test\nflags\t\t: {flags}\n")

    assert cpu_bf16_native(str(cpuinfo)) is native
    assert cpu_bf16_native(str(tmp_path / "absent")) is False


@pytest.mark.parametrize("native", [True, False])
def test_cpu_training_runs_in_bf16_only_where_the_cpu_has_native_bf16(monkeypatch, native):
    import torch

    monkeypatch.setattr(device, "cpu_bf16_native", lambda: native)
    with device.autocast("cpu", training=True):
        enabled = torch.is_autocast_enabled("cpu")
        dtype = torch.get_autocast_dtype("cpu")
    with device.autocast("cpu"):  # inference on the CPU: the bf16 serving form casts instead
        inference = torch.is_autocast_enabled("cpu")

    assert enabled is native and not inference
    assert device.training_precision("cpu") == ("bf16" if native else "fp32")
    if native:
        assert dtype is torch.bfloat16


def test_fp32_training_can_be_asked_for_on_any_device(fake_cuda, monkeypatch):
    import torch

    monkeypatch.setattr(device, "cpu_bf16_native", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    with device.autocast("cpu", training=True, precision="fp32"):
        enabled = torch.is_autocast_enabled("cpu")

    assert not enabled
    assert device.training_precision("cuda", "fp32") == "fp32"
    assert device.training_precision("cuda") == "bf16"
    with pytest.raises(ValueError, match="precision must be one of"):
        device.training_precision("cpu", "fp16")
