"""Language backfill: rows stored before language detection existed have `language=""`; this
fills them in batches with the rule each app's writes use, and can be run again at any time.

Each product app registers its targets in its AppConfig.ready() (the apps do not import each
other); `manage.py languages_backfill` runs them in registration order (a support article before
its chunks, whose default is the article's language).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet


@dataclass(frozen=True)
class LanguageTarget:
    """One model with a `language` field: `rows()` is its queryset (with what `detect` reads
    selected), `detect(row)` the language its writes would have stored ("" when too short)."""

    label: str
    rows: Callable[[], QuerySet[Any]]
    detect: Callable[[Any], str]


@dataclass
class BackfillCount:
    label: str
    pending: int = 0  # rows with an empty language when the run started
    seen: int = 0
    filled: int = 0
    unknown: int = 0  # too short to tell: they stay empty

    def line(self) -> str:
        return (
            f"{self.label}: {self.seen}/{self.pending} rows, {self.filled} filled, "
            f"{self.unknown} too short to tell"
        )


_targets: dict[str, LanguageTarget] = {}


def language_target_register(target: LanguageTarget) -> None:
    _targets[target.label] = target


def language_targets() -> list[str]:
    return list(_targets)


def languages_backfill(
    *,
    labels: Iterable[str] | None = None,
    batch: int = 500,
    progress: Callable[[BackfillCount], None] | None = None,
) -> list[BackfillCount]:
    """Fill every empty language of the chosen targets (all by default), `batch` rows at a time
    in id order. A row written in the meantime keeps what its write stored (only rows still
    empty are updated), and a second run finds nothing to fill but the undecidable rows."""
    chosen = list(_targets) if labels is None else list(labels)
    unknown = sorted(set(chosen) - set(_targets))
    if unknown:
        raise ValueError(
            f"unknown target {unknown[0]!r}: one of {', '.join(_targets) or '(none registered)'}"
        )
    if batch < 1:
        raise ValueError("batch must be at least 1")
    return [_target_backfill(_targets[label], batch, progress) for label in chosen]


def _target_backfill(
    target: LanguageTarget, batch: int, progress: Callable[[BackfillCount], None] | None
) -> BackfillCount:
    empty = target.rows().filter(language="")
    count = BackfillCount(target.label, pending=empty.count())
    last = 0
    while rows := list(empty.filter(pk__gt=last).order_by("pk")[:batch]):
        last = rows[-1].pk
        by_language: dict[str, list[int]] = defaultdict(list)
        for row in rows:
            by_language[target.detect(row)].append(row.pk)
        count.seen += len(rows)
        count.unknown += len(by_language.pop("", []))
        for language, ids in by_language.items():
            count.filled += _fill(empty, ids, language)
        if progress is not None:
            progress(count)
    return count


def _fill(empty: QuerySet[Any], ids: Sequence[int], language: str) -> int:
    # A plain UPDATE: no save() side effects (timestamps, re-embedding, rescoring).
    return int(empty.model.objects.filter(pk__in=ids, language="").update(language=language))
