"""Uploaded files of documents and of labelled sentences, ingested as import jobs.

A file is read twice, each time as a stream: first to count its rows (over UPLOAD_MAX_ROWS, or
unusable as a whole: refused, nothing stored), then to store them in batches. A small file is
ingested within the request; a larger one by `import_job_run_task`, which the page and the API
follow through the job row. Document uploads keep every good row and skip known ones, as the
push API does; a labelled set is stored whole, in one transaction, or not at all.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from apps.core.upload_jobs import (
    JobDone,
    job_progress,
    job_run,
    job_start,
    upload_kept,
    upload_max_rows,
)
from mlcore.text import content_hash

from . import services, training_data
from .models import Document, ImportJob, LabelledSet, Source
from .text import language_guess
from .uploads import (
    DocumentRow,
    LineError,
    UploadError,
    documents_iter,
    labelled_iter,
)

log = logging.getLogger(__name__)

BATCH = 1000
CHECK_ROWS = 50  # rows a request reads of a file it hands to a background job


@dataclass(frozen=True)
class ImportOutcome:
    """What a job stored; the whole of it for the request that ran the job inline."""

    job: ImportJob
    created_ids: list[int] = field(default_factory=list)
    errors: list[LineError] = field(default_factory=list)
    labelled_set: LabelledSet | None = None
    sentences: int = 0  # stored in the labelled set


class _Count(list[LineError]):
    """A line-error sink that only counts them (the first reading of a file)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen = 0

    def append(self, item: LineError) -> None:
        self.seen += 1

    def __len__(self) -> int:
        return self.seen

    def __bool__(self) -> bool:
        return self.seen > 0


def _rows(job: ImportJob, stream: IO[bytes], errors: list[LineError]) -> Iterator[Any]:
    if job.kind == ImportJob.Kind.DOCUMENTS:
        return documents_iter(stream, job.filename, errors)
    return labelled_iter(stream, job.filename, errors)


def _rows_count(job: ImportJob, stream: IO[bytes]) -> int:
    """Data rows of the file (good and bad); UploadError when it is unusable or too long."""
    cap = upload_max_rows()
    errors = _Count()
    good = 0
    for _ in _rows(job, stream, errors):
        good += 1
        if good + errors.seen > cap:
            break
    if good + errors.seen > cap:
        raise UploadError(f"the file has more than {cap} rows (UPLOAD_MAX_ROWS)")
    return good + errors.seen


# -- services --------------------------------------------------------------------------------------
def import_job_run(*, job_id: int, reraise: bool = False) -> ImportOutcome | None:
    """Ingest a job's file; None when another worker has the job or it is finished. A server
    error fails the job (documents stored before it are kept; a labelled set is not stored)
    and, with `reraise`, goes on up (a request answers 500, not a refusal of the file)."""
    ran = job_run(ImportJob, job_id, _job_work, refused=UploadError, reraise=reraise)
    if ran is None:
        return None
    job, outcome = ran
    return outcome or ImportOutcome(job)


def _job_work(job: ImportJob) -> JobDone[ImportOutcome]:
    with Path(job.path).open("rb") as stream:
        job_progress(ImportJob, job.pk, rows_total=_rows_count(job, stream))
        if job.kind == ImportJob.Kind.DOCUMENTS:
            outcome = _documents_store(job, stream)
        else:
            outcome = _labelled_store(job, stream)
    return JobDone(
        outcome,
        [{"line": e.line, "error": e.reason} for e in outcome.errors],
        {
            "stored": len(outcome.created_ids) or outcome.sentences,
            "result": {"labelled_set_id": outcome.labelled_set.pk} if outcome.labelled_set else {},
        },
    )


def _documents_store(job: ImportJob, stream: IO[bytes]) -> ImportOutcome:
    source_id = int(job.params["source_id"])
    errors: list[LineError] = []  # the file's bad lines, as the reader meets them
    refused: list[LineError] = []  # rows the database cannot take
    created: list[int] = []
    duplicates = good = 0
    rows = documents_iter(stream, job.filename, errors)
    while batch := list(itertools.islice(rows, BATCH)):
        result = documents_bulk_ingest(source_id=source_id, rows=batch)
        created += result.created_ids
        duplicates += result.duplicates
        refused += [LineError(e["line"], e["error"]) for e in result.errors]
        good += len(batch)
        job_progress(
            ImportJob,
            job.pk,
            rows_done=good + len(errors),
            stored=len(created),
            duplicates=duplicates,
        )
    job_progress(ImportJob, job.pk, rows_done=good + len(errors))
    return ImportOutcome(job, created, sorted(errors + refused, key=lambda e: e.line))


def documents_bulk_ingest(
    *, source_id: int, rows: list[DocumentRow], now: datetime | None = None
) -> services.IngestResult:
    """`services.documents_ingest` for a batch of rows: known ones (same external id in the
    source, same URL or same text, in the database or earlier in the batch) are skipped, the
    rest inserted at once and queued for scoring."""
    now = now or timezone.now()
    source = Source.objects.get(pk=source_id)
    errors: list[dict[str, Any]] = []
    candidates: list[tuple[DocumentRow, str]] = []
    for row in rows:
        if problem := services.row_unstorable(row):
            errors.append({"line": row.line, "error": problem})
        else:
            candidates.append((row, content_hash(row.title, row.body, normalised=True)))
    known = Document.objects.filter(
        Q(content_hash__in=[d for _, d in candidates])
        | Q(url__in=[r.url for r, _ in candidates if r.url])
        | Q(
            source_id=source_id,
            external_id__in=[r.external_id for r, _ in candidates if r.external_id],
        )
    ).values_list("content_hash", "url", "source_id", "external_id")
    hashes: set[str] = set()
    urls: set[str] = set()
    external_ids: set[str] = set()
    for digest, url, doc_source_id, external_id in known:
        hashes.add(digest)
        urls.add(url)
        if doc_source_id == source_id:
            external_ids.add(external_id)
    fresh: list[tuple[DocumentRow, Document]] = []
    duplicates = 0
    for row, digest in candidates:
        if (
            digest in hashes
            or (row.url and row.url in urls)
            or (row.external_id and row.external_id in external_ids)
        ):
            duplicates += 1
            continue
        hashes.add(digest)  # a repeat later in the file is a duplicate too
        urls.add(row.url)
        external_ids.add(row.external_id)
        fresh.append((row, _document(source, row, digest, now)))
    try:
        with transaction.atomic():
            stored = Document.objects.bulk_create([doc for _, doc in fresh])
            created = [doc.pk for doc in stored]
            if created:
                Source.objects.filter(pk=source_id).update(
                    items_total=F("items_total") + len(created)
                )
                services.documents_score_enqueue(document_ids=created)
    except IntegrityError:
        # A concurrent ingest stored one of them first: row by row, which skips that one.
        result = services.documents_ingest(
            source_id=source_id, rows=[row for row, _ in fresh], now=now
        )
        return services.IngestResult(
            result.created_ids, duplicates + result.duplicates, errors + result.errors
        )
    return services.IngestResult(created, duplicates, errors)


def _document(source: Source, row: DocumentRow, digest: str, now: datetime) -> Document:
    return Document(
        source=source,
        external_id=row.external_id,
        url=row.url,
        title=row.title,
        body=row.body,
        published_at=min(row.published_at or now, now),
        language=row.language or language_guess(f"{row.title} {row.body}", source.language),
        content_hash=digest,
    )


def _labelled_store(job: ImportJob, stream: IO[bytes]) -> ImportOutcome:
    result = training_data.labelled_set_store(
        name=str(job.params.get("name", "")),
        stream=stream,
        filename=job.filename,
        user_id=job.created_by_id,
    )
    job_progress(ImportJob, job.pk, duplicates=result.duplicates, rows_done=job.rows_total or 0)
    return ImportOutcome(job, [], result.errors, result.labelled_set, result.stored)


def upload_accept(
    *,
    upload: UploadedFile,
    kind: str,
    user: Any = None,
    name: str = "",
    source_name: str = "",
    source_id: int | None = None,
) -> ImportOutcome | ImportJob:
    """Keep an uploaded file as an import job: a small one is ingested now (its outcome), a
    larger one queued (the job). Documents go to `source_id`, else to the upload source called
    `source_name` (made when the file's first rows are usable). UploadError (or
    services.SourceNameTaken) when the file is unusable, with nothing stored."""
    with upload_kept(upload, folder="sentiment") as path:
        job = ImportJob(
            kind=kind,
            filename=(upload.name or path.name)[:255],
            path=str(path),
            size_bytes=path.stat().st_size,
            params={"name": name} if kind == ImportJob.Kind.LABELLED_SET else {},
            created_by=user if getattr(user, "pk", None) else None,
        )
        with path.open("rb") as stream:  # the header and the first rows, before anything else
            for _ in itertools.islice(_rows(job, stream, []), CHECK_ROWS):
                pass
        if kind == ImportJob.Kind.DOCUMENTS:
            if source_id is None:
                source = services.source_get_or_create(name=source_name, kind=Source.Kind.UPLOAD)
                source_id = source.pk
            job.params = {"source_id": source_id}
    job.save()
    # cycle: the tasks module imports this one
    from .tasks import import_job_run_task

    started = job_start(job, work=_job_work, refused=UploadError, task=import_job_run_task)
    return started[1] or started[0]  # the outcome when it ran now, else the queued job


# -- selectors -------------------------------------------------------------------------------------
def import_job_get(*, job_id: int) -> ImportJob | None:
    return ImportJob.objects.filter(pk=job_id).first()
