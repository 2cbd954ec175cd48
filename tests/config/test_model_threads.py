"""A web process gives each model call one thread unless it also trains (config.model_threads)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from threadpoolctl import threadpool_info

from config.model_threads import model_threads_apply, web_model_threads

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("chosen", "embedded_worker", "expected"),
    [
        (None, False, 1),  # web processes beside separate workers: one thread per call
        (None, True, 0),  # the web process trains too: the libraries' default
        (0, False, 0),
        (3, True, 3),
    ],
)
def test_threads_per_model_call_by_process_kind(chosen, embedded_worker, expected):
    settings = SimpleNamespace(ML_MODEL_THREADS=chosen, CELERY_EMBEDDED_WORKER=embedded_worker)

    assert web_model_threads(settings) == expected


def _blas_threads() -> int:
    return max(i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas")


def test_explicit_thread_variables_win(monkeypatch: pytest.MonkeyPatch):
    import torch

    torch_before, blas_before = torch.get_num_threads(), _blas_threads()
    monkeypatch.setenv("OMP_NUM_THREADS", str(torch_before))
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", str(blas_before))
    try:
        model_threads_apply(1)
        assert (torch.get_num_threads(), _blas_threads()) == (torch_before, blas_before)
        model_threads_apply(0)
        assert (torch.get_num_threads(), _blas_threads()) == (torch_before, blas_before)
    finally:
        torch.set_num_threads(torch_before)


def _process_threads(asgi: bool = True, **env: str) -> dict[str, int]:
    """Thread counts in a fresh process that loads config.asgi as daphne does, then torch."""
    code = (
        f"import json, os{', config.asgi' if asgi else ''}, numpy, torch\n"
        "from threadpoolctl import threadpool_info\n"
        "blas = [i['num_threads'] for i in threadpool_info() if i['user_api'] == 'blas']\n"
        "print(json.dumps({'torch': torch.get_num_threads(), 'blas': max(blas), "
        "'omp': int(os.environ.get('OMP_NUM_THREADS', '0'))}))\n"
    )
    unset = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "ML_MODEL_THREADS")
    clean = {k: v for k, v in os.environ.items() if k not in unset}
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_web_process_with_separate_workers_runs_each_model_call_on_one_thread():
    served = _process_threads(CELERY_EMBEDDED_WORKER="0")
    training_too = _process_threads(CELERY_EMBEDDED_WORKER="1")
    plain = _process_threads(asgi=False)  # torch's own default on this machine

    assert served == {"torch": 1, "blas": 1, "omp": 1}
    assert training_too == plain  # the libraries' own defaults
    assert plain["omp"] == 0
