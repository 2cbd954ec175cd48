"""API fuzz run: schemathesis against /api/schema/ as anonymous and as every demo role.

    python -m bench fuzz [--max-examples 10] [--seed 1] [--roles anonymous,admin,...]
                         [--database-url postgres://...] [--max-time 120] [--no-record]

Outside the test suite and outside the project's requirements: schemathesis (pinned below) is
installed into a throwaway virtual environment (var/fuzz/venv, reused by later runs). Each run
gets a fresh data folder var/fuzz/run-<time>/ (SQLite there unless --database-url names a
throwaway database: it is migrated and filled with demo data, never a real one), loads the demo
users and data without training models, serves the suite with daphne on 127.0.0.1 (a free port,
loopback only), takes an API token per role and runs schemathesis once per role with a bounded
number of examples per operation. Reports (JSON, JUnit, stdout) and summary.md land in the run
folder; 5xx answers are listed by operation.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.stack import ServiceStack

SCHEMATHESIS = "schemathesis==4.32.5"
ROOT = Path(__file__).resolve().parent.parent
FUZZ_DIR = ROOT / "var" / "fuzz"
ROLES = ["anonymous", "admin", "agent", "analyst", "merchandiser", "mladmin"]
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
]
# Environment a fuzz run must never inherit: it would point the server at real services.
UNSAFE_ENV = ["DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "EMAIL_URL", "DJANGO_ENV"]


def _venv(path: Path) -> Path:
    exe = path / "bin" / "schemathesis"
    marker = path / "installed.txt"
    installed = marker.read_text().strip() if marker.exists() else ""
    if not exe.exists() or installed != SCHEMATHESIS:
        subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
        subprocess.run(
            [str(path / "bin" / "python"), "-m", "pip", "install", "-q", SCHEMATHESIS], check=True
        )
        marker.write_text(SCHEMATHESIS + "\n")
    return exe


def _server_env(run_dir: Path, database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in UNSAFE_ENV}
    env.update(DATA_DIR=str(run_dir / "data"), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


TOKENS_SCRIPT = """
import json
from apps.accounts.management.commands.demo_setup import DEMO_USERS
from apps.accounts.models import User
from apps.accounts.services import token_get_or_create
users = {u: User.objects.get(username=u) for u, _, _ in DEMO_USERS}
print(json.dumps({u: token_get_or_create(user=user) for u, user in users.items()}))
"""


def _summarise(role: str, report_dir: Path, rc: int) -> dict[str, Any]:
    """Cases, answers and failed checks from schemathesis's NDJSON report of one role's run."""
    cases = 0
    statuses: Counter[str] = Counter()
    failures: dict[str, set[str]] = {}
    server_errors: set[str] = set()
    operations: set[str] = set()
    for path in report_dir.glob("*.ndjson"):
        for line in path.read_text().splitlines():
            finished = json.loads(line).get("ScenarioFinished")
            if not finished:
                continue
            recorder = finished.get("recorder") or {}
            label = recorder.get("label") or "?"
            operations.add(label)
            cases += len(recorder.get("cases") or {})
            for interaction in (recorder.get("interactions") or {}).values():
                code = (interaction.get("response") or {}).get("status_code")
                statuses[str(code)] += 1
                if isinstance(code, int) and code >= 500:
                    server_errors.add(f"{label} -> {code}")
            for checks in (recorder.get("checks") or {}).values():
                for check in checks:
                    if check.get("status") == "success":
                        continue
                    info = (check.get("failure_info") or {}).get("failure") or {}
                    title = info.get("title") or check.get("name", "?")
                    failures.setdefault(label, set()).add(f"{info.get('code', '')} {title}".strip())
    return {
        "role": role,
        "exit_code": rc,
        "operations": len(operations),
        "cases": cases,
        "statuses": dict(sorted(statuses.items())),
        "failing_operations": len(failures),
        "failures": {op: sorted(names) for op, names in sorted(failures.items())},
        "server_errors": sorted(server_errors),
    }


def _run_meta(args: argparse.Namespace, roles: list[str]) -> dict[str, Any]:
    return {
        "schemathesis": SCHEMATHESIS.split("==")[1],
        "database": "PostgreSQL" if args.database_url.startswith("postgres") else "SQLite",
        "max_examples": args.max_examples,
        "max_time_per_role_s": args.max_time or None,
        "seed": args.seed,
        "checks": CHECKS,
        "roles": roles,
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _fuzz(
    args: argparse.Namespace, argv: list[str], roles: list[str], run_dir: Path
) -> list[dict[str, Any]]:
    schemathesis = _venv(args.venv)
    run_dir.mkdir(parents=True)
    meta = {**_run_meta(args, roles), "command": "python -m bench fuzz " + " ".join(argv)}
    (run_dir / "run.json").write_text(json.dumps(meta, indent=2) + "\n")
    # The management commands, then the benches' one daphne start-up (its log: run_dir/server.log).
    stack = ServiceStack(env=_server_env(run_dir, args.database_url), log_dir=run_dir)
    stack.manage("migrate", "--noinput")
    stack.manage("demo_setup", "--no-train")
    tokens: dict[str, str] = json.loads(stack.manage("shell", "-c", TOKENS_SCRIPT).splitlines()[-1])
    summaries = []
    try:
        base = stack.web_start("server", ready_path="/api/schema/", timeout_s=120)
        for role in roles:
            report_dir = run_dir / role
            command = [
                str(schemathesis),
                "run",
                f"{base}/api/schema/",
                "--url",
                base,
                "--checks",
                ",".join(CHECKS),
                "--max-examples",
                str(args.max_examples),
                "--seed",
                str(args.seed),
                "--workers",
                "1",
                "--request-timeout",
                "30",
                "--phases",
                "examples,coverage,fuzzing",
                "--report",
                "ndjson,junit",
                "--report-dir",
                str(report_dir),
                "--suppress-health-check",
                "all",
            ]
            if args.max_time:
                command += ["--max-time", str(args.max_time)]
            if role != "anonymous":
                command += ["--header", f"Authorization: Token {tokens[role]}"]
            started = time.monotonic()
            with (run_dir / f"{role}.txt").open("w") as out:
                rc = subprocess.run(
                    command, cwd=run_dir, stdout=out, stderr=subprocess.STDOUT
                ).returncode
            summary = _summarise(role, report_dir, rc)
            summary["seconds"] = round(time.monotonic() - started, 1)
            summaries.append(summary)
            print(json.dumps(summary), flush=True)
            (report_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    finally:
        stack.stop_all()  # SIGTERM, then SIGKILL if the in-process worker holds it past 30 s
    return summaries


def main(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench fuzz")
    parser.add_argument("--max-examples", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--roles", default=",".join(ROLES))
    parser.add_argument("--max-time", type=int, default=0, help="seconds per role (0: none)")
    parser.add_argument("--database-url", default="", help="a THROWAWAY database (default SQLite)")
    parser.add_argument("--venv", type=Path, default=FUZZ_DIR / "venv")
    parser.add_argument("--no-record", action="store_true")
    parser.add_argument(
        "--from-run", type=Path, help="summarise (and record) an earlier run folder; runs nothing"
    )
    args = parser.parse_args(argv)
    roles = [r for r in args.roles.split(",") if r]
    unknown = sorted(set(roles) - set(ROLES))
    if unknown:
        parser.error(f"unknown role {unknown[0]!r}; one of {', '.join(ROLES)}")

    if args.from_run:
        run_dir = args.from_run.resolve()
        summaries = [json.loads((run_dir / r / "summary.json").read_text()) for r in roles]
    else:
        run_dir = FUZZ_DIR / f"run-{datetime.now(UTC):%Y%m%dT%H%M%S}"
        summaries = _fuzz(args, argv, roles, run_dir)
    meta = json.loads((run_dir / "run.json").read_text())
    results = {
        **{k: v for k, v in meta.items() if k != "roles"},
        "run_dir": str(run_dir.relative_to(ROOT)),
        "cases": sum(s["cases"] for s in summaries),
        "server_errors": sorted({op for r in summaries for op in r["server_errors"]}),
        # Per role, failed checks by kind; the failing operations are in the run folder.
        "roles": [
            {
                **{k: v for k, v in s.items() if k != "failures"},
                "failures_by_kind": dict(
                    sorted(Counter(n for names in s["failures"].values() for n in names).items())
                ),
            }
            for s in summaries
        ],
    }
    rows = [
        f"| {s['role']} | {s['operations']} | {s['cases']} | {s['failing_operations']} | "
        f"{len(s['server_errors'])} | {s['seconds']} |"
        for s in summaries
    ]
    table = "\n".join(
        [
            "| role | operations | cases | failing operations | with 5xx | seconds |",
            "|---|---|---|---|---|---|",
            *rows,
        ]
    )
    (run_dir / "summary.md").write_text(table + "\n")
    (run_dir / "summary.json").write_text(json.dumps(results, indent=2) + "\n")
    return {
        "title": "API fuzz: schemathesis against /api/schema/, anonymous and every role",
        "results": results,
        "table": table,
        "notes": (
            (f"Run as `{meta['command']}`. " if meta.get("command") else "")
            + f"schemathesis {meta['schemathesis']} in a throwaway venv, {meta['database']}, run "
            f"started {meta['started']}; checks {', '.join(meta['checks'])}; "
            f"{meta['max_examples']} examples per operation (time cap per role: "
            f"{meta['max_time_per_role_s'] or 'none'} s), seed {meta['seed']}; demo data without "
            f"trained models. Answers with 5xx: "
            f"{', '.join(results['server_errors']) or 'none'}."
        ),
    }
