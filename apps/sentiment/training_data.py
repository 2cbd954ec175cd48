"""Training data: imported labelled sets, and the rows the next sentiment training run uses.

The next run trains on the base file (the shipped demo set unless a file is given), then the
imported sets, then analysts' corrections; a later source replaces an earlier label of the same
sentence, so a correction always wins.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from django.db import transaction
from django.db.models import QuerySet

from apps.core.upload_jobs import upload_max_bytes

from .models import Correction, LabelledSentence, LabelledSet
from .uploads import LabelledRow, LineError, UploadError, labelled_iter

BATCH = 1000
SETS_ALL = "all"


@dataclass(frozen=True)
class LabelledSetImport:
    """What an import stored: the new set (None when no line was usable) and each bad line."""

    labelled_set: LabelledSet | None
    stored: int
    duplicates: int
    errors: list[LineError]


@dataclass(frozen=True)
class TrainingData:
    """The labelled rows of one training run and where they came from."""

    rows: list[LabelledRow]
    base: str
    base_rows: int
    sets: list[dict[str, Any]] = field(default_factory=list)
    correction_ids: list[int] = field(default_factory=list)
    corrections: int = 0  # distinct corrected sentences


# -- services --------------------------------------------------------------------------------------
def labelled_set_import(
    *, name: str, data: bytes, filename: str, user: Any = None
) -> LabelledSetImport:
    """Store the good lines of a training file held in memory as a new set (see
    labelled_set_store); uploads go through import jobs (imports.upload_accept) instead.

    UploadError when the whole file is unusable (empty, too large, no sentence/label columns).
    """
    if len(data) > upload_max_bytes():
        raise UploadError(f"the file is over {upload_max_bytes() // (1024 * 1024)} MB")
    return labelled_set_store(
        name=name,
        stream=io.BytesIO(data),
        filename=filename,
        user_id=user.pk if getattr(user, "pk", None) else None,
    )


@transaction.atomic
def labelled_set_store(
    *, name: str, stream: IO[bytes], filename: str, user_id: int | None = None
) -> LabelledSetImport:
    """Store the good lines of a training file, read as a stream, as a new set: all of them
    or (on any failure) none; a sentence repeated with the same label is a duplicate, with
    another label a line error naming the first."""
    errors: list[LineError] = []
    first_seen: dict[bytes, tuple[int, str]] = {}  # digests, not sentences: less memory
    labelled_set: LabelledSet | None = None
    batch: list[LabelledSentence] = []
    kept = duplicates = 0
    for row in labelled_iter(stream, filename, errors):
        key = hashlib.blake2b(row.sentence.encode(), digest_size=16).digest()
        seen = first_seen.get(key)
        if seen is not None:
            if seen[1] == row.label:
                duplicates += 1
            else:
                errors.append(
                    LineError(
                        row.line, f"the sentence is already on line {seen[0]} labelled {seen[1]}"
                    )
                )
            continue
        first_seen[key] = (row.line, row.label)
        if labelled_set is None:
            labelled_set = LabelledSet.objects.create(
                name=name.strip()[:200] or filename[:200] or "Labelled set",
                filename=filename[:255],
                uploaded_by_id=user_id,
            )
        batch.append(
            LabelledSentence(
                labelled_set=labelled_set, line=row.line, sentence=row.sentence, label=row.label
            )
        )
        kept += 1
        if len(batch) >= BATCH:
            LabelledSentence.objects.bulk_create(batch)
            batch = []
    LabelledSentence.objects.bulk_create(batch)
    if labelled_set is not None:
        LabelledSet.objects.filter(pk=labelled_set.pk).update(row_count=kept)
        labelled_set.row_count = kept
    errors.sort(key=lambda e: e.line)
    return LabelledSetImport(labelled_set, kept, duplicates, errors)


@transaction.atomic
def labelled_set_delete(*, set_id: int) -> bool:
    """Delete a set and its rows; False when there was no such set."""
    deleted, _ = LabelledSet.objects.filter(pk=set_id).delete()
    return deleted > 0


@transaction.atomic
def corrections_mark_used(*, correction_ids: Iterable[int], version: int) -> int:
    """Stamp the corrections a run trained on with the version it registered."""
    # Only the rows read at the start of the run: a correction made while it trained waits
    # for the next one.
    return Correction.objects.filter(pk__in=list(correction_ids), used_in_version=None).update(
        used_in_version=version
    )


# -- selectors -------------------------------------------------------------------------------------
def labelled_set_list() -> QuerySet[LabelledSet]:
    return LabelledSet.objects.select_related("uploaded_by")


def labelled_set_get(*, set_id: int) -> LabelledSet | None:
    return labelled_set_list().filter(pk=set_id).first()


def correction_counts() -> dict[str, int]:
    """Corrections in all, and those no registered version has trained on yet."""
    return {
        "total": Correction.objects.count(),
        "unused": Correction.objects.filter(used_in_version=None).count(),
    }


def corrections_latest() -> tuple[list[LabelledRow], list[int]]:
    """One row per corrected sentence (its latest label) and the ids of every correction read."""
    latest: dict[str, str] = {}
    ids: list[int] = []
    for pk, sentence, label in Correction.objects.order_by("created_at", "pk").values_list(
        "pk", "sentence", "label"
    ):
        latest[sentence] = label  # the last correction of a sentence wins
        ids.append(pk)
    return [LabelledRow(sentence, label) for sentence, label in latest.items()], ids


def set_ids_parse(value: Any) -> list[int] | None:
    """The `sets` training parameter: None for every set, else a list of ids ([] for none).

    Accepts "all", "none", a comma-separated string of ids, or a JSON list of ids.
    """
    if value is None or value == SETS_ALL:
        return None
    if value in ("none", ""):
        return []
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise UploadError('sets must be "all", "none" or a list of labelled set ids')
    try:
        return [int(str(item).strip()) for item in items]
    except ValueError:
        raise UploadError(
            f'sets must be "all", "none" or labelled set ids; got {value!r}'
        ) from None


def training_data_assemble(
    *,
    base_path: str | Path,
    base_rows: list[LabelledRow],
    set_ids: list[int] | None,
    include_corrections: bool,
) -> TrainingData:
    """The base rows, then the chosen sets (None: all), then corrections; later labels win."""
    chosen = LabelledSet.objects.order_by("pk")
    if set_ids is not None:
        chosen = chosen.filter(pk__in=set_ids)
        missing = sorted(set(set_ids) - set(chosen.values_list("pk", flat=True)))
        if missing:
            raise UploadError(f"no labelled set with id {', '.join(map(str, missing))}")
    sources: list[list[LabelledRow]] = []
    used_sets: list[dict[str, Any]] = []
    for labelled_set in chosen:
        rows = [
            LabelledRow(sentence, label)
            for sentence, label in labelled_set.rows.order_by("line").values_list(
                "sentence", "label"
            )
        ]
        sources.append(rows)
        used_sets.append({"id": labelled_set.pk, "name": labelled_set.name, "rows": len(rows)})
    corrections: list[LabelledRow] = []
    correction_ids: list[int] = []
    if include_corrections:
        corrections, correction_ids = corrections_latest()
        sources.append(corrections)
    rows = list(base_rows)
    for source in sources:
        if source:
            replaced = {r.sentence for r in source}
            rows = [r for r in rows if r.sentence not in replaced] + source
    return TrainingData(
        rows=rows,
        base=Path(base_path).name,
        base_rows=len(base_rows),
        sets=used_sets,
        correction_ids=correction_ids,
        corrections=len(corrections),
    )
