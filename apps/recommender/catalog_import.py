"""Catalog imports: CSV or JSONL items, read as a stream and stored in batches.

A file is read twice: first to count its rows (over UPLOAD_MAX_ROWS, not UTF-8, or a CSV header
without the required columns: refused, nothing stored), then to store them, a batch at a time.
Good rows are created or updated by sku, bad rows reported with their line and reason, and
nothing already stored is lost: an update changes only the columns the row gives. A file over
UPLOAD_INLINE_MAX_BYTES is imported by `catalog_import_run_task`, followed through its
CatalogImport row.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.core.encodings import encoding_detect, text_open
from apps.core.upload_jobs import (
    JobDone,
    job_progress,
    job_run,
    job_start,
    upload_kept,
    upload_max_rows,
)

from .models import CatalogImport, Item
from .services import ITEM_FIELDS, KEEP_WHEN_BLANK, ItemRowError, item_clean, items_changed

log = logging.getLogger(__name__)

BATCH = 500
Rows = Iterator[tuple[int, dict[str, Any] | str]]


@dataclass(frozen=True)
class ImportResult:
    created: int
    updated: int
    errors: list[dict[str, Any]] = field(default_factory=list)


class ImportRefused(ValueError):
    """The file is unusable as a whole; nothing of it was stored."""


def _rows_iter(text: IO[str], fmt: str) -> Rows:
    """(line number, row or an error message) for every data line, read a line at a time."""
    if fmt == "jsonl":
        # Numbered as str.splitlines numbers the whole text.
        parts = (part for physical in text for part in physical.splitlines())
        for number, line in enumerate(parts, start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                yield number, f"invalid JSON: {exc.msg}"
                continue
            yield number, value if isinstance(value, dict) else "a line must be an object"
        return
    if fmt != "csv":
        raise ImportRefused("format must be csv or jsonl")
    reader = csv.DictReader(text)
    missing = {"sku", "title", "category", "price"} - set(reader.fieldnames or [])
    if missing:
        raise ImportRefused(f"the CSV header lacks {', '.join(sorted(missing))}")
    for row in reader:
        yield reader.line_num, dict(row)


def _file_rows(path: str | Path, fmt: str) -> Rows:
    with Path(path).open("rb") as raw:
        encoding = encoding_detect(raw)
        with text_open(raw, encoding, newline="" if fmt == "csv" else None) as text:
            yield from _rows_iter(text, fmt)


def _blank(path: Path) -> bool:
    with path.open("rb") as raw:
        while chunk := raw.read(64 * 1024):
            if chunk.replace(codecs.BOM_UTF8, b"").strip():
                return False
    return True


def _rows_count(rows: Rows) -> int:
    """How many data rows; ImportRefused when the file is unusable or has too many."""
    cap = upload_max_rows()
    count = 0
    try:
        for _ in rows:
            count += 1
            if count > cap:
                raise ImportRefused(f"the file has more than {cap} rows (UPLOAD_MAX_ROWS)")
    except UnicodeDecodeError:
        raise ImportRefused("the file is not UTF-8 or GB18030 text") from None
    except csv.Error as exc:
        raise ImportRefused(f"the file is not readable CSV: {exc}") from None
    return count


def _row_over(row: dict[str, Any], stored: Item | None) -> dict[str, Any]:
    """An update names only what changes: columns (or JSON keys) a row leaves out, and blank
    stock/active/boost/price cells, keep the stored item's values instead of the defaults."""
    if stored is None:
        return row
    merged = dict(row)
    for name in ITEM_FIELDS:
        value = row.get(name)
        blank = value is None or (name in KEEP_WHEN_BLANK and str(value).strip() == "")
        if name not in row or blank:
            merged[name] = getattr(stored, name)
    return merged


def _batch_store(
    batch: list[tuple[int, dict[str, Any] | str]], *, embed: bool
) -> tuple[int, int, list[Any]]:
    """Created, updated and errors of one batch; every good row saved or (on a conflict with a
    concurrent import) saved row by row."""
    good = [(line, row) for line, row in batch if isinstance(row, dict)]
    errors: list[dict[str, Any]] = [
        {"line": line, "sku": "", "error": row} for line, row in batch if isinstance(row, str)
    ]
    skus = {str(row.get("sku") or "").strip() for _, row in good}
    items = {item.sku: item for item in Item.objects.filter(sku__in=skus - {""})}
    stored = set(items)
    touched: dict[str, Item] = {}
    created = updated = 0
    for line, row in good:
        sku = str(row.get("sku") or "").strip()
        try:
            clean = item_clean(_row_over(row, items.get(sku)))
        except ItemRowError as exc:
            errors.append({"line": line, "sku": str(row.get("sku") or ""), "error": str(exc)})
            continue
        item = items.get(clean["sku"]) or Item()
        for name, value in clean.items():
            setattr(item, name, value)
        item.updated = timezone.now()
        created += int(clean["sku"] not in items)
        updated += int(clean["sku"] in items)
        items[clean["sku"]] = touched[clean["sku"]] = item
    fresh = [item for sku, item in touched.items() if sku not in stored]
    known = [item for sku, item in touched.items() if sku in stored]
    try:
        with transaction.atomic():
            Item.objects.bulk_create(fresh)
            Item.objects.bulk_update(known, [*ITEM_FIELDS, "language", "updated"])
    except IntegrityError:
        return _rows_store(good, errors, embed=embed)
    items_changed([item.pk for item in touched.values()] if embed else [])
    errors.sort(key=lambda e: e["line"])
    return created, updated, errors


def _rows_store(
    good: list[tuple[int, dict[str, Any]]], errors: list[dict[str, Any]], *, embed: bool
) -> tuple[int, int, list[Any]]:
    created = updated = 0
    changed: list[int] = []
    for line, row in good:
        sku = str(row.get("sku") or "").strip()
        try:
            clean = item_clean(_row_over(row, Item.objects.filter(sku=sku).first()))
            with transaction.atomic():
                item, was_created = Item.objects.update_or_create(sku=clean["sku"], defaults=clean)
        except (ItemRowError, IntegrityError) as exc:
            errors.append({"line": line, "sku": str(row.get("sku") or ""), "error": str(exc)})
            continue
        created += int(was_created)
        updated += int(not was_created)
        changed.append(item.pk)
    items_changed(changed if embed else [])
    errors.sort(key=lambda e: e["line"])
    return created, updated, errors


def _import(
    rows: Callable[[], Rows],
    *,
    embed: bool = True,
    progress: Callable[[int, int, int], None] | None = None,
) -> ImportResult:
    total = _rows_count(rows())
    if progress:
        progress(0, total, 0)
    created = updated = done = 0
    errors: list[dict[str, Any]] = []
    stream = rows()
    while batch := list(itertools.islice(stream, BATCH)):
        c, u, e = _batch_store(batch, embed=embed)
        created, updated, errors = created + c, updated + u, errors + e
        done += len(batch)
        if progress:
            progress(done, total, created + updated)
    return ImportResult(created=created, updated=updated, errors=errors)


# -- services --------------------------------------------------------------------------------------
def items_import(*, content: str, fmt: str, embed: bool = True) -> ImportResult:
    """Import CSV or JSONL text (see the module); ImportRefused (a ValueError) when the whole
    text is unusable."""
    newline = "\n" if fmt == "csv" else None  # as csv read the whole text before
    return _import(lambda: _rows_iter(io.StringIO(content, newline=newline), fmt), embed=embed)


def catalog_import_run(
    *, job_id: int, reraise: bool = False
) -> tuple[CatalogImport, ImportResult | None] | None:
    """Import a job's file (the job, and the whole result unless it failed); None when another
    worker has the job or it is finished."""
    return job_run(CatalogImport, job_id, _job_work, refused=ImportRefused, reraise=reraise)


def _job_work(job: CatalogImport) -> JobDone[ImportResult]:
    def progress(done: int, total: int, stored: int) -> None:
        job_progress(CatalogImport, job.pk, rows_done=done, rows_total=total, stored=stored)

    result = _import(lambda: _file_rows(job.path, job.params["fmt"]), progress=progress)
    return JobDone(
        result,
        result.errors,
        {
            "stored": result.created + result.updated,
            "result": {"created": result.created, "updated": result.updated},
        },
    )


def catalog_upload_accept(
    *, upload: UploadedFile, fmt: str, user: Any = None
) -> tuple[CatalogImport, ImportResult | None]:
    """Keep an uploaded catalog file as an import job: a small one is imported now (with its
    result), a larger one (its header checked) is queued. ImportRefused when it is unusable."""
    try:
        with upload_kept(upload, folder="recommender") as path:
            if _blank(path):
                raise ImportRefused("send a file or content")
            for _ in itertools.islice(_file_rows(path, fmt), 1):
                pass  # the header and the first row
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ImportRefused(
            "the file is not UTF-8 or GB18030 text"
            if isinstance(exc, UnicodeDecodeError)
            else str(exc)
        ) from None
    job = CatalogImport.objects.create(
        filename=(upload.name or path.name)[:255],
        path=str(path),
        size_bytes=path.stat().st_size,
        params={"fmt": fmt},
        created_by=user if getattr(user, "pk", None) else None,
    )
    # cycle: the tasks module imports this one
    from .tasks import catalog_import_run_task

    return job_start(job, work=_job_work, refused=ImportRefused, task=catalog_import_run_task)


# -- selectors -------------------------------------------------------------------------------------
def catalog_import_get(*, job_id: int) -> CatalogImport | None:
    return CatalogImport.objects.filter(pk=job_id).first()
