"""Thread spinning in the web process: server CPU per ask with each runtime's pool threads
spinning or sleeping between calls, for the intent model in torch int8 and in onnx-int8.

    python -m bench engine_spin                 # 4 rows, 10 s of 50 customers + 6 s of one
    python -m bench engine_spin --seconds 4     # a smoke run

The set-up is bench/engine_load's (a throw-away PostgreSQL database and Redis db, the demo help
centre, the support-intent model fine-tuned for a few steps on banking77 with its serving forms
exported and measured). Each row serves the same model version in one form
(`model_version_serving_form_set`), starts one daphne process with batching on and the row's
spinning settings, then asks POST /api/support/ask/: 50 customers back to back, then one
customer. The figure that matters is the web process's CPU per answered ask (all its threads):
unlike rates it does not depend on what else the cores are doing.

Spinning settings: torch's OpenMP threads by `OMP_WAIT_POLICY` (ACTIVE spins, PASSIVE sleeps;
the web process defaults to PASSIVE, config/asgi.py) and ONNX Runtime's by `ML_ORT_SPIN` (1
spins; the default 0 does not, mlcore/serving/sessions.py). The embedder is served in its
automatic form in every row, under the row's settings.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.engine_load import (
    CUSTOMERS,
    _closed_loop,
    _measured,
    _served,
    asked_questions,
    support_set_up,
)
from bench.stack import POSTGRES_URL, service_stack, services_unreachable

# (row name, intent model form, torch OpenMP wait policy, ONNX Runtime spinning)
ROWS: tuple[tuple[str, str, str, str], ...] = (
    ("int8, torch spins", "int8", "ACTIVE", "0"),
    ("int8, nothing spins", "int8", "PASSIVE", "0"),
    ("onnx-int8, ORT spins", "onnx-int8", "PASSIVE", "1"),
    ("onnx-int8, nothing spins", "onnx-int8", "PASSIVE", "0"),
)
FORM_SET = """
from apps.mlops.models import ModelVersion
from apps.mlops.services import model_version_serving_form_set
from apps.support.intent import INTENT_MODEL
row = ModelVersion.objects.filter(name=INTENT_MODEL).latest("version")
model_version_serving_form_set(name=INTENT_MODEL, version=row.version, form={form!r}, force=True)
print("ready", {form!r})
"""


def row_env(omp: str, ort_spin: str) -> dict[str, str]:
    """A row's web-process environment: batching on, the row's spinning settings."""
    return {"ML_BATCHING": "1", "OMP_WAIT_POLICY": omp, "ML_ORT_SPIN": ort_spin}


def main(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="bench engine_spin")
    parser.add_argument("--seconds", type=float, default=10.0, help="50 customers per row")
    parser.add_argument("--ensemble", type=int, default=2, help="intent model members (prod: 2)")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/3")
    parser.add_argument("--no-record", action="store_true", help="do not append to RESULTS.md")
    args = parser.parse_args(argv)
    problem = services_unreachable(POSTGRES_URL, args.redis)
    if problem:
        raise SystemExit(problem)
    workdir = Path(tempfile.mkdtemp(prefix="bench-engine-spin-"))
    questions, train = asked_questions(workdir)
    if not train:
        return {
            "title": "Engine: thread spinning in the web process",
            "results": {},
            "notes": "skipped: banking77 is absent, so there is no intent model to serve",
        }
    results: dict[str, Any] = {"load_average_at_start": [round(v, 1) for v in os.getloadavg()]}
    with service_stack(
        postgres_url=POSTGRES_URL, redis_url=args.redis, workdir=workdir, prefix="bench_spin"
    ) as stack:
        results["optimiser_choice"] = support_set_up(stack, train, args.ensemble, True)
        for i, (name, form, omp, ort_spin) in enumerate(ROWS):
            stack.manage("shell", "-c", FORM_SET.format(form=form))
            server = f"row{i}"
            base = _served(stack, server, row_env(omp, ort_spin), questions, 1)
            print(f"== {name}", file=sys.stderr, flush=True)
            many = _measured(stack, server, _closed_loop(base, CUSTOMERS, args.seconds, questions))
            one = _measured(stack, server, _closed_loop(base, 1, args.seconds * 0.6, questions))
            stack.stop(server)
            results[name] = {
                "form": form,
                "OMP_WAIT_POLICY": omp,
                "ML_ORT_SPIN": ort_spin,
                "customers_50": many,
                "customers_1": one,
            }
    results["load_average_at_end"] = [round(v, 1) for v in os.getloadavg()]
    return {
        "title": "Engine: thread spinning in the web process",
        "results": results,
        "notes": spin_summary(results),
    }


def spin_summary(results: dict[str, Any]) -> str:
    """One line per row: 50-customer throughput and CPU per ask, one customer's p50 and CPU."""
    lines = []
    for name, *_ in ROWS:
        row = results.get(name)
        if not row:
            continue
        many, one = row["customers_50"], row["customers_1"]
        lines.append(
            f"{name}: {CUSTOMERS} customers {many.get('per_s')}/s at "
            f"{many.get('server_cpu_ms_per_ask')} ms CPU/ask; one customer p50 "
            f"{one.get('p50_ms')} ms at {one.get('server_cpu_ms_per_ask')} ms CPU/ask"
        )
    return (
        "; ".join(lines)
        + f". The optimiser chose {results.get('optimiser_choice')} for the intent model. "
        "One daphne process, batching on; server, load generator, PostgreSQL and Redis share the "
        "machine's cores (load averages in the results); CPU per ask is the web process's own."
    )


if __name__ == "__main__":
    import json

    print(json.dumps(main(sys.argv[1:]), indent=2))
