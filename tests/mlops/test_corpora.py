"""Unlabelled corpora: plain text, a JSONL field or a CSV column, in the encodings users' tools
write, cleaned and deduplicated into a stored file with its hash; refused whole (nothing stored,
nothing earlier lost) when unusable; large files imported by a job, which the rescue restarts."""

from __future__ import annotations

import codecs
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from apps.mlops import corpora
from apps.mlops.corpus_files import CorpusFileError
from apps.mlops.models import Corpus
from apps.mlops.tasks import corpora_rescue_task, corpus_import_task
from mlcore.adapt import corpus_hash, corpus_read

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def data_dir(settings: Any, tmp_path: Path) -> Path:
    settings.DATA_DIR = tmp_path
    return tmp_path


def _accept(content: bytes, name: str = "news.txt", **kwargs: Any) -> Corpus:
    kwargs.setdefault("app", "sentiment")
    return corpora.corpus_upload_accept(upload=SimpleUploadedFile(name, content), **kwargs)


def _files(root: Path, folder: str) -> list[Path]:
    where = root / folder
    return sorted(p for p in where.rglob("*") if p.is_file()) if where.exists() else []


def test_a_text_file_is_stored_once_per_text_with_its_lines_size_and_hash(data_dir: Path) -> None:
    content = b"Profit rose.\n\n  profit   ROSE. \nShares fell 3%.\r\nProfit rose.\n"

    corpus = _accept(content)

    stored = Path(corpus.corpus_path)
    assert corpus.status == Corpus.Status.DONE and corpus.format == "text"
    assert stored.read_text(encoding="utf-8") == "Profit rose.\nShares fell 3%.\n"
    assert (corpus.stored, corpus.duplicates) == (2, 2)
    assert corpus.corpus_bytes == stored.stat().st_size
    assert corpus.corpus_hash == corpus_hash(corpus_read([stored]))
    assert stored.is_relative_to(data_dir / "corpora" / "sentiment")
    assert _files(data_dir, "uploads") == []  # the upload is let go once imported


def test_a_jsonl_field_is_read_and_lines_without_it_are_listed() -> None:
    lines = [{"body": f"Story {i} about rates."} for i in range(3)]
    lines.insert(1, {"title": "no body here"})
    content = "\n".join(json.dumps(line) for line in lines).encode() + b"\n[1, 2]\n"

    corpus = _accept(content, name="items.jsonl", app="support", field="body")

    assert corpus.app == "support" and corpus.stored == 3
    assert [e["line"] for e in corpus.errors] == [2, 5]
    assert "no 'body' field" in corpus.errors[0]["error"]


def test_a_csv_column_is_read_from_a_gb18030_file_and_one_with_a_bom() -> None:
    chinese = "text,id\n银行利润上升,1\n股价下跌,2\n".encode("gb18030")
    english = codecs.BOM_UTF8 + b"id,review\n1,Great phone\n2,Battery died\n"

    zh = _accept(chinese, name="zh.csv")
    en = _accept(english, name="reviews.csv", app="recommender", field="review")

    assert Path(zh.corpus_path).read_text(encoding="utf-8") == "银行利润上升\n股价下跌\n"
    assert Path(en.corpus_path).read_text(encoding="utf-8") == "Great phone\nBattery died\n"


@pytest.mark.parametrize(
    ("content", "name", "kwargs", "message"),
    [
        (b"title,body\nA,B\n", "a.csv", {}, "no column 'text' in the file; its columns are: body"),
        (b'{"title": "a"}\n', "a.jsonl", {}, "no field 'text' in the file; its fields are: title"),
        (b"not json\n", "a.jsonl", {}, "line 1 is not JSON"),
        (b"", "a.txt", {}, "the file is empty"),
        (b"\n  \n\n", "a.txt", {}, "the file holds no text"),
        (b"\n" * 200, "a.txt", {}, "the file holds no text"),
        ("Café".encode("cp1252"), "a.txt", {"encoding": "utf-8"}, "not written in utf-8"),
        (b"Profit rose.", "a.txt", {"encoding": "klingon"}, "unknown encoding 'klingon'"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "a.txt", {}, "the file is not text"),
        (b"Profit rose.", "a.pdf", {}, "say the file's format"),
        (b"Profit rose.", "a.txt", {"fmt": "xml"}, "unknown format 'xml'"),
        (b"Profit rose.", "a.txt", {"app": "billing"}, "unknown app 'billing'"),
    ],
)
def test_an_unusable_file_is_refused_whole_with_nothing_stored(
    data_dir: Path, content: bytes, name: str, kwargs: dict[str, Any], message: str
) -> None:
    earlier = _accept(b"Earlier text.\n")

    with pytest.raises(CorpusFileError, match=message):
        _accept(content, name=name, **kwargs)

    assert list(Corpus.objects.values_list("pk", flat=True)) == [earlier.pk]
    assert Path(earlier.corpus_path).read_text() == "Earlier text.\n"
    assert _files(data_dir, "uploads") == []


def test_text_after_many_blank_lines_is_found() -> None:
    corpus = _accept(b"\n" * 200 + b"Late text.\n")

    assert corpus.status == Corpus.Status.DONE and corpus.stored == 1


def test_a_large_file_is_imported_by_a_background_job(settings: Any) -> None:
    settings.UPLOAD_INLINE_MAX_BYTES = 100
    content = "".join(f"Headline number {i % 40}.\n" for i in range(100)).encode()

    corpus = _accept(content)  # queued; eager Celery runs the job once the request commits
    queued_status = corpus.status
    corpus_import_task.delay(corpus.pk)
    corpus.refresh_from_db()

    assert queued_status == Corpus.Status.QUEUED
    assert corpus.status == Corpus.Status.DONE
    assert (corpus.stored, corpus.duplicates, corpus.rows_total) == (40, 60, 100)
    assert corpus_import_task.delay(corpus.pk).get() is False  # a finished job is left alone


def test_a_file_over_the_row_cap_fails_its_job_and_leaves_nothing_half_written(
    settings: Any, data_dir: Path
) -> None:
    earlier = _accept(b"Earlier text.\n")
    settings.UPLOAD_INLINE_MAX_BYTES = 100
    settings.UPLOAD_MAX_ROWS = 50
    corpus = _accept("".join(f"Line {i}.\n" for i in range(80)).encode())

    corpus_import_task.delay(corpus.pk)
    corpus.refresh_from_db()

    assert corpus.status == Corpus.Status.FAILED
    assert "more than 50 rows (UPLOAD_MAX_ROWS)" in corpus.message
    assert corpus.corpus_path == "" and corpus.stored == 0
    assert _files(data_dir, "corpora") == [Path(earlier.corpus_path)]
    assert _files(data_dir, "uploads") == []


def test_an_import_nobody_moved_is_run_by_the_rescue(settings: Any) -> None:
    settings.UPLOAD_INLINE_MAX_BYTES = 10
    corpus = _accept(b"Rates were held.\nRates were cut.\n")
    Corpus.objects.filter(pk=corpus.pk).update(updated_at=timezone.now() - timedelta(hours=1))

    rescued = corpora_rescue_task()
    corpus.refresh_from_db()

    assert rescued == 1 and corpus.status == Corpus.Status.DONE and corpus.stored == 2


def test_a_corpus_is_removed_with_its_texts_but_not_while_importing(settings: Any) -> None:
    done = _accept(b"Kept until removed.\n")
    settings.UPLOAD_INLINE_MAX_BYTES = 10
    queued = _accept(b"Still waiting.\n")

    with pytest.raises(corpora.CorpusBusy):
        corpora.corpus_delete(corpus_id=queued.pk)
    corpora.corpus_delete(corpus_id=done.pk)

    assert not Path(done.corpus_path).exists()
    assert list(Corpus.objects.values_list("pk", flat=True)) == [queued.pk]


def test_runs_find_only_the_apps_imported_corpora_by_id() -> None:
    sentiment = _accept(b"Profit rose.\n", name="s.txt")
    support = _accept(b"Where is my card?\n", name="q.txt", app="support")

    choices = corpora.corpus_choices("sentiment")
    paths = corpora.corpus_paths(app="sentiment", ids=[sentiment.pk])

    assert [pk for pk, _ in choices] == [sentiment.pk]
    assert "(1 texts)" in choices[0][1]
    assert paths == [sentiment.corpus_path]
    with pytest.raises(ValueError, match=f"no imported sentiment corpus with id {support.pk}"):
        corpora.corpus_paths(app="sentiment", ids=[support.pk])
