"""The ASGI handler behind daphne (config/handlers.py): the middleware chain in one thread hop."""

from __future__ import annotations

import asyncio
import importlib
import os
from typing import Any

import pytest
from asgiref.sync import AsyncToSync, SyncToAsync
from asgiref.testing import ApplicationCommunicator
from django.core.handlers.asgi import ASGIHandler

from config.handlers import SyncChainASGIHandler


def _crossings_of_one_request(
    handler: ASGIHandler, path: str, monkeypatch: pytest.MonkeyPatch
) -> tuple[int, int]:
    """(status, event-loop <-> thread crossings) of one GET through `handler`."""
    crossings = 0
    for kind in (SyncToAsync, AsyncToSync):
        real = kind.__call__

        def counted(self: Any, *args: Any, _real: Any = real, **kwargs: Any) -> Any:
            nonlocal crossings
            crossings += 1
            return _real(self, *args, **kwargs)

        monkeypatch.setattr(kind, "__call__", counted)
    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"host", b"localhost")],
        "server": ("localhost", 80),
        "client": ("127.0.0.1", 5000),
        "scheme": "http",
        "http_version": "1.1",
        "asgi": {"version": "3.0"},
    }

    async def run() -> int:
        app = ApplicationCommunicator(handler, scope)
        await app.send_input({"type": "http.request", "body": b""})
        start = await app.receive_output(timeout=10)
        await app.receive_output(timeout=10)  # the body
        await app.wait(timeout=10)
        return int(start["status"])

    status = asyncio.run(run())
    monkeypatch.undo()
    return status, crossings


def test_a_request_crosses_between_event_loop_and_thread_a_few_times_not_per_middleware(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    status, ours = _crossings_of_one_request(SyncChainASGIHandler(), "/no-such-page/", monkeypatch)
    _, djangos = _crossings_of_one_request(ASGIHandler(), "/no-such-page/", monkeypatch)

    assert status == 404
    # In: the request_started signal, the chain, the 4xx log line and closing the response.
    assert ours <= 5
    assert djangos > 2 * ours  # Django's async chain crosses for each synchronous middleware


def test_the_served_application_uses_the_one_hop_handler() -> None:
    from config.asgi import application

    assert isinstance(application.application_mapping["http"], SyncChainASGIHandler)


def test_the_web_process_keeps_torch_threads_from_spinning_unless_told(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import config.asgi

    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    importlib.reload(config.asgi)
    default = os.environ["OMP_WAIT_POLICY"]
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    importlib.reload(config.asgi)

    assert default == "PASSIVE"
    assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE"
