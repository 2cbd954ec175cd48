"""Concurrent load on the ask path through daphne, micro-batching off and on in the same run.

    python -m bench engine_load                  # closed loop, open loop, scaling curves
    python -m bench engine_load --quick          # short runs, a smoke test

A throw-away PostgreSQL database and Redis db (bench/stack.py) hold the demo help centre; the
support-intent model is fine-tuned for a few steps on banking77 (../shared/datasets; without it
the asks run without an intent model, and the notes say so). daphne serves config.asgi once with
ML_BATCHING=0 and once with ML_BATCHING=1; a bounded asyncio load generator on 127.0.0.1 asks
POST /api/support/ask/ (the composer behind the live chat: query embedding, retrieval, intent).

The intent model's serving forms are exported and measured first, as a worker does after a
promotion (`--no-forms` serves fp32 torch). `--web-processes N` starts N daphne processes on one
listening socket (bench/stack.py), each batching its own requests. Every run records the web
processes' CPU time per answered ask (`server_cpu_ms_per_ask`): unlike rates and latencies on a
shared machine, it does not depend on what else the cores are doing.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psutil

from bench.stack import POSTGRES_URL, ServiceStack, service_stack, services_unreachable
from bench.support import BANKING77, SUPPORT_QUESTIONS, banking77_rows

CUSTOMERS = 50
OPEN_RATE_PER_CUSTOMER = 1.0  # asks per second, Poisson arrivals
MAX_IN_FLIGHT = 2000  # the generator's bound: an arrival past it is counted as shed
SETUP = """
from apps.support import demo
from apps.support.intent import INTENT_MODEL
from apps.mlops.services import model_version_optimise, version_train_and_register
kb = demo.demo_knowledge_load(log=lambda m: None)
form = "fp32 (no intent model)"
if {train!r}:
    row, _ = version_train_and_register(name=INTENT_MODEL, promote=True, override=True,
        log=lambda m: None,
        params={{"data": {train!r}, "epochs": 1, "max_steps": 4, "ensemble": {ensemble}}})
    form = "fp32"
    if {forms!r}:
        # What a worker does after a promotion: export and measure the forms, serve the
        # fastest within tolerance.
        form = model_version_optimise(name=INTENT_MODEL, version=row.version)["fastest"]["cpu"]
print("ready", kb.pk, form)
"""


def _training_csv(rows: list[tuple[str, str]], folder: Path, per_intent: int = 12) -> Path:
    """A small banking77 slice (per_intent rows of each intent): the model's size, not its
    accuracy, sets the serving cost measured here."""
    taken: dict[str, int] = {}
    path = folder / "intent-train.csv"
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text", "category"])
        for text, label in rows:
            if taken.get(label, 0) < per_intent:
                taken[label] = taken.get(label, 0) + 1
                writer.writerow([text, label])
    return path


def asked_questions(workdir: Path) -> tuple[list[str], str]:
    """The questions the load asks, and the intent model's training CSV ("" for none): 400
    banking77 questions and a slice of its training set, or SUPPORT_QUESTIONS without it."""
    if not BANKING77.exists():
        return SUPPORT_QUESTIONS, ""
    rows = banking77_rows()
    train = str(_training_csv(rows, workdir))
    return [text for text, _ in random.Random(5).sample(rows, 400)], train


# -- the server ----------------------------------------------------------------------------------
def support_set_up(stack: ServiceStack, train: str, ensemble: int, forms: bool) -> str:
    """The demo help centre and, with `train`, the support-intent model in the stack's database
    (see SETUP); the form the intent model is served in."""
    ready = stack.set_up(SETUP.format(train=train, ensemble=ensemble, forms=forms))
    return ready.split(None, 1)[-1]


# -- the load generator --------------------------------------------------------------------------
async def _ask(client: Any, question: str) -> bool:
    """True when answered; False for a server error or a timeout (an overloaded server: counted
    as failed); any other answer is a fault of the bench and stops it."""
    try:
        response = await client.post("/api/support/ask/", json={"question": question})
    except httpx.TimeoutException:
        return False
    if response.status_code >= 500:
        return False
    if response.status_code != 200:
        raise RuntimeError(f"ask answered {response.status_code}: {response.text[:300]}")
    return "answer" in response.json()


def _client(base: str, connections: int) -> Any:
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return httpx.AsyncClient(base_url=base, limits=limits, timeout=120)


async def _closed_loop(
    base: str, customers: int, seconds: float, questions: list[str], warm_s: float = 2.0
) -> dict[str, Any]:
    """`customers` asking back to back; throughput and latency over `seconds` after a warm-up."""
    latencies: list[float] = []
    failed = answered_total = 0
    start = time.perf_counter() + warm_s
    stop = start + seconds
    async with _client(base, customers) as client:

        async def customer(seed: int) -> None:
            nonlocal failed, answered_total
            rng = random.Random(seed)
            while True:
                asked = time.perf_counter()
                if asked >= stop:
                    return
                answered = await _ask(client, rng.choice(questions))
                answered_total += answered
                done = time.perf_counter()
                if start <= done <= stop:  # answers given within the window count
                    if answered:
                        latencies.append(done - asked)
                    else:
                        failed += 1

        await asyncio.gather(*(customer(i) for i in range(customers)))
    # Every answer, warm-up and last answers included: what the server's CPU time was spent on.
    return {**_summary(latencies, seconds), "failed": failed, "answered_total": answered_total}


async def _open_loop(
    base: str, customers: int, rate: float, seconds: float, questions: list[str]
) -> dict[str, Any]:
    """Each customer asks at Poisson arrivals of `rate` per second, whether or not its last
    answer came; latency runs from the planned arrival (no coordinated omission)."""
    latencies: list[float] = []
    shed = failed = 0
    pending: set[asyncio.Task[None]] = set()
    start = time.perf_counter() + 0.5
    async with _client(base, 4 * customers) as client:

        async def one(planned: float, question: str) -> None:
            nonlocal failed
            if await _ask(client, question):
                latencies.append(time.perf_counter() - planned)
            else:
                failed += 1

        async def customer(seed: int) -> None:
            nonlocal shed
            rng = random.Random(seed)
            at = start + rng.expovariate(rate)
            while at < start + seconds:
                await asyncio.sleep(max(0.0, at - time.perf_counter()))
                if len(pending) >= MAX_IN_FLIGHT:
                    shed += 1
                else:
                    task = asyncio.create_task(one(at, rng.choice(questions)))
                    pending.add(task)
                    task.add_done_callback(pending.discard)
                at += rng.expovariate(rate)

        await asyncio.gather(*(customer(1000 + i) for i in range(customers)))
        if pending:
            await asyncio.gather(*pending)
    finished = time.perf_counter() - start
    out = _summary(latencies, finished)
    out["offered_per_s"] = round(customers * rate, 1)
    out["shed"] = shed
    out["failed"] = failed  # server errors (e.g. no database connection free within 30 s)
    return out


def _summary(latencies: list[float], seconds: float) -> dict[str, Any]:
    if not latencies:
        return {"asks": 0, "per_s": 0.0}
    ordered = sorted(latencies)
    return {
        "asks": len(ordered),
        "per_s": round(len(ordered) / seconds, 1),
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p95_ms": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] * 1000, 1),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] * 1000, 1),
    }


# -- the run -------------------------------------------------------------------------------------
SERVER_ENV = {"SUPPORT_ASK_RATE": "1000000/s", "DATABASE_POOL_MAX": "24"}


def _served(
    stack: ServiceStack, name: str, env: dict[str, str], questions: list[str], processes: int
) -> str:
    base = stack.web_start(name, extra_env={**SERVER_ENV, **env}, processes=processes)
    # Loads the models (in every process: connections spread over them).
    asyncio.run(_closed_loop(base, 4 * processes, 2.0 + processes, questions, warm_s=0.5))
    return base


def _server_cpu_s(stack: ServiceStack, name: str) -> float:
    """CPU seconds (user + system, all threads) the web server's processes have used so far."""
    total = 0.0
    for pid in stack.pids(name):
        times = psutil.Process(pid).cpu_times()
        total += times.user + times.system
    return total


def _measured(stack: ServiceStack, name: str, run: Any) -> dict[str, Any]:
    """`run()`'s summary plus the server's CPU time per answered ask: a load-independent cost
    (the load generator, PostgreSQL and Redis are not in it)."""
    before = _server_cpu_s(stack, name)
    out: dict[str, Any] = asyncio.run(run)
    answered = out.get("answered_total", out.get("asks", 0))
    if answered:
        spent = _server_cpu_s(stack, name) - before
        out["server_cpu_ms_per_ask"] = round(1000 * spent / answered, 1)
    return out


def _batch_sizes(log: str) -> dict[str, float]:
    """Rows per model call of each batcher, from the line it logs when the server stops."""
    found = re.findall(r"batcher (\S+): (\d+) rows in (\d+) model calls", log)
    return {name: round(int(rows) / int(calls), 2) for name, rows, calls in found}


def _plot(
    path: Path, title: str, xlabel: str, series: dict[str, list[tuple[float, float]]]
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    for label, points in series.items():
        ax.plot([x for x, _ in points], [y for _, y in points], marker="o", label=label)
    ax.set_xscale("log", base=2)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("questions answered per second")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="bench engine_load")
    parser.add_argument("--quick", action="store_true", help="short runs, no curves")
    parser.add_argument("--seconds", type=float, default=15.0, help="each closed/open-loop run")
    parser.add_argument("--curve-seconds", type=float, default=5.0, help="each point of a curve")
    parser.add_argument("--ensemble", type=int, default=2, help="intent model members (prod: 2)")
    parser.add_argument(
        "--web-processes",
        type=int,
        default=1,
        help="daphne processes sharing one listening socket, each batching its own requests",
    )
    parser.add_argument(
        "--no-forms",
        action="store_true",
        help="serve the intent model in fp32 torch instead of exporting its serving forms first "
        "(as a worker does after a promotion)",
    )
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/3")
    parser.add_argument("--no-curves", action="store_true")
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args(argv)
    seconds = 6.0 if args.quick else args.seconds
    problem = services_unreachable(POSTGRES_URL, args.redis)
    if problem:
        raise SystemExit(problem)
    results: dict[str, Any] = {"load_average_at_start": [round(v, 1) for v in os.getloadavg()]}
    notes: list[str] = []
    workdir = Path(tempfile.mkdtemp(prefix="bench-engine-load-"))
    questions, train = asked_questions(workdir)
    if not train:
        notes.append(f"{BANKING77} is absent: asks ran without an intent model.")
    with service_stack(
        postgres_url=POSTGRES_URL, redis_url=args.redis, workdir=workdir, prefix="bench_load"
    ) as stack:
        results["intent_form"] = support_set_up(stack, train, args.ensemble, not args.no_forms)
        modes = {"unbatched": {"ML_BATCHING": "0"}, "batched": {"ML_BATCHING": "1"}}
        curves: dict[str, list[tuple[float, float]]] = {}
        for mode, env in modes.items():
            base = _served(stack, mode, env, questions, args.web_processes)
            print(f"== {mode}: closed loop", file=sys.stderr, flush=True)
            results[f"closed_{mode}"] = _measured(
                stack, mode, _closed_loop(base, CUSTOMERS, seconds, questions)
            )
            print(f"== {mode}: open loop", file=sys.stderr, flush=True)
            results[f"open_{mode}"] = _measured(
                stack,
                mode,
                _open_loop(base, CUSTOMERS, OPEN_RATE_PER_CUSTOMER, seconds, questions),
            )
            results[f"single_{mode}"] = _measured(
                stack, mode, _closed_loop(base, 1, seconds / 2, questions)
            )
            if not (args.quick or args.no_curves):
                points: list[tuple[float, float]] = []
                for concurrency in (1, 5, 25, 50, 100):
                    run = asyncio.run(
                        _closed_loop(base, concurrency, args.curve_seconds, questions)
                    )
                    points.append((concurrency, run["per_s"]))
                curves[mode] = points
                results[f"concurrency_curve_{mode}"] = points
            stack.stop(mode)
            results[f"rows_per_model_call_{mode}"] = _batch_sizes(stack.log(mode))
        if not (args.quick or args.no_curves):
            by_size: list[tuple[float, float]] = []
            for size in (1, 4, 16, 64):
                name = f"batch{size}"
                base = _served(
                    stack,
                    name,
                    {"ML_BATCHING": "1", "ML_BATCH_MAX_SIZE": str(size)},
                    questions,
                    args.web_processes,
                )
                run = asyncio.run(_closed_loop(base, CUSTOMERS, args.curve_seconds, questions))
                by_size.append((size, run["per_s"]))
                stack.stop(name)
            results["batch_size_curve"] = by_size
            here = Path(__file__).resolve().parent
            _plot(
                here / "engine_load_concurrency.png",
                "Ask throughput against concurrency",
                "concurrent customers (closed loop)",
                curves,
            )
            _plot(
                here / "engine_load_batch_size.png",
                "Ask throughput against max batch size",
                f"ML_BATCH_MAX_SIZE ({CUSTOMERS} customers, closed loop)",
                {"batched": by_size},
            )
    results["load_average_at_end"] = [round(v, 1) for v in os.getloadavg()]
    closed_on, closed_off = results["closed_batched"], results["closed_unbatched"]
    ratio = closed_on["per_s"] / max(closed_off["per_s"], 1e-9)
    results["closed_speedup"] = round(ratio, 2)
    p95 = results["open_batched"].get("p95_ms", float("inf"))
    notes.append(
        f"Closed loop, {CUSTOMERS} customers back to back: batched {closed_on['per_s']}/s against "
        f"unbatched {closed_off['per_s']}/s, {ratio:.2f}x (target >= 3x: "
        f"{'met' if ratio >= 3 else 'MISSED'}). Open loop, {CUSTOMERS} customers at "
        f"{OPEN_RATE_PER_CUSTOMER}/s each (Poisson): batched p95 {p95} ms (target <= 150 ms: "
        f"{'met' if p95 <= 150 else 'MISSED'}). Settings: ML_BATCH_MAX_SIZE and "
        f"ML_BATCH_MAX_WAIT_MS at their defaults unless a curve says otherwise; intent model "
        f"{args.ensemble} member(s), served as {results['intent_form']}; "
        f"{args.web_processes} daphne process(es). Server CPU ms per ask: "
        f"unbatched {closed_off.get('server_cpu_ms_per_ask')}, batched "
        f"{closed_on.get('server_cpu_ms_per_ask')} (closed loop; all threads of the web "
        f"processes, load-independent). Server, load generator, PostgreSQL and Redis share the "
        "machine's cores; this machine has 2 cores shared with other engineers' builds and "
        "tests (load averages at start and end in the results)."
    )
    return {
        "title": "Engine: concurrent asks through daphne",
        "results": results,
        "notes": " ".join(notes),
    }
