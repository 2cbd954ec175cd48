"""Running a bench's named sections (`--only a,b`), one after another."""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable, Sequence
from typing import Any


def sections_run(
    only: str, known: Sequence[str], run: Callable[[str], None], results: dict[str, Any]
) -> None:
    """Run each section named in `only` (comma-separated) in turn. An unknown name stops the
    bench; a section that fails is printed and recorded as `<name>_error` in `results`, and
    the other sections' numbers are kept."""
    for name in only.split(","):
        if name not in known:
            raise SystemExit(f"unknown section {name!r}; choose from {tuple(known)}")
        print(f"== {name}", file=sys.stderr, flush=True)
        try:
            run(name)
        except Exception as exc:  # keep the other sections' numbers; say what failed
            traceback.print_exc()
            results[f"{name}_error"] = f"{type(exc).__name__}: {exc}"
