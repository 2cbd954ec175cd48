"""Reading bulk uploads (CSV / JSONL) and training files into rows, with per-line errors."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime

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


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


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
        raise ValueError(f"published_at {text[:80]!r} is not an ISO 8601 date-time") from None
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, UTC)
    try:
        # In UTC, so a date at the edge of the calendar fails here and not in the database.
        return parsed.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"published_at {text[:80]!r} is out of range") from None


def _text(raw: dict[str, Any], *keys: str) -> str:
    """The first non-empty of `keys` as text; numbers are fine, objects, lists and bools are not."""
    for key in keys:
        value = raw.get(key)
        if value is None or value == "":
            continue
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise ValueError(f"{key} must be text, not {type(value).__name__}")
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


def _csv_reader(text: str, *, delimiter: str = ",") -> tuple[csv.DictReader[str], list[str]]:
    """A DictReader and its lower-cased header; UploadError when the header cannot be read."""
    csv.field_size_limit(MAX_FIELD_CHARS)  # process-wide; only ever raised, never lowered
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
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
        yield reader.line_num, record


def documents_read(data: bytes, filename: str) -> tuple[list[DocumentRow], list[LineError]]:
    """Rows and line errors of a CSV (header row) or JSONL (one object per line) upload."""
    text = _decode(data)
    name = filename.lower()
    rows: list[DocumentRow] = []
    errors: list[LineError] = []
    if name.endswith((".jsonl", ".ndjson", ".json")):
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                rows.append(document_row_build(number, json.loads(line)))
            except json.JSONDecodeError as exc:
                errors.append(LineError(number, f"not valid JSON: {exc.msg}"))
            except ValueError as exc:
                errors.append(LineError(number, str(exc)))
        return rows, errors
    if not name.endswith((".csv", ".tsv", ".txt")):
        raise UploadError("upload a .csv (with a header row) or a .jsonl file")
    reader, header = _csv_reader(text, delimiter="\t" if name.endswith(".tsv") else ",")
    if not ({"title", "body", "text"} & set(header)):
        raise UploadError(
            f"the header row must name a title, body or text column; found {header or 'none'}"
        )
    for number, record in _csv_records(reader, errors):
        if None in record:
            errors.append(LineError(number, "more values than header columns"))
            continue
        try:
            rows.append(document_row_build(number, record))
        except ValueError as exc:
            errors.append(LineError(number, str(exc)))
    return rows, errors


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


def labelled_read(data: bytes, filename: str = "") -> tuple[list[LabelledRow], list[LineError]]:
    """CSV `sentence,label[,all_agree]` or PhraseBank text `sentence@label` lines."""
    text = _decode(data)
    first = text.lstrip().splitlines()[0] if text.strip() else ""
    rows: list[LabelledRow] = []
    errors: list[LineError] = []
    if not first:
        raise UploadError("the training file is empty")
    if "@" in first and not first.lower().startswith("sentence,"):
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            sentence, sep, label = line.rpartition("@")
            try:
                if not sep or not sentence.strip():
                    raise ValueError("expected 'sentence@label'")
                rows.append(LabelledRow(sentence.strip(), label_normalise(label), line=number))
            except ValueError as exc:
                errors.append(LineError(number, str(exc)))
        return rows, errors
    reader, header = _csv_reader(text)
    if "sentence" not in header or "label" not in header:
        raise UploadError(
            f"CSV training files need 'sentence' and 'label' columns; found {header or 'none'}"
        )
    for number, record in _csv_records(reader, errors):
        try:
            sentence = (record.get("sentence") or "").strip()
            if not sentence:
                raise ValueError("empty sentence")
            agree_raw = (record.get("all_agree") or "").strip().lower()
            agree = None if "all_agree" not in header else agree_raw in ("yes", "true", "1")
            rows.append(
                LabelledRow(sentence, label_normalise(record.get("label") or ""), agree, number)
            )
        except ValueError as exc:
            errors.append(LineError(number, str(exc)))
    return rows, errors
