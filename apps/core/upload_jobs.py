"""User data files (sentiment documents and training sets, catalog imports, unlabelled corpora)
as import jobs.

What every such upload shares: a size cap enforced before and while the body streams in
(`UPLOAD_MAX_BYTES`), the file kept under `DATA_DIR/uploads` while a job reads it (`upload_kept`
drops it again when its first rows are refused), a job row (status, counts, line errors,
progress) the page and the API follow, and the frame that runs a job (`job_start` within the
request or queued, `job_run` in a worker, `jobs_requeue` for lost ones). The apps own their job
models (built on `ImportJobBase`) and the work that reads and stores the rows.
"""

from __future__ import annotations

import functools
import logging
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Generic, TypeVar

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler
from django.db import models, transaction
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from rest_framework import status as http_status
from rest_framework.exceptions import APIException
from rest_framework.request import Request

log = logging.getLogger(__name__)

# Room for the multipart envelope and the other form fields next to the file itself.
FORM_OVERHEAD_BYTES = 64 * 1024
# A running job whose row has not moved for this long lost its worker: another may take it over
# (every import service is idempotent, so running it again stores nothing twice).
STALE_AFTER = timedelta(minutes=15)
ERRORS_KEPT = 1000  # line errors a job keeps (it counts them all)
SERVER_ERROR = "the import stopped on a server error"


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):g} MiB"


class UploadTooLarge(APIException):
    status_code = http_status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "upload_too_large"

    def __init__(self, limit: int | None = None) -> None:
        limit = upload_max_bytes() if limit is None else limit
        super().__init__(f"the file is larger than {_mib(limit)} (UPLOAD_MAX_BYTES)")


def upload_max_bytes() -> int:
    return int(settings.UPLOAD_MAX_BYTES)


def upload_max_rows() -> int:
    return int(settings.UPLOAD_MAX_ROWS)


def upload_runs_inline(size: int) -> bool:
    """Whether a file this size is ingested within the request (else by a background job)."""
    return size <= int(settings.UPLOAD_INLINE_MAX_BYTES)


class CappedUploadHandler(FileUploadHandler):
    """Refuses a body whose Content-Length is over the cap before reading it, and a file that
    streams past the cap (a missing or false Content-Length) at the chunk that crosses it."""

    def __init__(self, request: HttpRequest | None = None, limit: int | None = None) -> None:
        super().__init__(request)
        self.limit = upload_max_bytes() if limit is None else limit
        self.received = 0

    def handle_raw_input(self, *args: Any, **kwargs: Any) -> None:
        content_length = kwargs.get("content_length", args[2] if len(args) > 2 else None)
        if content_length and int(content_length) > self.limit + FORM_OVERHEAD_BYTES:
            raise UploadTooLarge(self.limit)

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        self.received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > self.limit:
            raise UploadTooLarge(self.limit)
        return raw_data  # the next handler (memory or temporary file) keeps it

    def file_complete(self, file_size: int) -> None:
        return None


def upload_cap_install(request: HttpRequest) -> None:
    """Put the capped handler first; call before anything reads the body."""
    request.upload_handlers.insert(0, CappedUploadHandler(request))


def content_length_check(request: HttpRequest | Request) -> None:
    """UploadTooLarge when the declared body is over the cap (nothing of it read yet)."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > upload_max_bytes() + FORM_OVERHEAD_BYTES:
        raise UploadTooLarge()


def capped_upload(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """For a page that takes a data file: the size cap applies before the body is read.

    Django's CSRF check reads the body, so (as Django's upload-handler documentation shows) the
    handler goes in while CSRF is exempt, and the view is then CSRF-protected as before.
    """
    protected = csrf_protect(view)

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            if request.method == "POST":
                content_length_check(request)
                upload_cap_install(request)
            return protected(request, *args, **kwargs)
        except UploadTooLarge as exc:
            return HttpResponse(f"Refused: {exc.detail}. Nothing was stored.", status=413)

    return csrf_exempt(wrapper)


class CappedUploadMixin:
    """For an API view that takes a data file: the size cap applies before the body is read."""

    def initialize_request(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Request:
        if request.method == "POST":
            upload_cap_install(request)
        request_: Request = super().initialize_request(  # type: ignore[misc]
            request, *args, **kwargs
        )
        return request_

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        if request.method == "POST":
            content_length_check(request)  # inside DRF's handling: a 413 response
        super().initial(request, *args, **kwargs)  # type: ignore[misc]


def upload_store(upload: UploadedFile, *, folder: str) -> Path:
    """Copy an upload under DATA_DIR/uploads/<folder> (chunk by chunk) for its job to read."""
    root = Path(settings.DATA_DIR) / "uploads" / folder
    root.mkdir(parents=True, exist_ok=True)
    suffix = Path(upload.name or "").suffix.lower()
    suffix = suffix if suffix.isascii() and suffix[1:].isalnum() and len(suffix) <= 8 else ""
    path = root / f"{uuid.uuid4().hex}{suffix}"
    partial = path.with_name(path.name + ".part")
    written = 0
    try:
        with partial.open("wb") as out:
            for chunk in upload.chunks():
                written += len(chunk)
                if written > upload_max_bytes():
                    raise UploadTooLarge()
                out.write(chunk)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path


def upload_discard(path: str | Path) -> None:
    if path:
        Path(path).unlink(missing_ok=True)


@contextmanager
def upload_kept(upload: UploadedFile, *, folder: str) -> Iterator[Path]:
    """Store an upload (`upload_store`) for the block to check its first rows: a refusal (any
    exception) out of the block removes the file again, so nothing of it is kept."""
    path = upload_store(upload, folder=folder)
    try:
        yield path
    except BaseException:
        upload_discard(path)
        raise


class ImportJobBase(models.Model):
    """One uploaded file being ingested: where it is, how far, and what it stored."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    filename = models.CharField(max_length=255)
    path = models.CharField(max_length=500, blank=True, help_text="the stored file while queued")
    size_bytes = models.BigIntegerField(default=0)
    params = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    rows_total = models.PositiveIntegerField(null=True, blank=True, help_text="once counted")
    rows_done = models.PositiveIntegerField(default=0)
    stored = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True, help_text="the first line errors")
    errors_total = models.PositiveIntegerField(default=0)
    message = models.TextField(blank=True, help_text="why the whole file was refused")
    result = models.JSONField(default=dict, blank=True)

    class Meta:
        abstract = True
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.filename} ({self.status})"

    @property
    def finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)

    @property
    def percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        if not self.rows_total:
            return 0
        return min(99, int(100 * self.rows_done / self.rows_total))


def _jobs(model: type[ImportJobBase]) -> models.QuerySet[Any]:
    return model._default_manager.all()


def job_claim(model: type[ImportJobBase], job_id: int) -> bool:
    """Take a queued job (or one whose worker died); False when another has it or it is done."""
    now = timezone.now()
    claimable = Q(status=ImportJobBase.Status.QUEUED) | Q(
        status=ImportJobBase.Status.RUNNING, updated_at__lt=now - STALE_AFTER
    )
    taken: int = (
        _jobs(model)
        .filter(claimable, pk=job_id)
        .update(status=ImportJobBase.Status.RUNNING, started_at=now, updated_at=now, rows_done=0)
    )
    return taken == 1


def jobs_stale(model: type[ImportJobBase]) -> list[int]:
    """Jobs nobody moved for STALE_AFTER: queued but never delivered (a broker outage), or
    running on a worker that died. Queue them again; the claim lets one run."""
    unmoved = Q(updated_at__lt=timezone.now() - STALE_AFTER)
    waiting = Q(status=ImportJobBase.Status.QUEUED) | Q(status=ImportJobBase.Status.RUNNING)
    return list(_jobs(model).filter(unmoved & waiting).values_list("pk", flat=True))


def job_enqueue(task: Any, job_id: int) -> None:
    """Queue a job's task after commit; a broker outage leaves it for jobs_stale to find."""

    def enqueue() -> None:
        try:
            task.delay(job_id)
        except Exception:
            log.exception("could not queue import job %s; the rescue task will", job_id)

    transaction.on_commit(enqueue)


def job_progress(model: type[ImportJobBase], job_id: int, **counts: int) -> None:
    _jobs(model).filter(pk=job_id).update(updated_at=timezone.now(), **counts)


def job_finish(
    model: type[ImportJobBase],
    job_id: int,
    *,
    errors: list[dict[str, Any]],
    message: str = "",
    **fields: Any,
) -> None:
    """Mark the job done (or failed, with a message) and let its file go."""
    job = _jobs(model).get(pk=job_id)
    now = timezone.now()
    _jobs(model).filter(pk=job_id).update(
        status=ImportJobBase.Status.FAILED if message else ImportJobBase.Status.DONE,
        message=message,
        errors=errors[:ERRORS_KEPT],
        errors_total=len(errors),
        finished_at=now,
        updated_at=now,
        path="",
        **fields,
    )
    upload_discard(job.path)


J = TypeVar("J", bound=ImportJobBase)
R = TypeVar("R")


@dataclass(frozen=True)
class JobDone(Generic[R]):
    """What a job's work hands back: its own value, and what the job row keeps of it."""

    value: R
    errors: list[dict[str, Any]] = field(default_factory=list)  # {"line", "error", ...}
    fields: dict[str, Any] = field(default_factory=dict)  # counts and result for the row


def job_run(
    model: type[J],
    job_id: int,
    work: Callable[[J], JobDone[R]],
    *,
    refused: type[Exception],
    reraise: bool = False,
) -> tuple[J, R | None] | None:
    """Claim a job and run its work: None when another worker has it or it is finished, else
    the finished job row and the work's value (None when the job failed). `refused` out of the
    work fails the job with its message; any other error fails it as a server error (logged)
    and, with `reraise`, goes on up: a request answers 500, not a refusal of the file."""
    if not job_claim(model, job_id):
        return None
    job = _jobs(model).get(pk=job_id)
    value: R | None = None
    try:
        done = work(job)
    except refused as exc:
        job_finish(model, job_id, errors=[], message=str(exc))
    except Exception:
        log.exception("%s %s failed", model._meta.verbose_name, job_id)
        job_finish(model, job_id, errors=[], message=SERVER_ERROR)
        if reraise:
            raise
    else:
        job_finish(model, job_id, errors=done.errors, **done.fields)
        value = done.value
    job.refresh_from_db()
    return job, value


def job_start(
    job: J, *, work: Callable[[J], JobDone[R]], refused: type[Exception], task: Any
) -> tuple[J, R | None]:
    """Start a new (saved) job: a file up to UPLOAD_INLINE_MAX_BYTES is run now, `refused`
    raised with the job's message when it fails (the finished job and the work's value
    otherwise); a larger one is queued as `task` after commit (the queued job and None)."""
    if not upload_runs_inline(job.size_bytes):
        job_enqueue(task, job.pk)
        return job, None
    ran = job_run(type(job), job.pk, work, refused=refused, reraise=True)
    assert ran is not None  # a job nobody else has seen yet
    finished, value = ran
    if finished.status == ImportJobBase.Status.FAILED:
        raise refused(finished.message)
    return finished, value


def jobs_requeue(model: type[ImportJobBase], task: Any) -> int:
    """Queue `task` again for the jobs nobody moved for a while (see jobs_stale): how many."""
    stale = jobs_stale(model)
    for job_id in stale:
        task.delay(job_id)
    return len(stale)
