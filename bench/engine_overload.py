"""Overload on the ask path through daphne: more questions in flight than the database pool.

    python -m bench engine_overload                   # 50 customers at 1 ask/s each, pool of 8
    python -m bench engine_overload --quick           # short runs, a smoke test

Open loop (Poisson arrivals, latency from the planned arrival, as `engine_load`): the issue's
50 customers asking about once a second, more than one daphne process answers on a small
machine, against three servers in the same run:

- `held`: the behaviour before (DATABASE_POOL_RELEASE_ON_WAIT=0, no bound): a question keeps
  its pooled connection through the model wait; those beyond the pool wait for one up to
  DATABASE_POOL_TIMEOUT_S and then fail with a 500.
- `released`: the connection goes back to the pool during the model wait, no bound: no 500s,
  but the queue grows for as long as the offered load exceeds what the models answer.
- `bounded`: released, and past ML_MAX_WAITING_REQUESTS (`--bound`, the default of settings)
  a question gets a 503 with Retry-After at once.

Each answer is counted as answered (200), refused (503 with Retry-After) or failed (any other
5xx, or no answer within the client's timeout). The demo help centre and the banking77 intent
model are set up as in `engine_load`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.engine_load import _summary, asked_questions, support_set_up
from bench.stack import POSTGRES_URL, service_stack, services_unreachable


async def _ask(client: httpx.AsyncClient, question: str) -> str:
    """'answered', 'refused' (a 503 with Retry-After) or 'failed' (other 5xx, a timeout)."""
    try:
        response = await client.post("/api/support/ask/", json={"question": question})
    except httpx.TimeoutException:
        return "failed"
    if response.status_code == 503 and response.headers.get("Retry-After"):
        return "refused"
    if response.status_code >= 500:
        return "failed"
    if response.status_code != 200 or "answer" not in response.json():
        raise RuntimeError(f"ask answered {response.status_code}: {response.text[:300]}")
    return "answered"


async def _open_loop(
    base: str, customers: int, rate: float, seconds: float, questions: list[str]
) -> dict[str, Any]:
    """Each customer asks at Poisson arrivals of `rate` per second whatever happened to its last
    question; the run lasts until the last question has its outcome."""
    times: dict[str, list[float]] = {"answered": [], "refused": [], "failed": []}
    pending: set[asyncio.Task[None]] = set()
    in_flight_peak = 0
    start = time.perf_counter() + 0.5
    # No bound on the client's connections: a question waiting for a free client connection
    # would hide the server's queue (and its refusals) behind the generator's own.
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=120) as client:

        async def one(planned: float, question: str) -> None:
            outcome = await _ask(client, question)
            times[outcome].append(time.perf_counter() - planned)

        async def customer(seed: int) -> None:
            nonlocal in_flight_peak
            rng = random.Random(seed)
            at = start + rng.expovariate(rate)
            while at < start + seconds:
                await asyncio.sleep(max(0.0, at - time.perf_counter()))
                task = asyncio.create_task(one(at, rng.choice(questions)))
                pending.add(task)
                task.add_done_callback(pending.discard)
                in_flight_peak = max(in_flight_peak, len(pending))
                at += rng.expovariate(rate)

        await asyncio.gather(*(customer(1000 + i) for i in range(customers)))
        if pending:
            await asyncio.gather(*pending)
    finished = time.perf_counter() - start
    out = _summary(times["answered"], finished)
    out["offered_per_s"] = round(customers * rate, 1)
    out["seconds_until_last_outcome"] = round(finished, 1)
    out["refused"] = len(times["refused"])
    out["failed"] = len(times["failed"])
    out["in_flight_peak"] = in_flight_peak
    for outcome in ("refused", "failed"):
        if times[outcome]:
            slowest = sorted(times[outcome])[
                min(len(times[outcome]) - 1, int(0.95 * len(times[outcome])))
            ]
            out[f"{outcome}_p95_ms"] = round(slowest * 1000, 1)
    return out


def main(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="bench engine_overload")
    parser.add_argument("--quick", action="store_true", help="short runs")
    parser.add_argument("--seconds", type=float, default=15.0, help="arrivals of each run")
    parser.add_argument("--customers", type=int, default=50)
    parser.add_argument("--rate", type=float, default=1.0, help="asks per second per customer")
    parser.add_argument("--pool", type=int, default=8, help="DATABASE_POOL_MAX of the server")
    parser.add_argument("--pool-timeout", type=float, default=5.0, help="DATABASE_POOL_TIMEOUT_S")
    parser.add_argument("--bound", type=int, default=100, help="ML_MAX_WAITING_REQUESTS (bounded)")
    parser.add_argument("--ensemble", type=int, default=2, help="intent model members (prod: 2)")
    parser.add_argument("--no-forms", action="store_true", help="serve the intent model in fp32")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/3")
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args(argv)
    seconds = 6.0 if args.quick else args.seconds
    problem = services_unreachable(POSTGRES_URL, args.redis)
    if problem:
        raise SystemExit(problem)
    results: dict[str, Any] = {"load_average_at_start": [round(v, 1) for v in os.getloadavg()]}
    workdir = Path(tempfile.mkdtemp(prefix="bench-engine-overload-"))
    questions, train = asked_questions(workdir)
    server = {
        "SUPPORT_ASK_RATE": "1000000/s",
        "DATABASE_POOL_MAX": str(args.pool),
        "DATABASE_POOL_TIMEOUT_S": str(args.pool_timeout),
    }
    modes = {
        "held": {"DATABASE_POOL_RELEASE_ON_WAIT": "0", "ML_MAX_WAITING_REQUESTS": "0"},
        "released": {"ML_MAX_WAITING_REQUESTS": "0"},
        "bounded": {"ML_MAX_WAITING_REQUESTS": str(args.bound)},
    }
    with service_stack(
        postgres_url=POSTGRES_URL, redis_url=args.redis, workdir=workdir, prefix="bench_overload"
    ) as stack:
        results["intent_form"] = support_set_up(stack, train, args.ensemble, not args.no_forms)
        for mode, env in modes.items():
            base = stack.web_start(mode, extra_env={**server, **env})
            # The models load on the first questions, outside the measured run.
            asyncio.run(_open_loop(base, 4, 1.0, 2.0, questions))
            print(f"== {mode}: open loop", file=sys.stderr, flush=True)
            results[mode] = asyncio.run(
                _open_loop(base, args.customers, args.rate, seconds, questions)
            )
            stack.stop(mode)
    results["load_average_at_end"] = [round(v, 1) for v in os.getloadavg()]
    held, bounded = results["held"], results["bounded"]
    notes = (
        f"Open loop, {args.customers} customers at {args.rate}/s each (Poisson, "
        f"{args.customers * args.rate:.0f}/s offered) for {seconds:.0f} s, one daphne process, "
        f"DATABASE_POOL_MAX={args.pool}, DATABASE_POOL_TIMEOUT_S={args.pool_timeout}. Before "
        f"(connection held through the model wait): {held.get('asks', 0)} answered, "
        f"{held['failed']} failed (500). Now (released, ML_MAX_WAITING_REQUESTS={args.bound}): "
        f"{bounded.get('asks', 0)} answered at p95 {bounded.get('p95_ms')} ms, "
        f"{bounded['refused']} refused with a 503 (p95 {bounded.get('refused_p95_ms')} ms), "
        f"{bounded['failed']} failed. Intent model served as {results['intent_form']}. Server, "
        "load generator, PostgreSQL and Redis share the machine's cores, which are shared with "
        "other engineers' builds and tests (load averages at start and end in the results)."
    )
    return {
        "title": "Engine: overload, more asks in flight than the pool",
        "results": results,
        "notes": notes,
    }
