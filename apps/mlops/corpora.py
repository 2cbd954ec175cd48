"""Unlabelled corpora users upload for an app: imported by a job, kept as distinct texts.

An upload goes through ingest's guards (apps/core/upload_jobs): the size cap before and while
the body streams in, UPLOAD_MAX_ROWS rows, one encoding rule. Its first rows are read within the
request, so a wrong column, a bad encoding or an empty file is refused at once with nothing
stored. The import itself (a job: inline for a small file, else `corpus_import_task`) cleans
each text as adaptation does (mlcore.adapt `text_clean`: white space folded, cut at 2,000
characters), drops repeats and writes the rest to `DATA_DIR/corpora/<app>/`, one text a line,
with their hash. A file that fails leaves nothing half-written, and corpora stored before are
never touched.

Runs name a corpus by its id (the `corpora` parameter of `<app>-base`, `unlabelled_corpora` of
sentiment), so no path typed on a page reaches the server's files.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import os
import uuid
from contextlib import closing
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db.models import QuerySet

from apps.core.upload_jobs import (
    JobDone,
    job_progress,
    job_run,
    job_start,
    upload_discard,
    upload_kept,
    upload_max_rows,
)
from mlcore.adapt import text_clean, text_key

from .corpus_files import CorpusFileError, LineError, corpus_texts_iter, format_guess
from .models import CORPUS_APPS, Corpus

log = logging.getLogger(__name__)

CHECK_ROWS = 50  # rows a request reads of a file before it keeps it (more when blank)
PROGRESS_EVERY = 2000


class CorpusBusy(Exception):
    """The corpus is still being imported."""


def corpora_root() -> Path:
    return Path(settings.DATA_DIR) / "corpora"


# -- services --------------------------------------------------------------------------------------
def corpus_upload_accept(
    *,
    upload: UploadedFile,
    app: str,
    name: str = "",
    fmt: str = "",
    field: str = "",
    encoding: str = "",
    user: Any = None,
) -> Corpus:
    """Keep an uploaded corpus and import it (now when small, else in the background): the
    Corpus row. CorpusFileError, with nothing stored, when the file or its first rows are
    unusable (or, for a file imported now, when the import refuses it)."""
    if app not in dict(CORPUS_APPS):
        raise CorpusFileError(f"unknown app {app!r}; one of {', '.join(dict(CORPUS_APPS))}")
    fmt = format_guess(upload.name or "", fmt)
    field = field.strip() if fmt != "text" else ""
    with upload_kept(upload, folder="corpora") as path:
        size = path.stat().st_size
        if size == 0:
            raise CorpusFileError("the file is empty")
        with (
            path.open("rb") as stream,
            closing(
                corpus_texts_iter(stream, fmt=fmt, field=field, encoding=encoding, errors=[])
            ) as rows,
        ):
            # The first rows, blank ones aside: a refusal of the whole file comes now.
            first = [text for text in itertools.islice(rows, CHECK_ROWS) if text.strip()]
            if not first and next((text for text in rows if text.strip()), None) is None:
                raise CorpusFileError("the file holds no text")
    filename = (upload.name or path.name)[:255]
    corpus = Corpus.objects.create(
        app=app,
        name=(name.strip() or filename)[:200],
        format=fmt,
        field=field,
        filename=filename,
        path=str(path),
        size_bytes=size,
        params={"encoding": encoding} if encoding else {},
        created_by=user if getattr(user, "pk", None) else None,
    )
    # cycle: the tasks module imports this one
    from .tasks import corpus_import_task

    corpus, _ = job_start(
        corpus, work=_corpus_import, refused=CorpusFileError, task=corpus_import_task
    )
    return corpus


def corpus_import_run(*, corpus_id: int, reraise: bool = False) -> bool:
    """Import a corpus's uploaded file; False when another worker has it or it is finished.
    A server error fails the import (and, with `reraise`, goes on up); nothing half-written is
    kept either way."""
    ran = job_run(Corpus, corpus_id, _corpus_import, refused=CorpusFileError, reraise=reraise)
    return ran is not None


def _corpus_import(corpus: Corpus) -> JobDone[None]:
    """Write the file's distinct texts under corpora_root(), renamed into place once whole."""
    folder = corpora_root() / corpus.app
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"{uuid.uuid4().hex}.txt"
    partial = out.with_name(out.name + ".part")
    errors: list[LineError] = []
    try:
        counts = _texts_write(corpus, partial, errors)
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)
    fields = {**counts, "corpus_path": str(out), "corpus_bytes": out.stat().st_size}
    return JobDone(None, [{"line": e.line, "error": e.reason} for e in errors], fields)


def _texts_write(corpus: Corpus, partial: Path, errors: list[LineError]) -> dict[str, Any]:
    """Write the file's distinct cleaned texts to `partial`: the counts and hash to store."""
    cap = upload_max_rows()
    seen: set[str] = set()
    digest = hashlib.sha256()
    rows = stored = duplicates = 0
    encoding = str(corpus.params.get("encoding", ""))
    with (
        Path(corpus.path).open("rb") as stream,
        partial.open("w", encoding="utf-8") as sink,
        closing(
            corpus_texts_iter(
                stream, fmt=corpus.format, field=corpus.field, encoding=encoding, errors=errors
            )
        ) as texts,
    ):
        for raw in texts:
            rows += 1
            if rows + len(errors) > cap:
                raise CorpusFileError(f"the file has more than {cap} rows (UPLOAD_MAX_ROWS)")
            text = text_clean(raw)
            if not text:
                continue
            key = text_key(text)
            if key in seen:
                duplicates += 1
                continue
            seen.add(key)
            sink.write(text + "\n")
            digest.update(text.encode() + b"\n")
            stored += 1
            if rows % PROGRESS_EVERY == 0:
                job_progress(
                    Corpus,
                    corpus.pk,
                    rows_done=rows + len(errors),
                    stored=stored,
                    duplicates=duplicates,
                )
    if not stored:
        raise CorpusFileError("the file holds no text")
    done = rows + len(errors)
    return {
        "stored": stored,
        "duplicates": duplicates,
        "rows_total": done,
        "rows_done": done,
        "corpus_hash": digest.hexdigest(),
    }


def corpus_delete(*, corpus_id: int) -> None:
    """Remove a corpus and its texts; CorpusBusy while it is being imported. Versions trained
    on it keep its hash."""
    corpus = Corpus.objects.get(pk=corpus_id)
    if not corpus.finished:
        raise CorpusBusy(f"corpus {corpus_id} is still being imported")
    for path in (corpus.corpus_path, corpus.path):
        upload_discard(path)
    corpus.delete()


# -- selectors -------------------------------------------------------------------------------------
def corpora_list(*, app: str = "") -> QuerySet[Corpus]:
    rows = Corpus.objects.select_related("created_by")
    return rows.filter(app=app) if app else rows


def corpus_get(*, corpus_id: int) -> Corpus | None:
    return Corpus.objects.filter(pk=corpus_id).first()


def corpus_choices(app: str) -> list[tuple[int, str]]:
    """The app's imported corpora, for a run's `corpora` parameter: (id, what it is)."""
    rows = Corpus.objects.filter(app=app, status=Corpus.Status.DONE).order_by("-pk")
    return [(c.pk, f"#{c.pk} {c.name} ({c.stored} texts)") for c in rows]


def corpus_paths(*, app: str, ids: list[int]) -> list[str]:
    """The stored texts of the app's imported corpora `ids`; ValueError naming any other id."""
    found = dict(
        Corpus.objects.filter(app=app, status=Corpus.Status.DONE, pk__in=ids).values_list(
            "pk", "corpus_path"
        )
    )
    missing = [str(i) for i in ids if i not in found]
    if missing:
        raise ValueError(f"no imported {app} corpus with id {', '.join(missing)}")
    return [found[i] for i in ids]
