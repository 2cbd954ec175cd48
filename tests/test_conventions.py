"""Conventions a newcomer can rely on, checked on every run (see CONTRIBUTING.md)."""

from __future__ import annotations

import re
from pathlib import Path

TESTS = Path(__file__).resolve().parent

# A test file is named after the module or behaviour it covers, never after the review round,
# audit or session that found the defect: those names hide where a behaviour's tests live.
ROUND_NAME = re.compile(r"(?:^|_)(?:audit|round|sprint|pass)\d+(?:_|$)|(?:^|_)audit(?:_|$)", re.I)


def test_no_test_file_is_named_after_a_review_round():
    offenders = sorted(
        str(path.relative_to(TESTS))
        for path in TESTS.rglob("test_*.py")
        if ROUND_NAME.search(path.stem.removeprefix("test_"))
    )
    assert offenders == [], f"name these after the behaviour they cover: {offenders}"


def test_the_round_name_check_recognises_what_it_forbids():
    assert ROUND_NAME.search("audit6")
    assert ROUND_NAME.search("support_audit7")
    assert ROUND_NAME.search("alerts_round2")
    assert ROUND_NAME.search("security_audit")
    assert not ROUND_NAME.search("alert_rules")
    assert not ROUND_NAME.search("background_jobs")
    assert not ROUND_NAME.search("feedback_review")


# A module holds one sub-domain; past about 400 lines it is split (CONTRIBUTING.md). 450 leaves
# room for a feature's growth before the split, and fails long before a catch-all reappears.
MODULE_MAX_LINES = 450
CODE_ROOTS = ("apps", "mlcore", "config")


def _oversized_modules(root: Path) -> list[str]:
    return sorted(
        f"{path.relative_to(root)} ({n} lines)"
        for top in CODE_ROOTS
        for path in (root / top).rglob("*.py")
        if "migrations" not in path.parts
        and (n := len(path.read_text(encoding="utf-8").splitlines())) > MODULE_MAX_LINES
    )


def test_no_module_of_the_code_exceeds_the_size_limit():
    offenders = _oversized_modules(TESTS.parent)
    assert offenders == [], f"split these by sub-domain: {offenders}"


def test_the_size_check_counts_lines_and_leaves_migrations_out(tmp_path):
    (tmp_path / "apps" / "big" / "migrations").mkdir(parents=True)
    (tmp_path / "mlcore").mkdir()
    (tmp_path / "config").mkdir()
    long = "x = 1\n" * (MODULE_MAX_LINES + 1)
    (tmp_path / "apps" / "big" / "services.py").write_text(long)
    (tmp_path / "apps" / "big" / "migrations" / "0001_initial.py").write_text(long)
    (tmp_path / "mlcore" / "small.py").write_text("x = 1\n" * MODULE_MAX_LINES)
    assert _oversized_modules(tmp_path) == [f"apps/big/services.py ({MODULE_MAX_LINES + 1} lines)"]
