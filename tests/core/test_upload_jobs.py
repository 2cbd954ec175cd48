"""The frame every import job shares (sentiment uploads, catalog imports, unlabelled corpora): a
job runs once however often it is delivered; a refusal or a server error fails it with a message
and lets its file go; a small file runs within the request and a large one is queued after
commit; an upload refused while checked is not kept; jobs nobody moved are queued again.

CatalogImport stands for every job model here; the apps' own tests cover their work.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from apps.core.upload_jobs import (
    SERVER_ERROR,
    JobDone,
    job_run,
    job_start,
    jobs_requeue,
    upload_kept,
)
from apps.recommender.models import CatalogImport

pytestmark = pytest.mark.django_db


class Refused(ValueError):
    """The test work's refusal of a whole file."""


def _job(folder: Path, size: int = 10) -> CatalogImport:
    path = folder / f"{uuid.uuid4().hex}.csv"
    path.write_bytes(b"x" * size)
    return CatalogImport.objects.create(filename="items.csv", path=str(path), size_bytes=size)


def _stores_seven(job: CatalogImport) -> JobDone[str]:
    return JobDone("seven stored", [{"line": 3, "error": "no price"}], {"stored": 7})


def _refuses(job: CatalogImport) -> JobDone[str]:
    raise Refused("the CSV header lacks sku")


def _breaks(job: CatalogImport) -> JobDone[str]:
    raise RuntimeError("connection to /srv/secret lost")


def test_a_job_runs_once_and_keeps_its_counts_and_line_errors(tmp_path: Path) -> None:
    job = _job(tmp_path)
    work = mock.Mock(side_effect=_stores_seven)

    first = job_run(CatalogImport, job.pk, work, refused=Refused)
    again = job_run(CatalogImport, job.pk, work, refused=Refused)

    assert first is not None and again is None
    done, value = first
    assert value == "seven stored" and work.call_count == 1
    assert (done.status, done.stored, done.errors_total) == ("done", 7, 1)
    assert done.errors == [{"line": 3, "error": "no price"}]
    assert done.path == "" and not Path(job.path).exists()


def test_a_refused_file_fails_its_job_with_the_reason_and_is_let_go(tmp_path: Path) -> None:
    job = _job(tmp_path)

    ran = job_run(CatalogImport, job.pk, _refuses, refused=Refused)

    assert ran is not None
    failed, value = ran
    assert value is None
    assert (failed.status, failed.message) == ("failed", "the CSV header lacks sku")
    assert not Path(job.path).exists()


def test_a_server_error_fails_the_job_without_its_details_and_goes_up_when_asked(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    quiet, loud = _job(tmp_path), _job(tmp_path)
    files = [Path(quiet.path), Path(loud.path)]

    with caplog.at_level(logging.ERROR, logger="apps.core.upload_jobs"):
        ran = job_run(CatalogImport, quiet.pk, _breaks, refused=Refused)
        with pytest.raises(RuntimeError, match="secret"):
            job_run(CatalogImport, loud.pk, _breaks, refused=Refused, reraise=True)
    loud.refresh_from_db()

    assert ran is not None and ran[0].status == "failed" and ran[1] is None
    assert ran[0].message == loud.message == SERVER_ERROR
    assert loud.status == "failed"
    assert not any(file.exists() for file in files)
    assert f"catalog import {quiet.pk} failed" in caplog.text


def test_a_small_file_runs_within_the_request_and_its_refusal_reaches_the_caller(
    settings: Any, tmp_path: Path
) -> None:
    settings.UPLOAD_INLINE_MAX_BYTES = 100
    good, bad = _job(tmp_path), _job(tmp_path)
    task = mock.Mock()

    finished, value = job_start(good, work=_stores_seven, refused=Refused, task=task)
    with pytest.raises(Refused, match="lacks sku"):
        job_start(bad, work=_refuses, refused=Refused, task=task)
    bad.refresh_from_db()

    assert (finished.status, value) == ("done", "seven stored")
    assert bad.status == "failed"
    task.delay.assert_not_called()


def test_a_large_file_is_queued_once_the_request_commits(
    settings: Any, tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    settings.UPLOAD_INLINE_MAX_BYTES = 5
    job = _job(tmp_path, size=10)
    task = mock.Mock()

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        queued, value = job_start(job, work=_stores_seven, refused=Refused, task=task)
    queued_before_commit = task.delay.call_count
    for callback in callbacks:
        callback()

    assert (queued.status, value) == ("queued", None)
    assert queued_before_commit == 0
    task.delay.assert_called_once_with(job.pk)
    assert Path(job.path).exists()  # the worker reads it


def test_an_upload_refused_while_checked_is_not_kept(settings: Any, tmp_path: Path) -> None:
    settings.DATA_DIR = tmp_path

    with upload_kept(SimpleUploadedFile("a.csv", b"sku,title\n"), folder="tests") as kept:
        pass
    with (
        pytest.raises(Refused),
        upload_kept(SimpleUploadedFile("b.csv", b"title\n"), folder="tests") as refused,
    ):
        raise Refused("the CSV header lacks sku")

    assert kept.read_bytes() == b"sku,title\n"
    assert not refused.exists()
    assert sorted((tmp_path / "uploads" / "tests").iterdir()) == [kept]


def test_jobs_nobody_moved_are_queued_again_and_finished_ones_are_not(tmp_path: Path) -> None:
    lost, moving, finished = _job(tmp_path), _job(tmp_path), _job(tmp_path)
    CatalogImport.objects.filter(pk=finished.pk).update(status="done")
    an_hour_ago = timezone.now() - timedelta(hours=1)
    CatalogImport.objects.filter(pk__in=[lost.pk, finished.pk]).update(updated_at=an_hour_ago)
    task = mock.Mock()

    queued = jobs_requeue(CatalogImport, task)

    assert queued == 1
    task.delay.assert_called_once_with(lost.pk)
    assert moving.pk not in [call.args[0] for call in task.delay.call_args_list]
