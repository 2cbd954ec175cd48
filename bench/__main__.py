"""Run one benchmark, print its JSON, append it with machine info and command to RESULTS.md.

    python -m bench <name> [args...]      e.g. python -m bench foundation --quick

Each bench module `bench/<name>.py` has `main(argv) -> {"title", "results", "notes"}`.
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def machine_info() -> dict[str, Any]:
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
    }
    try:
        import torch

        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
        info["cuda"] = torch.cuda.is_available()
    except ImportError:
        pass
    try:
        import faiss

        info["faiss"] = faiss.__version__
        info["faiss_gpus"] = faiss.get_num_gpus()
    except (ImportError, AttributeError):
        pass
    try:
        model = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
        info["cpu_model"] = model
    except (OSError, StopIteration):
        pass
    try:
        info["git"] = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
        ).stdout.strip()
    except OSError:
        pass
    return info


def record(name: str, argv: list[str], outcome: dict[str, Any], seconds: float) -> None:
    command = "python -m bench " + " ".join(shlex.quote(a) for a in [name, *argv])
    entry = {
        "bench": name,
        "command": command,
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds": round(seconds, 1),
        "machine": machine_info(),
        "results": outcome["results"],
    }
    lines = [
        f"\n## {outcome.get('title', name)} — {entry['when']}\n",
        f"Command: `{command}` ({entry['seconds']} s)\n",
    ]
    if outcome.get("notes"):
        lines.append(f"{outcome['notes']}\n")
    if outcome.get("table"):
        lines.append(outcome["table"] + "\n")
    lines.append("```json\n" + json.dumps(entry, indent=2, sort_keys=True) + "\n```\n")
    if not RESULTS.exists():
        RESULTS.write_text(
            "# Benchmark results\n\nAppended by `python -m bench <name>`; newest last.\n"
        )
    with RESULTS.open("a") as fh:
        fh.write("".join(lines))


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] in ("-h", "--help"):
        names = sorted(
            p.stem for p in Path(__file__).parent.glob("*.py") if not p.stem.startswith("_")
        )
        print(__doc__)
        print("available:", ", ".join(names))
        return 0
    name, argv = sys.argv[1], sys.argv[2:]
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    module = importlib.import_module(f"bench.{name}")
    started = time.monotonic()
    outcome = module.main(argv)
    elapsed = time.monotonic() - started
    print(json.dumps(outcome["results"], indent=2, sort_keys=True))
    if "--no-record" not in argv:
        record(name, argv, outcome, elapsed)
        print(f"recorded in {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
