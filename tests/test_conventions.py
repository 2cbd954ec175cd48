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
