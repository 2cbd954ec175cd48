"""bench engine_spin: each row's spinning settings, its summary, and the skip without data."""

from __future__ import annotations

import pytest

from bench import engine_spin


def test_the_rows_cover_each_runtime_spinning_and_not_for_both_int8_forms() -> None:
    envs = {
        name: (form, engine_spin.row_env(omp, spin)) for name, form, omp, spin in engine_spin.ROWS
    }

    assert {form for form, _ in envs.values()} == {"int8", "onnx-int8"}
    assert all(env["ML_BATCHING"] == "1" for _, env in envs.values())
    torch_rows = [env for form, env in envs.values() if form == "int8"]
    onnx_rows = [env for form, env in envs.values() if form == "onnx-int8"]
    assert {env["OMP_WAIT_POLICY"] for env in torch_rows} == {"ACTIVE", "PASSIVE"}
    assert {env["ML_ORT_SPIN"] for env in onnx_rows} == {"0", "1"}


def test_the_summary_names_every_measured_row_with_its_cpu_per_ask() -> None:
    name = engine_spin.ROWS[0][0]
    results = {
        "optimiser_choice": "int8",
        name: {
            "customers_50": {"per_s": 31.7, "server_cpu_ms_per_ask": 45.3},
            "customers_1": {"p50_ms": 72.0, "server_cpu_ms_per_ask": 144.0},
        },
    }

    summary = engine_spin.spin_summary(results)

    assert f"{name}: 50 customers 31.7/s at 45.3 ms CPU/ask" in summary
    assert "one customer p50 72.0 ms at 144.0 ms CPU/ask" in summary
    assert engine_spin.ROWS[1][0] not in summary  # a row not measured is not reported
    assert "chose int8" in summary


def test_the_bench_is_skipped_without_banking77(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine_spin, "services_unreachable", lambda *_: None)
    monkeypatch.setattr(engine_spin, "asked_questions", lambda _workdir: (["a question"], ""))
    monkeypatch.setattr(engine_spin, "service_stack", None)  # no stack may be started

    out = engine_spin.main([])

    assert out["results"] == {} and "banking77 is absent" in out["notes"]
