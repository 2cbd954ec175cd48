"""A terminal progress printer for training commands: bar, epoch/step, loss, validation, ETA.

version_train_and_register(name="sentiment", params=p, promote=True,
                           progress=TerminalProgress(stream=self.stdout))
"""

from __future__ import annotations

import dataclasses
import sys
from typing import Any, TextIO


def _duration(seconds: float | None) -> str:
    if seconds is None or seconds != seconds:  # NaN before the first step
        return "--:--"
    seconds = int(max(0, seconds))
    hours, rest = divmod(seconds, 3600)
    return (
        f"{hours}:{rest // 60:02d}:{rest % 60:02d}"
        if hours
        else f"{rest // 60:02d}:{rest % 60:02d}"
    )


class TerminalProgress:
    """Callable progress sink: redraws one line on a terminal, prints a line per epoch."""

    def __init__(self, stream: TextIO | Any = None, width: int = 28) -> None:
        self.stream = stream or sys.stdout
        self.width = width
        self.lines: list[str] = []
        isatty = getattr(self.stream, "isatty", None)
        # Django's OutputWrapper wraps the real stream; ask the wrapped one.
        inner = getattr(self.stream, "_out", None)
        if inner is not None and hasattr(inner, "isatty"):
            isatty = inner.isatty
        self.tty = bool(isatty and isatty())
        self._last_step_line = ""

    def __call__(self, event: Any) -> None:
        if dataclasses.is_dataclass(event) and not isinstance(event, type):
            event = dataclasses.asdict(event)
        line = self.format(event)
        if event.get("phase") == "epoch":
            self._write(line, final=True)
        elif self.tty:
            self._write(line, final=False)
        else:
            self._last_step_line = line

    def format(self, event: dict[str, Any]) -> str:
        step, total = int(event.get("step") or 0), int(event.get("total_steps") or 0)
        share = step / total if total else 0.0
        filled = round(self.width * share)
        bar = "#" * filled + "-" * (self.width - filled)
        parts = [
            f"[{bar}] {share * 100:5.1f}%",
            f"epoch {event.get('epoch', '?')}/{event.get('epochs', '?')}",
            f"step {step}/{total or '?'}",
        ]
        if event.get("loss") is not None:
            parts.append(f"loss {float(event['loss']):.4f}")
        if event.get("val_macro_f1") is not None:
            parts.append(f"val F1 {float(event['val_macro_f1']):.4f}")
        if event.get("val_accuracy") is not None:
            parts.append(f"val acc {float(event['val_accuracy']):.4f}")
        parts.append(f"elapsed {_duration(event.get('elapsed_s'))}")
        parts.append(f"ETA {_duration(event.get('eta_s'))}")
        return "  ".join(parts)

    def _write(self, line: str, *, final: bool) -> None:
        if self.tty:
            self.stream.write("\r\x1b[2K" + line + ("\n" if final else ""))
        else:
            self.stream.write(line + "\n")
        self.lines.append(line)
        flush = getattr(self.stream, "flush", None)
        if flush:
            flush()
