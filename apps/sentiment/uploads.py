"""Reading bulk uploads (CSV / JSONL) and training files into rows, with per-line errors."""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from .text_stream import (
    encoding_detect,
    first_line,
    json_array_items,
    json_array_problem,
    json_one_object,
    parses,
    text_open,
)

LABELS = ("negative", "neutral", "positive")
# Python's csv module refuses fields over 128 KiB, shorter than a long article. Allow a field
# as large as a whole feed document (feeds.MAX_FEED_BYTES); a larger one is a per-line error.
MAX_FIELD_CHARS = 10 * 1024 * 1024
DOCUMENT_FIELDS = ("external_id", "url", "title", "body", "text", "published_at", "language")


class UploadError(Exception):
    """The whole file is unusable (wrong format, no usable columns)."""


@dataclass(frozen=True)
class LineError:
    line: int
    reason: str


@dataclass(frozen=True)
class DocumentRow:
    line: int
    external_id: str
    url: str
    title: str
    body: str
    published_at: datetime | None
    language: str


_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")


def datetime_parse(value: Any) -> datetime | None:
    """ISO 8601 (naive means UTC) or a Unix timestamp, in UTC; ValueError on anything else."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        kind = type(value).__name__
        raise ValueError(f"published_at must be a date-time or a number, not {kind}")
    if isinstance(value, int | float):
        try:
            return datetime.fromtimestamp(float(value), tz=UTC)
        except (OverflowError, OSError, ValueError):  # 1e20, -1e15, nan, inf
            raise ValueError(f"published_at {value!r} is not a Unix timestamp in range") from None
    text = value.strip()
    try:
        parsed = parse_datetime(text) or datetime.fromisoformat(text)
    except ValueError:
        if _NUMBER.fullmatch(text):  # a Unix timestamp written as text (every CSV value is)
            return datetime_parse(float(text))
        raise ValueError(f"published_at {text[:80]!r} is not an ISO 8601 date-time") from None
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, UTC)
    try:
        # In UTC, so a date at the edge of the calendar fails here and not in the database.
        return parsed.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"published_at {text[:80]!r} is out of range") from None


# A NUL character (a stray byte in an export, or "\u0000" in JSON) and a lone UTF-16 surrogate
# ("\ud800" in JSON) cannot be stored as text (PostgreSQL refuses both).
_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")


def unstorable_problem(name: str, value: str) -> str:
    """Why `value` cannot be stored as text ("" when it can), naming the field."""
    found = _UNSTORABLE.search(value)
    if found is None:
        return ""
    what = "a NUL character" if found.group() == "\x00" else "an unpaired UTF-16 surrogate"
    return f"{name} contains {what} (at character {found.start() + 1}), which cannot be stored"


def unstorable_strip(value: str) -> str:
    """`value` without the characters that cannot be stored (for feeds: nobody to tell)."""
    return _UNSTORABLE.sub("", value)


def _text(raw: dict[str, Any], *keys: str) -> str:
    """The first non-empty of `keys` as text; numbers are fine, objects, lists and bools are not,
    nor text that cannot be stored."""
    for key in keys:
        value = raw.get(key)
        if value is None or value == "":
            continue
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise ValueError(f"{key} must be text, not {type(value).__name__}")
        problem = unstorable_problem(key, str(value))
        if problem:
            raise ValueError(problem)
        return str(value).strip()
    return ""


def document_row_build(line: int, raw: dict[str, Any]) -> DocumentRow:
    """Validate one record; ValueError with a readable reason when it is unusable."""
    if not isinstance(raw, dict):
        raise ValueError("expected an object with title/body fields")
    title = _text(raw, "title")
    body = _text(raw, "body", "text")
    if not title and not body:
        raise ValueError("needs a title or a body (or text)")
    url = _text(raw, "url")
    if url and not url.startswith(("http://", "https://")):
        raise ValueError(f"url {url[:80]!r} must start with http:// or https://")
    return DocumentRow(
        line=line,
        external_id=_text(raw, "external_id", "id")[:500],
        url=url[:1000],
        title=title[:1000],
        body=body,
        published_at=datetime_parse(raw.get("published_at")),
        language=_text(raw, "language")[:8],
    )


def _csv_reader(
    lines: Iterable[str], *, delimiter: str = ","
) -> tuple[csv.DictReader[str], list[str]]:
    """A DictReader and its lower-cased header; UploadError when the header cannot be read."""
    csv.field_size_limit(MAX_FIELD_CHARS)  # process-wide; only ever raised, never lowered
    reader = csv.DictReader(lines, delimiter=delimiter)
    try:
        header = [h.strip().lower() for h in (reader.fieldnames or [])]
    except csv.Error as exc:
        raise UploadError(f"the header row is not readable CSV: {exc}") from None
    reader.fieldnames = header
    return reader, header


def _csv_records(
    reader: csv.DictReader[str], errors: list[LineError]
) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line, record) of each CSV row, until a row the csv module cannot read: that one becomes
    a line error and reading stops, because the reader may resume inside a quoted field and
    would turn the rest of the file into made-up rows."""
    while True:
        start = reader.line_num + 1
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            reason = str(exc)
            if "field larger than field limit" in reason:
                reason = f"a field is longer than {MAX_FIELD_CHARS // (1024 * 1024)} MiB"
            errors.append(
                LineError(start, f"unreadable CSV ({reason}); the rest of the file was not read")
            )
            return
        # line_num is where the record ends; a quoted field over several lines (a long article
        # body) would push it down, so count back to the line where the record starts.
        values = [v for v in record.values() if isinstance(v, str)]
        values += [x for v in record.values() if isinstance(v, list) for x in v]
        yield reader.line_num - sum(v.count("\n") for v in values), record


JSON_NAMES = (".jsonl", ".ndjson", ".json")
CSV_NAMES = (".csv", ".tsv", ".txt")
_TEXT_COLUMNS = {"title", "body", "text"}


def documents_iter(
    stream: IO[bytes], filename: str, errors: list[LineError]
) -> Iterator[DocumentRow]:
    """The rows of a CSV (header row) or JSONL (one object per line) upload, read from a seekable
    binary stream a line at a time; each bad line is added to `errors` as it is met. A .json file
    may also hold one JSON array of objects (its items are numbered from 1).

    UploadError (from the first `next`, or at the end for a file without any document) when the
    file is unusable as a whole.
    """
    name = filename.lower()
    if not name.endswith(JSON_NAMES + CSV_NAMES):
        raise UploadError("upload a .csv (with a header row) or a .jsonl file")
    encoding = encoding_detect(stream)
    if not first_line(stream, encoding):
        raise UploadError("the file is empty")
    if name.endswith(JSON_NAMES):
        rows = _json_documents(stream, encoding, errors)
    else:
        rows = _csv_documents(stream, encoding, name, errors)
    found = 0
    for row in rows:
        found += 1
        yield row
    if not found and not errors:
        raise UploadError("the file holds no documents (only a header row or an empty list)")


def documents_read(data: bytes, filename: str) -> tuple[list[DocumentRow], list[LineError]]:
    """Rows and line errors of a whole upload held in memory (see documents_iter)."""
    errors: list[LineError] = []
    rows = list(documents_iter(io.BytesIO(data), filename, errors))
    return rows, errors


def _document_or_error(number: int, raw: Any, errors: list[LineError]) -> DocumentRow | None:
    try:
        return document_row_build(number, raw)
    except ValueError as exc:
        errors.append(LineError(number, str(exc)))
        return None


def _json_documents(
    stream: IO[bytes], encoding: str, errors: list[LineError]
) -> Iterator[DocumentRow]:
    first = first_line(stream, encoding)
    whole: list[Any] | None = None  # the file as one JSON value (an export), when it is one
    if first.startswith("["):
        problem = json_array_problem(stream, encoding)
        if problem is None:
            with text_open(stream, encoding, newline="\n") as text:
                for number, raw in enumerate(json_array_items(text), start=1):
                    if (row := _document_or_error(number, raw, errors)) is not None:
                        yield row
            return
        if first == "[":
            raise UploadError(f"not a valid JSON array: {problem.msg} (line {problem.lineno})")
    elif first.startswith("{") and not parses(first):
        whole = json_one_object(stream, encoding)  # one object over several lines
    if whole is not None:
        for number, raw in enumerate(whole, start=1):
            if (row := _document_or_error(number, raw, errors)) is not None:
                yield row
        return
    # Lines end at "\n" only: str.splitlines would also cut at U+2028, U+0085 or a form feed,
    # all of which may stand unescaped inside a JSON string.
    with text_open(stream, encoding, newline="\n") as text:
        for number, line in enumerate(text, start=1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
            except json.JSONDecodeError as exc:
                errors.append(LineError(number, f"not valid JSON: {exc.msg}"))
                continue
            if (row := _document_or_error(number, raw, errors)) is not None:
                yield row


def _csv_delimiter(first: str, name: str, columns: set[str] = _TEXT_COLUMNS) -> str:
    """The delimiter that makes the header line name one of `columns`: a comma (a tab for .tsv),
    else a semicolon (Excel in much of Europe), a tab or a pipe."""
    default = "\t" if name.lower().endswith(".tsv") else ","
    for delimiter in (default, ";", "\t", "|"):
        names = {h.strip().strip('"').strip().lower() for h in first.split(delimiter)}
        if names & columns:
            return delimiter
    return default


def _csv_lines(
    text: IO[str], name: str, columns: set[str] = _TEXT_COLUMNS
) -> tuple[Iterator[str], str]:
    """The text's lines (the header line read once, put back) and the delimiter it uses."""
    header_line = text.readline()
    return itertools.chain([header_line], text), _csv_delimiter(header_line, name, columns)


def _csv_documents(
    stream: IO[bytes], encoding: str, name: str, errors: list[LineError]
) -> Iterator[DocumentRow]:
    with text_open(stream, encoding) as text:
        lines, delimiter = _csv_lines(text, name)
        reader, header = _csv_reader(lines, delimiter=delimiter)
        if not (_TEXT_COLUMNS & set(header)):
            raise UploadError(
                f"the header row must name a title, body or text column; found {header or 'none'}"
            )
        for number, record in _csv_records(reader, errors):
            if None in record:
                errors.append(LineError(number, "more values than header columns"))
                continue
            if (row := _document_or_error(number, record, errors)) is not None:
                yield row


# -- training files --------------------------------------------------------------------------------
@dataclass(frozen=True)
class LabelledRow:
    sentence: str
    label: str
    all_agree: bool | None = None
    line: int = field(default=0, compare=False)  # where it stood in its file (0: not from one)


_LABEL_ALIASES = {
    "pos": "positive",
    "neg": "negative",
    "neu": "neutral",
    "0": "negative",
    "1": "neutral",
    "2": "positive",
}


def label_normalise(value: str) -> str:
    label = value.strip().lower()
    label = _LABEL_ALIASES.get(label, label)
    if label not in LABELS:
        raise ValueError(f"label {value!r} is not one of {', '.join(LABELS)}")
    return label


def labelled_iter(
    stream: IO[bytes], filename: str, errors: list[LineError]
) -> Iterator[LabelledRow]:
    """CSV `sentence,label[,all_agree]` or PhraseBank text `sentence@label` lines, read from a
    seekable binary stream a line at a time; bad lines are added to `errors` as they are met."""
    encoding = encoding_detect(stream)
    first = first_line(stream, encoding)
    if not first:
        raise UploadError("the training file is empty")
    if "@" in first and not first.lower().startswith("sentence,"):
        yield from _phrasebank_rows(stream, encoding, errors)
        return
    # Separated like a document upload: commas, or semicolons, tabs or pipes (Excel in Europe).
    with text_open(stream, encoding) as text:
        lines, delimiter = _csv_lines(text, filename, {"sentence"})
        reader, header = _csv_reader(lines, delimiter=delimiter)
        if "sentence" not in header or "label" not in header:
            raise UploadError(
                f"CSV training files need 'sentence' and 'label' columns; found {header or 'none'}"
            )
        for number, record in _csv_records(reader, errors):
            try:
                sentence = (record.get("sentence") or "").strip()
                if not sentence:
                    raise ValueError("empty sentence")
                if problem := unstorable_problem("the sentence", sentence):
                    raise ValueError(problem)
                agree_raw = (record.get("all_agree") or "").strip().lower()
                agree = None if "all_agree" not in header else agree_raw in ("yes", "true", "1")
                label = label_normalise(record.get("label") or "")
            except ValueError as exc:
                errors.append(LineError(number, str(exc)))
                continue
            yield LabelledRow(sentence, label, agree, number)


def _phrasebank_rows(
    stream: IO[bytes], encoding: str, errors: list[LineError]
) -> Iterator[LabelledRow]:
    with text_open(stream, encoding, newline=None) as text:
        # Numbered as str.splitlines numbers the whole text (it also ends a line at U+2028...).
        parts: Iterable[str] = (part for line in text for part in line.splitlines())
        for number, line in enumerate(parts, start=1):
            if not line.strip():
                continue
            sentence, sep, label = line.rpartition("@")
            try:
                if not sep or not sentence.strip():
                    raise ValueError("expected 'sentence@label'")
                if problem := unstorable_problem("the sentence", sentence):
                    raise ValueError(problem)
                row = LabelledRow(sentence.strip(), label_normalise(label), line=number)
            except ValueError as exc:
                errors.append(LineError(number, str(exc)))
                continue
            yield row


def labelled_read(data: bytes, filename: str = "") -> tuple[list[LabelledRow], list[LineError]]:
    """Rows and line errors of a whole training file held in memory (see labelled_iter)."""
    errors: list[LineError] = []
    rows = list(labelled_iter(io.BytesIO(data), filename, errors))
    return rows, errors
