"""Real browser: the training run page while a run goes and after. The log box fills line by
line over the run's websocket, the elapsed time counts up, and once the run succeeds the page
shows its data snapshot."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.conftest import sign_in
from tests.integration.support import shell

pytestmark = [pytest.mark.integration, pytest.mark.slow]

STEPS = 16

# An ML admin and a queued run of the test lookup kind that logs a line every half second.
QUEUED = f"""
from apps.accounts.models import User
from apps.accounts.services import user_create
from apps.mlops.services import training_run_start
if not User.objects.filter(username="fern").exists():
    user_create(username="fern", password="fern-pass-123", roles=["ml_admin"])
run = training_run_start(
    model_name="test-lookup",
    params={{"steps": {STEPS}, "step_seconds": 0.5, "log_steps": True, "answer": "a"}},
)
print("run", run.pk)
"""

# What the page showed, each time its log, status or progress line changed.
WATCH = """
window.__seen = [];
document.addEventListener("DOMContentLoaded", () => {
  const text = (id) => document.getElementById(id).textContent;
  const note = () => window.__seen.push({
    status: text("run-status").trim(), live: text("run-live"),
    lines: text("run-log").split("\\n").filter((line) => line.trim()).length,
    log: text("run-log"), progress: text("run-progress"),
  });
  const watch = { childList: true, characterData: true, subtree: true };
  ["run-log", "run-status", "run-progress"].forEach(
    (id) => new MutationObserver(note).observe(document.getElementById(id), watch));
});
"""


@pytest.fixture
def with_test_kinds(running: Any) -> Iterator[Any]:
    """The stack with the test model kinds loaded in every process it starts."""
    running.env["ML_KIND_MODULES"] = "tests.mlops.kinds"
    yield running
    running.env.pop("ML_KIND_MODULES", None)


def _seconds(progress: str) -> int | None:
    found = re.search(r"elapsed (?:(\d+):)?(\d\d):(\d\d)", progress)
    if not found:
        return None
    hours, minutes, seconds = (int(g or 0) for g in found.groups())
    return hours * 3600 + minutes * 60 + seconds


def test_the_run_page_streams_the_log_counts_time_and_shows_the_snapshot(with_test_kinds, chromium):
    running = with_test_kinds
    run_id = shell(running, QUEUED, "run")
    base = running.start_web()
    page = chromium.new_page()
    page.add_init_script(WATCH)
    sign_in(page, base, "fern", "fern-pass-123", f"/mlops/runs/{run_id}/")
    page.locator("#run-live", has_text="live").wait_for(timeout=30000)
    assert "waiting for a worker" in page.locator("#run-progress").inner_text()

    # The page is open before the run starts; a worker now takes it.
    running.start_worker(queues="training")
    page.locator("#run-status", has_text="succeeded").wait_for(timeout=120000)
    page.locator("#run-data", has_text="rows").wait_for(timeout=30000)

    seen = page.evaluate("() => window.__seen")
    during = [s for s in seen if s["status"] == "running"]
    # The log grew while the run went, a few lines at a time, not all at the end.
    counts = sorted({s["lines"] for s in during})
    assert len(counts) >= STEPS // 2, counts
    assert any(f"step {STEPS // 2}/{STEPS}" in s["log"] for s in during)
    assert all(s["live"] == "live" for s in during)
    # The elapsed time counted up while it went.
    elapsed = [t for t in (_seconds(s["progress"]) for s in during) if t is not None]
    assert len(set(elapsed)) >= 3 and elapsed == sorted(elapsed), [s["progress"] for s in during]

    # After success: the snapshot of the data, the whole log and the result.
    assert page.locator("#run-data").inner_text().startswith("30 rows · hash ")
    assert "labels a 20, b 10" in page.locator("#run-data").inner_text()
    log = page.locator("#run-log").inner_text()
    assert f"step {STEPS}/{STEPS}" in log and "trained a lookup model answering 'a'" in log
    assert page.locator("#run-result").inner_text().startswith("Version v")
    final = _seconds(page.locator("#run-progress").inner_text())
    assert final is not None and final >= max(elapsed)
    page.close()
