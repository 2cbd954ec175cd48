"""bench/sections.py: a bench's named sections run in turn; one that fails is recorded and the
others' numbers are kept; an unknown name stops the bench."""

from __future__ import annotations

from typing import Any

import pytest

from bench.sections import sections_run


def test_a_failing_section_is_recorded_and_the_next_one_still_runs() -> None:
    results: dict[str, Any] = {}
    ran: list[str] = []

    def run(name: str) -> None:
        ran.append(name)
        if name == "latency":
            raise RuntimeError("model file missing")
        results[f"{name}_ms"] = 12.5

    sections_run("latency,retrieval", ("retrieval", "latency"), run, results)

    assert ran == ["latency", "retrieval"]
    assert results == {"latency_error": "RuntimeError: model file missing", "retrieval_ms": 12.5}


def test_an_unknown_section_stops_the_bench_naming_the_known_ones() -> None:
    ran: list[str] = []

    with pytest.raises(SystemExit, match=r"unknown section 'latnecy'.*'retrieval', 'latency'"):
        sections_run("retrieval,latnecy", ("retrieval", "latency"), ran.append, {})

    assert ran == ["retrieval"]
