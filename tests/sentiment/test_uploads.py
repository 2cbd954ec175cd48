"""Uploads of documents and training sets: files as spreadsheets and exporters really write them
(Windows code pages, UTF-16, semicolons, JSON arrays, empty files, multi-line rows), size and row
caps, streamed reading, and large files ingested by an import job the page and the API follow."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from apps.core.upload_jobs import CappedUploadHandler, UploadTooLarge
from apps.sentiment import imports
from apps.sentiment.models import Document, ImportJob, LabelledSentence, LabelledSet, Source
from apps.sentiment.training_data import labelled_set_import
from apps.sentiment.uploads import UploadError, documents_iter, documents_read, labelled_iter
from mlcore.text import content_hash
from tests.sentiment.factories import DocumentFactory, SourceFactory


def _csv(rows: int, *, start: int = 0) -> bytes:
    lines = ["title,body,external_id"]
    lines += [
        f"Acme report {i},Quarter {i} results were published.,ext-{i}"
        for i in range(start, start + rows)
    ]
    return ("\n".join(lines) + "\n").encode()


def _upload(client: Any, content: bytes, name: str = "news.csv", source: str = "Bulk") -> Any:
    return client.post(
        "/api/sentiment/upload/", {"file": SimpleUploadedFile(name, content), "source": source}
    )


def _stored_files(settings: Any) -> list[Path]:
    folder = Path(settings.DATA_DIR) / "uploads"
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


@pytest.fixture
def uploads_dir(settings, tmp_path):  # type: ignore[no-untyped-def]
    settings.DATA_DIR = tmp_path
    return tmp_path / "uploads"


@pytest.fixture
def stored_before(db):  # type: ignore[no-untyped-def]
    """A document and a labelled set stored before the upload under test."""
    source = SourceFactory(name="Earlier", kind=Source.Kind.UPLOAD)
    doc = DocumentFactory(
        source=source,
        title="Kestrel cuts routes",
        body="",
        published_at=timezone.now(),
        content_hash=content_hash("Kestrel cuts routes", "", normalised=True),
    )
    labelled = labelled_set_import(
        name="Earlier set", data=b"sentence,label\nProfit rose.,positive\n", filename="a.csv"
    )
    return {"document": doc, "set": labelled.labelled_set}


def _nothing_lost(stored_before: dict[str, Any]) -> None:
    assert Document.objects.filter(pk=stored_before["document"].pk, title="Kestrel cuts routes")
    assert LabelledSet.objects.filter(pk=stored_before["set"].pk, row_count=1).exists()
    assert LabelledSentence.objects.filter(labelled_set=stored_before["set"]).count() == 1


# -- size cap --------------------------------------------------------------------------------------
def test_an_upload_over_the_size_cap_is_refused_with_nothing_stored(  # type: ignore[no-untyped-def]
    analyst_client, settings, uploads_dir, stored_before
) -> None:
    settings.UPLOAD_MAX_BYTES = 2000
    content = _csv(200)  # 11 KB: under the room left for the form, so the body streams in

    api = _upload(analyst_client, content)
    page = analyst_client.post(
        reverse("sentiment:upload"),
        {"file": SimpleUploadedFile("news.csv", content), "source": "Bulk"},
    )
    training = analyst_client.post(
        "/api/sentiment/training-sets/",
        {
            "file": SimpleUploadedFile(
                "big.csv", b"sentence,label\n" + b"Profit rose.,positive\n" * 200
            )
        },
    )

    assert api.status_code == 413, api.content[:200]
    assert "UPLOAD_MAX_BYTES" in api.json()["detail"]
    assert page.status_code == 413
    assert training.status_code == 413
    assert Document.objects.count() == 1 and LabelledSet.objects.count() == 1
    assert not Source.objects.filter(name="Bulk").exists()
    assert ImportJob.objects.count() == 0 and _stored_files(settings) == []
    _nothing_lost(stored_before)


def test_a_declared_length_over_the_cap_is_refused_before_the_body_is_read(  # type: ignore[no-untyped-def]
    analyst_client, settings, uploads_dir
) -> None:
    settings.UPLOAD_MAX_BYTES = 1000

    response = analyst_client.generic(
        "POST",
        "/api/sentiment/upload/",
        b"x" * 10,
        content_type="multipart/form-data; boundary=b",
        CONTENT_LENGTH=str(10 * 1024 * 1024),
    )

    assert response.status_code == 413
    assert Source.objects.count() == 0 and ImportJob.objects.count() == 0


def test_a_file_streaming_past_the_cap_is_stopped_at_the_chunk_that_crosses_it(settings) -> None:  # type: ignore[no-untyped-def]
    # A body without (or with a false) Content-Length: the handler counts what arrives.
    settings.UPLOAD_MAX_BYTES = 100
    handler = CappedUploadHandler()
    handler.new_file("file", "news.csv", "text/csv", None)

    assert handler.receive_data_chunk(b"x" * 60, 0) == b"x" * 60
    with pytest.raises(UploadTooLarge):
        handler.receive_data_chunk(b"x" * 60, 60)


# -- row cap ---------------------------------------------------------------------------------------
def test_a_file_over_the_row_cap_is_refused_with_nothing_stored(  # type: ignore[no-untyped-def]
    analyst_client, settings, uploads_dir, stored_before, scorer
) -> None:
    settings.UPLOAD_MAX_ROWS = 5

    documents = _upload(analyst_client, _csv(6))
    training = analyst_client.post(
        "/api/sentiment/training-sets/",
        {
            "file": SimpleUploadedFile(
                "t.txt", b"".join(b"Sales %d rose.@positive\n" % i for i in range(6))
            )
        },
    )

    assert documents.status_code == 400
    assert "more than 5 rows" in str(documents.json()["file"])
    assert training.status_code == 400 and "UPLOAD_MAX_ROWS" in str(training.json()["file"])
    assert Document.objects.count() == 1 and LabelledSet.objects.count() == 1
    assert _stored_files(settings) == []
    _nothing_lost(stored_before)
    # Within the cap, the same file is fine.
    assert _upload(analyst_client, _csv(5)).status_code == 201


# -- large files become jobs -----------------------------------------------------------------------
def test_a_large_file_becomes_a_job_that_completes_with_the_right_counts(  # type: ignore[no-untyped-def]
    analyst_client, settings, uploads_dir, stored_before, scorer, django_capture_on_commit_callbacks
) -> None:
    settings.UPLOAD_INLINE_MAX_BYTES = 1000
    content = _csv(2500) + b",,\n" + b"Kestrel cuts routes,,\n"  # a bad line and a known text

    with django_capture_on_commit_callbacks(execute=True):
        response = _upload(analyst_client, content)

    assert response.status_code == 202, response.content[:300]
    job = response.json()["job"]
    followed = analyst_client.get(job["url"]).json()
    assert followed["status"] == "done"
    assert (followed["rows_total"], followed["rows_done"]) == (2502, 2502)
    assert (followed["stored"], followed["duplicates"], followed["errors_total"]) == (2500, 1, 1)
    assert followed["errors"][0]["line"] == 2502 and followed["percent"] == 100
    bulk = Source.objects.get(name="Bulk")
    assert Document.objects.filter(source=bulk).count() == 2500
    assert Source.objects.get(pk=bulk.pk).items_total == 2500
    assert _stored_files(settings) == []  # the job let its file go
    _nothing_lost(stored_before)
    page = analyst_client.get(job["page"])
    assert page.status_code == 200 and "2500" in page.content.decode()


def test_a_large_upload_on_the_page_leads_to_its_job(  # type: ignore[no-untyped-def]
    analyst_client, settings, uploads_dir, scorer
) -> None:
    settings.UPLOAD_INLINE_MAX_BYTES = 100

    response = analyst_client.post(
        reverse("sentiment:upload"),
        {"file": SimpleUploadedFile("news.csv", _csv(20)), "source": "Bulk"},
    )

    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("sentiment:import_job", args=[job.pk])
    # While it is queued, the card asks for itself again (htmx); the fragment is what it gets.
    fragment = analyst_client.get(response["Location"], HTTP_HX_REQUEST="true")
    assert 'hx-trigger="every 2s"' in fragment.content.decode()
    assert "<html" not in fragment.content.decode()


def test_a_large_training_file_becomes_a_job_that_stores_one_whole_set(  # type: ignore[no-untyped-def]
    analyst_client, settings, uploads_dir, django_capture_on_commit_callbacks
) -> None:
    settings.UPLOAD_INLINE_MAX_BYTES = 1000
    content = b"sentence,label\n" + b"".join(b"Sales %d rose.,positive\n" % i for i in range(2100))
    content += b"Sales 1 rose.,positive\nSales 2 rose.,negative\n"

    with django_capture_on_commit_callbacks(execute=True):
        response = analyst_client.post(
            "/api/sentiment/training-sets/",
            {"file": SimpleUploadedFile("big.csv", content), "name": "Big set"},
        )

    assert response.status_code == 202
    job = analyst_client.get(response.json()["job"]["url"]).json()
    assert job["status"] == "done"
    assert (job["stored"], job["duplicates"], job["errors_total"]) == (2100, 1, 1)
    labelled = LabelledSet.objects.get(pk=job["result"]["labelled_set_id"])
    assert labelled.name == "Big set" and labelled.row_count == 2100
    assert labelled.rows.count() == 2100


def test_a_job_runs_once_however_often_its_task_is_delivered(  # type: ignore[no-untyped-def]
    analyst_client, settings, uploads_dir, scorer
) -> None:
    settings.UPLOAD_INLINE_MAX_BYTES = 100
    job = ImportJob.objects.get(pk=_upload(analyst_client, _csv(30)).json()["job"]["id"])

    first = imports.import_job_run(job_id=job.pk)
    again = imports.import_job_run(job_id=job.pk)

    assert first is not None and first.job.status == ImportJob.Status.DONE
    assert again is None
    assert Document.objects.count() == 30


def test_only_analysts_follow_import_jobs(client, analyst_client, settings, uploads_dir) -> None:  # type: ignore[no-untyped-def]
    settings.UPLOAD_INLINE_MAX_BYTES = 100
    job_id = _upload(analyst_client, _csv(30)).json()["job"]["id"]
    client.logout()

    assert client.get(f"/api/sentiment/import-jobs/{job_id}/").status_code in (401, 403)
    assert client.get(reverse("sentiment:import_job", args=[job_id])).status_code == 302


# -- a bad file loses nothing ----------------------------------------------------------------------
def test_a_file_refused_by_its_job_stores_nothing_and_loses_nothing(  # type: ignore[no-untyped-def]
    analyst_client, settings, uploads_dir, stored_before, scorer, django_capture_on_commit_callbacks
) -> None:
    # The request reads the first rows only; the job finds the file too long and refuses it.
    settings.UPLOAD_INLINE_MAX_BYTES = 100
    settings.UPLOAD_MAX_ROWS = 100

    with django_capture_on_commit_callbacks(execute=True):
        response = _upload(analyst_client, _csv(150))

    assert response.status_code == 202
    job = analyst_client.get(response.json()["job"]["url"]).json()
    assert job["status"] == "failed" and "more than 100 rows" in job["message"]
    assert Document.objects.count() == 1 and _stored_files(settings) == []
    _nothing_lost(stored_before)


def test_a_training_file_failing_midway_stores_no_part_of_it(  # type: ignore[no-untyped-def]
    monkeypatch, stored_before
) -> None:
    from apps.sentiment import training_data

    calls = {"n": 0}
    real = LabelledSentence.objects.bulk_create

    def fail_on_second_batch(objs: Any, *args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("disk full")
        return real(objs, *args, **kwargs)

    monkeypatch.setattr(LabelledSentence.objects, "bulk_create", fail_on_second_batch)
    content = b"sentence,label\n" + b"".join(b"Sales %d rose.,positive\n" % i for i in range(1500))

    with pytest.raises(RuntimeError):
        training_data.labelled_set_import(name="Half", data=content, filename="half.csv")

    assert calls["n"] == 2  # a first batch was written, then rolled back
    assert not LabelledSet.objects.filter(name="Half").exists()
    _nothing_lost(stored_before)


def test_an_unusable_large_file_is_refused_in_the_request(  # type: ignore[no-untyped-def]
    analyst_client, settings, uploads_dir, stored_before
) -> None:
    settings.UPLOAD_INLINE_MAX_BYTES = 100

    response = _upload(analyst_client, b"name,price\n" + b"x,1\n" * 100)

    assert response.status_code == 400 and "title, body or text" in response.json()["file"]
    assert ImportJob.objects.count() == 0 and _stored_files(settings) == []
    assert not Source.objects.filter(name="Bulk").exists()
    _nothing_lost(stored_before)


# -- streamed reading ------------------------------------------------------------------------------
CHUNK = 1024 * 1024


class ReadRecorder(io.BytesIO):
    """A file that records each read and refuses to be read whole in one call."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.sizes: list[int] = []

    def read(self, size: int | None = -1) -> bytes:
        assert size is not None and size >= 0, "the whole file was read at once"
        self.sizes.append(size)
        return super().read(size)

    def read1(self, size: int = -1) -> bytes:
        assert size >= 0, "the whole file was read at once"
        self.sizes.append(size)
        return super().read1(size)


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("news.csv", _csv(30_000)),
        (
            "news.jsonl",
            b"".join(
                b'{"title": "Acme %d", "body": "A longer body."}\n' % i for i in range(30_000)
            ),
        ),
        (
            "export.json",
            b"["
            + b",\n".join(
                b'{"title": "Acme %d", "body": "A longer body."}' % i for i in range(30_000)
            )
            + b"]",
        ),
    ],
)
def test_documents_are_read_from_the_file_as_a_stream(name: str, content: bytes) -> None:
    stream = ReadRecorder(content)
    errors: list[Any] = []

    rows = documents_iter(stream, name, errors)
    first = next(rows)
    rest = sum(1 for _ in rows)

    assert first.title == "Acme report 0" or first.title == "Acme 0"
    assert rest == 29_999 and errors == []
    assert max(stream.sizes) <= CHUNK < len(content)  # chunks, never the whole file


def test_training_files_are_read_from_the_file_as_a_stream() -> None:
    content = b"".join(b"Sales %d rose strongly again.@positive\n" % i for i in range(50_000))
    stream = ReadRecorder(content)

    rows = labelled_iter(stream, "phrasebank.txt", [])

    assert sum(1 for _ in rows) == 50_000
    assert max(stream.sizes) <= CHUNK < len(content)


def test_a_windows_1252_file_still_reads_as_windows_1252_when_streamed() -> None:
    # Valid UTF-8 for its first megabyte, then a cp1252 curly quote: the whole file decides.
    content = _csv(40_000) + "Acme \u201cwins\u201d,x,e-last\n".encode("cp1252")
    rows = list(documents_iter(io.BytesIO(content), "news.csv", []))

    assert len(content) > 1024 * 1024
    assert rows[-1].title == "Acme \u201cwins\u201d"


def test_the_capped_upload_pages_still_require_the_csrf_token(
    analyst, settings, uploads_dir
) -> None:  # type: ignore[no-untyped-def]
    # The size cap must go in before Django's CSRF check reads the body; the check still runs.
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(analyst)

    page = browser.post(
        reverse("sentiment:upload"),
        {"file": SimpleUploadedFile("news.csv", _csv(3)), "source": "Bulk"},
    )
    api = browser.post(
        "/api/sentiment/upload/",
        {"file": SimpleUploadedFile("news.csv", _csv(3)), "source": "Bulk"},
    )

    assert page.status_code == 403 and api.status_code == 403
    assert Document.objects.count() == 0 and ImportJob.objects.count() == 0


def test_with_the_csrf_token_the_cap_applies_before_the_csrf_check_reads_the_body(  # type: ignore[no-untyped-def]
    analyst, settings, uploads_dir, scorer
) -> None:
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(analyst)
    browser.get(reverse("sentiment:upload"))
    token = browser.cookies["csrftoken"].value
    form = {"source": "Bulk", "csrfmiddlewaretoken": token}

    settings.UPLOAD_MAX_BYTES = 2000
    refused = browser.post(
        reverse("sentiment:upload"), {**form, "file": SimpleUploadedFile("a.csv", _csv(200))}
    )
    settings.UPLOAD_MAX_BYTES = 50 * 1024 * 1024
    accepted = browser.post(
        reverse("sentiment:upload"), {**form, "file": SimpleUploadedFile("b.csv", _csv(3))}
    )

    assert refused.status_code == 413
    assert accepted.status_code == 200 and Document.objects.count() == 3


def test_jobs_whose_task_was_lost_or_whose_worker_died_are_run_by_the_rescue(  # type: ignore[no-untyped-def]
    analyst_client, settings, uploads_dir, scorer
) -> None:
    from apps.sentiment.tasks import import_jobs_rescue_task

    settings.UPLOAD_INLINE_MAX_BYTES = 100
    # The tests do not run on-commit callbacks unless asked: these tasks are never sent.
    lost = _upload(analyst_client, _csv(20)).json()["job"]["id"]
    died = _upload(analyst_client, _csv(10, start=100), source="Other").json()["job"]["id"]
    ImportJob.objects.filter(pk=died).update(status=ImportJob.Status.RUNNING)

    assert import_jobs_rescue_task() == 0  # recently moved: their tasks may be on their way
    long_ago = timezone.now() - timedelta(minutes=16)
    ImportJob.objects.filter(pk__in=[lost, died]).update(updated_at=long_ago)
    rescued = import_jobs_rescue_task()

    assert rescued == 2
    assert set(ImportJob.objects.values_list("status", flat=True)) == {ImportJob.Status.DONE}
    assert Document.objects.count() == 30 and _stored_files(settings) == []
    assert import_jobs_rescue_task() == 0


def test_a_job_stopped_by_a_server_error_keeps_what_it_stored_and_says_so(  # type: ignore[no-untyped-def]
    analyst_client, settings, uploads_dir, stored_before, scorer, monkeypatch
) -> None:
    settings.UPLOAD_INLINE_MAX_BYTES = 1000
    real = imports.documents_bulk_ingest
    calls = {"n": 0}

    def fail_on_second_batch(**kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("database went away")
        return real(**kwargs)

    monkeypatch.setattr(imports, "documents_bulk_ingest", fail_on_second_batch)
    job_id = _upload(analyst_client, _csv(1500)).json()["job"]["id"]

    outcome = imports.import_job_run(job_id=job_id)

    assert outcome is not None and outcome.job.status == ImportJob.Status.FAILED
    assert "server error" in outcome.job.message and outcome.job.stored == 1000
    assert Document.objects.filter(source__name="Bulk").count() == 1000
    page = analyst_client.get(reverse("sentiment:import_job", args=[job_id])).content.decode()
    assert "1000 rows stored before it stopped are kept" in page
    _nothing_lost(stored_before)


def test_a_windows_excel_csv_keeps_its_quotes_and_euro_sign(analyst_client, scorer) -> None:  # type: ignore[no-untyped-def]
    content = "title,body\nAcme’s profit rises to €5m,“Record” quarter\n".encode("cp1252")

    response = _upload(analyst_client, content, "excel.csv")

    assert response.status_code == 201, response.content[:300]
    doc = Document.objects.get()
    assert doc.title == "Acme’s profit rises to €5m" and doc.body == "“Record” quarter"


def test_an_excel_unicode_text_file_is_read(analyst_client, scorer) -> None:  # type: ignore[no-untyped-def]
    content = "title\tbody\nKestrel cuts routes\tFewer flights\n".encode("utf-16")

    response = _upload(analyst_client, content, "export.txt")

    assert response.status_code == 201, response.content[:300]
    assert Document.objects.get().title == "Kestrel cuts routes"


def test_a_semicolon_csv_is_read(analyst_client, scorer) -> None:  # type: ignore[no-untyped-def]
    content = (
        "\ufefftitle;body;url\n"
        "Acme wins contract;Worth 3,5 m EUR;https://n.example/a\n"
        "Kestrel cuts routes;;https://n.example/b\n"
    ).encode()

    response = _upload(analyst_client, content, "europe.csv")

    assert response.status_code == 201, response.content[:300]
    assert response.json()["created"] == 2 and response.json()["errors"] == []
    assert Document.objects.get(url="https://n.example/a").body == "Worth 3,5 m EUR"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("news.csv", b"", "The submitted file is empty"),  # Django's own check
        ("news.csv", "\ufeff\n".encode(), "the file is empty"),
        ("news.jsonl", b"\n  \n", "the file is empty"),
        ("news.csv", b"title,body\n", "holds no documents"),
        ("news.json", b"[]", "holds no documents"),
    ],
)
def test_an_empty_upload_is_a_400_with_a_reason(  # type: ignore[no-untyped-def]
    analyst_client, name: str, content: bytes, message: str
) -> None:
    response = _upload(analyst_client, content, name)

    assert response.status_code == 400
    assert message in str(response.json()["file"])


def test_a_json_array_export_is_read_and_bad_items_are_numbered(analyst_client, scorer) -> None:  # type: ignore[no-untyped-def]
    content = json.dumps(
        [{"title": "Acme wins contract"}, {"body": ""}, {"title": "Kestrel cuts routes"}],
        indent=2,
    ).encode()

    response = _upload(analyst_client, content, "export.json")

    assert response.status_code == 201, response.content[:300]
    assert response.json()["created"] == 2
    assert [e["line"] for e in response.json()["errors"]] == [2]


def test_jsonl_strings_may_hold_unicode_line_separators(scorer) -> None:  # type: ignore[no-untyped-def]
    content = (
        json.dumps({"title": "Acme wins\u2028contract", "body": "a\u0085b"}, ensure_ascii=False)
        + "\n"
        + json.dumps({"title": "Kestrel cuts routes"})
        + "\n"
    ).encode()

    rows, errors = documents_read(content, "news.jsonl")

    assert errors == []
    assert [(r.line, r.title) for r in rows] == [
        (1, "Acme wins\u2028contract"),
        (2, "Kestrel cuts routes"),
    ]


def test_a_broken_json_array_is_refused_as_a_whole() -> None:
    with pytest.raises(UploadError, match="not a valid JSON array"):
        documents_read(b'[\n  {"title": "Acme"},\n  {"title": \n]\n', "export.json")


def test_a_unix_timestamp_in_a_csv_is_a_date() -> None:
    rows, errors = documents_read(b"title,published_at\nAcme wins,1750000000\n", "news.csv")

    assert errors == []
    assert rows[0].published_at == datetime(2025, 6, 15, 15, 6, 40, tzinfo=UTC)


def test_a_row_with_a_multi_line_body_is_reported_at_the_line_where_it_starts() -> None:
    content = (
        b"title,body,url\n"
        b'Acme wins contract,"First paragraph.\nSecond paragraph.\nThird.",ftp://n.example/a\n'
        b"Kestrel cuts routes,Fewer flights,ftp://n.example/b\n"
        b"\n"
        b"Orion beats estimates,,https://n.example/c\n"
    )

    rows, errors = documents_read(content, "news.csv")

    assert [e.line for e in errors] == [2, 5]
    assert [(r.line, r.title) for r in rows] == [(7, "Orion beats estimates")]
