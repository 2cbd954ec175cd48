"""Reading bulk uploads (CSV / JSONL) and training files into rows, with per-line errors."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime

LABELS = ("negative", "neutral", "positive")
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
    """ISO 8601 (naive means UTC) or a Unix timestamp; ValueError on anything else."""
    if value in (None, ""):
        return None
    if isinstance(value, int | float):
        return datetime.fromtimestamp(float(value), tz=UTC)
    text = str(value).strip()
    parsed = parse_datetime(text)
    if parsed is None:
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"published_at {text!r} is not an ISO 8601 date-time") from None
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, UTC)
    return parsed


def document_row_build(line: int, raw: dict[str, Any]) -> DocumentRow:
    """Validate one record; ValueError with a readable reason when it is unusable."""
    if not isinstance(raw, dict):
        raise ValueError("expected an object with title/body fields")
    title = str(raw.get("title") or "").strip()
    body = str(raw.get("body") or raw.get("text") or "").strip()
    if not title and not body:
        raise ValueError("needs a title or a body (or text)")
    url = str(raw.get("url") or "").strip()
    if url and not url.startswith(("http://", "https://")):
        raise ValueError(f"url {url[:80]!r} must start with http:// or https://")
    return DocumentRow(
        line=line,
        external_id=str(raw.get("external_id") or raw.get("id") or "").strip()[:500],
        url=url[:1000],
        title=title[:1000],
        body=body,
        published_at=datetime_parse(raw.get("published_at")),
        language=str(raw.get("language") or "").strip()[:8],
    )


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
    reader = csv.DictReader(io.StringIO(text), delimiter="\t" if name.endswith(".tsv") else ",")
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    if not ({"title", "body", "text"} & set(header)):
        raise UploadError(
            f"the header row must name a title, body or text column; found {header or 'none'}"
        )
    reader.fieldnames = header
    for record in reader:
        number = reader.line_num
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
                rows.append(LabelledRow(sentence.strip(), label_normalise(label)))
            except ValueError as exc:
                errors.append(LineError(number, str(exc)))
        return rows, errors
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    if "sentence" not in header or "label" not in header:
        raise UploadError(
            f"CSV training files need 'sentence' and 'label' columns; found {header or 'none'}"
        )
    reader.fieldnames = header
    for record in reader:
        try:
            sentence = (record.get("sentence") or "").strip()
            if not sentence:
                raise ValueError("empty sentence")
            agree_raw = (record.get("all_agree") or "").strip().lower()
            agree = None if "all_agree" not in header else agree_raw in ("yes", "true", "1")
            rows.append(LabelledRow(sentence, label_normalise(record.get("label") or ""), agree))
        except ValueError as exc:
            errors.append(LineError(reader.line_num, str(exc)))
    return rows, errors
