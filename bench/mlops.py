"""Model lifecycle benchmarks: switching production versions under load, int8 vs fp32.

    python -m bench mlops [--threads 4] [--seconds 8]

Runs in a throw-away data folder (SQLite + registry). A tiny MiniLM classifier is trained
twice (two versions); client threads call `model_load(...).predict(...)` without pause while
the main thread promotes v2 and then rolls back to v1, like an ML admin on the page. Reports
requests served, failures, how long each switch took to reach the serving threads, and latency.
Then the int8 serving form of v1 is built and measured (`model_version_optimise`) and fp32/int8
throughput is timed on a larger batch.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from mlcore.classifier import TextClassifier, TrainConfig, fit
from mlcore.registry import data_hash

ROWS = [
    ("Where is my parcel, it has not arrived", "delivery"),
    ("My order still has not been delivered", "delivery"),
    ("When will the package arrive", "delivery"),
    ("Tracking says the shipment is delayed", "delivery"),
    ("The courier never came with my order", "delivery"),
    ("How long does shipping take", "delivery"),
    ("I want my money back for this item", "refund"),
    ("Please refund my purchase", "refund"),
    ("Can I get a refund for the broken product", "refund"),
    ("Return the item and give me my money back", "refund"),
    ("I was charged twice, refund one payment", "refund"),
    ("How do I request a refund", "refund"),
]


def _setup_django(data_dir: Path) -> None:
    os.environ.update(
        {
            "DATA_DIR": str(data_dir),
            "ML_MODEL_DIR": str(data_dir / "models"),
            "ML_INDEX_DIR": str(data_dir / "indices"),
            "CELERY_TASK_ALWAYS_EAGER": "1",
            "CELERY_EMBEDDED_WORKER": "0",
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "ML_MONITOR_FLUSH_SECONDS": "0",
        }
    )
    for name in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"):
        os.environ.pop(name, None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    # setup: the apps can be imported only after django.setup()
    import django

    django.setup()
    # setup: the apps can be imported only after django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _register_kind() -> None:
    # setup: the apps can be imported only after django.setup()
    from apps.mlops.kinds import ModelKind, TrainingContext, TrainOutcome, kind_register

    def train(ctx: TrainingContext) -> TrainOutcome:
        texts, labels = [t for t, _ in ROWS], [lab for _, lab in ROWS]
        config = TrainConfig(
            epochs=1,
            batch_size=4,
            max_steps=3,
            val_fraction=0.34,
            max_length=32,
            seed=int(ctx.params.get("seed", 42)),
        )
        result = fit(texts, labels, config=config, device="cpu")
        artifact = result.classifier.save(ctx.workdir / "artifact")
        with (artifact / "eval.jsonl").open("w") as fh:
            for text, label in ROWS:
                fh.write(json.dumps({"text": text, "label": label}) + "\n")
        metrics = dict(result.metrics)
        metrics["macro_f1"] = metrics["macro"]["f1"]
        return TrainOutcome(
            artifact_dir=artifact,
            metrics=metrics,
            data_hash=data_hash(ROWS),
            data_size=len(ROWS),
            label_distribution=dict(Counter(labels)),
            params=dict(ctx.params),
        )

    kind_register(
        ModelKind(
            name="bench-intent",
            title="Bench intents",
            loader=lambda p: TextClassifier.load(p, device="cpu"),
            main_metric="macro_f1",
            tolerance=1.0,
            train=train,
            warm=False,
        )
    )


def _switch_under_load(threads: int, seconds: float) -> dict[str, Any]:
    # setup: the apps can be imported only after django.setup()
    from django.db import connection

    from apps.mlops import services

    name = "bench-intent"
    stop = threading.Event()
    served: list[tuple[float, int, float]] = []  # (time, version served, latency)
    failures: list[str] = []
    lock = threading.Lock()

    def client(i: int) -> None:
        text = ROWS[i % len(ROWS)][0]
        while not stop.is_set():
            started = time.perf_counter()
            try:
                model = services.model_load(name)
                model.predict([text])
                version = services.model_loaded_version(name) or 0
            except Exception as exc:  # counted: the point is that there are none
                with lock:
                    failures.append(f"{type(exc).__name__}: {exc}")
                continue
            with lock:
                served.append((time.monotonic(), version, time.perf_counter() - started))

    services.model_load(name)  # v1 warm, as in a running server
    workers = [threading.Thread(target=client, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    time.sleep(seconds / 3)
    t_promote = time.monotonic()
    services.model_version_promote(name=name, version=2, reason="bench")
    time.sleep(seconds / 3)
    t_rollback = time.monotonic()
    services.model_version_rollback(name=name, version=1)
    time.sleep(seconds / 3)
    stop.set()
    for w in workers:
        w.join()
    connection.close()

    def first_after(t0: float, version: int) -> float | None:
        times = [t for t, v, _ in served if t >= t0 and v == version]
        return round(min(times) - t0, 3) if times else None

    latencies = sorted(lat for _, _, lat in served)

    def pct(q: float) -> float:
        return round(1000 * latencies[min(len(latencies) - 1, int(q * len(latencies)))], 2)

    during = sorted(lat for t, _, lat in served if t_promote <= t <= t_promote + 3) or [0.0]
    return {
        "client_threads": threads,
        "seconds": seconds,
        "requests_served": len(served),
        "failed_requests": len(failures),
        "failures_sample": failures[:3],
        "promote_to_first_v2_request_s": first_after(t_promote, 2),
        "rollback_to_first_v1_request_s": first_after(t_rollback, 1),
        "requests_served_by_old_version_after_promotion": sum(
            1 for t, v, _ in served if t_promote <= t < t_rollback and v == 1
        ),
        "latency_p50_ms": pct(0.5),
        "latency_p95_ms": pct(0.95),
        "latency_max_during_switch_ms": round(1000 * during[-1], 2),
    }


def _int8_vs_fp32(batch: int) -> dict[str, Any]:
    # setup: the apps can be imported only after django.setup()
    from apps.mlops import services

    result = services.model_version_optimise(name="bench-intent", version=1, rounds=3)
    path = services.registry().artifact_path("bench-intent", 1)
    texts = [ROWS[i % len(ROWS)][0] + f" (case {i})" for i in range(batch)]
    timings = {}
    for form in ("fp32", "int8"):
        clf = TextClassifier.load(path, device="cpu", serving=form)
        clf.predict(texts[:16])
        best = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            clf.predict(texts, batch_size=32)
            best = min(best, time.perf_counter() - started)
        timings[form] = round(batch / best, 1)
    return {
        "eval_rows": result["eval_rows"],
        "optimise_speedup_on_eval": result["speedup"],
        "accuracy_change_on_eval": result["accuracy_change"],
        "macro_f1_change_on_eval": result["macro_f1_change"],
        f"fp32_texts_per_s_batch{batch}": timings["fp32"],
        f"int8_texts_per_s_batch{batch}": timings["int8"],
        f"int8_speedup_batch{batch}": round(timings["int8"] / timings["fp32"], 3),
        "int8_file_mb": round(result["int8_bytes"] / 1e6, 1),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench mlops")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=9.0)
    parser.add_argument("--batch", type=int, default=512)
    args = parser.parse_args(argv or [])
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    with tempfile.TemporaryDirectory(prefix="bench-mlops-") as tmp:
        _setup_django(Path(tmp))
        _register_kind()
        # setup: the apps can be imported only after django.setup()
        from apps.mlops import services

        started = time.monotonic()
        for seed in (1, 2):
            services.version_train_and_register(
                name="bench-intent",
                params={"seed": seed},
                promote=(seed == 1),
                log=lambda _line: None,
            )
        train_s = round(time.monotonic() - started, 1)
        switch = _switch_under_load(args.threads, args.seconds)
        optimised = _int8_vs_fp32(args.batch)
    results = {"train_two_tiny_versions_s": train_s, **switch, **optimised}
    ok = switch["failed_requests"] == 0
    notes = (
        f"Version switch under load: {switch['requests_served']} requests from "
        f"{args.threads} threads, {switch['failed_requests']} failed "
        f"({'target met: zero failures' if ok else 'TARGET MISSED: requests failed'}); the "
        "new version reached the serving threads "
        f"{switch['promote_to_first_v2_request_s']} s after promotion (the load of the new "
        "MiniLM classifier, done once while the old one kept answering). int8 vs fp32 is "
        "dynamic quantisation of the Linear layers, measured on the CPU of this machine "
        "(shared with other jobs, so throughput numbers are noisy)."
    )
    return {
        "title": "Model lifecycle: version switch under load, int8 vs fp32",
        "results": results,
        "notes": notes,
    }


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:]), indent=2))
