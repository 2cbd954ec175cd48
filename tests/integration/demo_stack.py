"""The demo's data in a stack of its own (`own_site`, a copy of the session's migrated template):
the tests of the demo's first run and of every page load it there, so the session's database
stays as the other tests expect it."""

from __future__ import annotations

from tests.integration.conftest import Stack


def demo_load(stack: Stack) -> None:
    """Load the demo without models (`demo_setup --no-train`), as bin/demo does after migrating;
    the stack's database is already migrated."""
    done = stack.manage("demo_setup", "--no-train", timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
