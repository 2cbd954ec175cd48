"""Reading an uploaded unlabelled corpus as a stream of texts: plain text (one text a line),
JSONL (a field of each object) or CSV (a column), in any encoding apps/core/encodings reads.

A problem with the whole file (an unknown or wrong declared encoding, a binary file, a missing
column, a file that is not JSONL) is a CorpusFileError; a bad line is a line error and the
others are kept.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import PurePath
from typing import IO, Any

from apps.core.encodings import EncodingUnknown, encoding_detect, text_open

FORMATS = ("text", "jsonl", "csv")
# The JSONL field and CSV column read when none is named.
DEFAULT_FIELD = "text"
MAX_FIELD_CHARS = 10 * 1024 * 1024
_EXTENSIONS = {".txt": "text", ".text": "text", ".jsonl": "jsonl", ".ndjson": "jsonl"}
_EXTENSIONS[".csv"] = "csv"
_SNIFF_BYTES = 8192


class CorpusFileError(ValueError):
    """The whole file is unusable: nothing of it is stored."""


@dataclass(frozen=True)
class LineError:
    line: int
    reason: str


def format_guess(filename: str, declared: str = "") -> str:
    """The declared format, else the one the file's extension names; CorpusFileError if none."""
    if declared:
        if declared not in FORMATS:
            raise CorpusFileError(f"unknown format {declared!r}; one of {', '.join(FORMATS)}")
        return declared
    found = _EXTENSIONS.get(PurePath(filename or "").suffix.lower())
    if found is None:
        raise CorpusFileError(
            "say the file's format (text, jsonl or csv): its name ends in none of "
            + ", ".join(sorted(_EXTENSIONS))
        )
    return found


def _encoding(stream: IO[bytes], declared: str) -> str:
    stream.seek(0)
    if b"\x00" in stream.read(_SNIFF_BYTES) and not declared.lower().startswith("utf-16"):
        stream.seek(0)
        if stream.read(2) not in (b"\xff\xfe", b"\xfe\xff"):
            raise CorpusFileError("the file is not text (it holds NUL bytes)")
    try:
        return encoding_detect(stream, declared)
    except EncodingUnknown as exc:
        raise CorpusFileError(str(exc)) from None


def corpus_texts_iter(
    stream: IO[bytes], *, fmt: str, field: str, encoding: str, errors: list[LineError]
) -> Generator[str, None, None]:
    """Each text of the file (maybe empty or repeated: the caller cleans), bad lines into
    `errors`; CorpusFileError when the file as a whole cannot be read as `fmt`."""
    name = _encoding(stream, encoding)
    if fmt == "text":
        yield from _text_lines(stream, name)
    elif fmt == "jsonl":
        yield from _jsonl_values(stream, name, field or DEFAULT_FIELD, errors)
    else:
        yield from _csv_values(stream, name, field or DEFAULT_FIELD, errors)


def _text_lines(stream: IO[bytes], encoding: str) -> Iterator[str]:
    with text_open(stream, encoding, newline=None) as text:
        for line in text:
            if "\x00" in line:
                continue
            yield line


def _value(raw: Any, field: str) -> str:
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise ValueError(f"{field} must be text, not {type(raw).__name__}")
    return str(raw)


def _jsonl_values(
    stream: IO[bytes], encoding: str, field: str, errors: list[LineError]
) -> Iterator[str]:
    seen_field = False
    good_objects = 0
    keys: set[str] = set()
    with text_open(stream, encoding, newline="\n") as text:
        for number, line in enumerate(text, start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as exc:
                if good_objects == 0:
                    raise CorpusFileError(
                        f"line {number} is not JSON ({exc.msg}): a JSONL file has one JSON "
                        "object a line"
                    ) from None
                errors.append(LineError(number, f"not JSON: {exc.msg}"))
                continue
            if not isinstance(item, dict):
                errors.append(LineError(number, "expected a JSON object"))
                continue
            good_objects += 1
            if field not in item or item[field] in (None, ""):
                keys.update(str(k) for k in item)
                if not seen_field and good_objects >= 50:
                    raise _missing("field", field, keys)
                errors.append(LineError(number, f"no {field!r} field"))
                continue
            seen_field = True
            try:
                yield _value(item[field], field)
            except ValueError as exc:
                errors.append(LineError(number, str(exc)))
    if good_objects and not seen_field:
        raise _missing("field", field, keys)


def _missing(what: str, name: str, known: set[str] | list[str]) -> CorpusFileError:
    listed = ", ".join(sorted(known)[:20]) or "none"
    return CorpusFileError(f"no {what} {name!r} in the file; its {what}s are: {listed}")


def _csv_values(
    stream: IO[bytes], encoding: str, column: str, errors: list[LineError]
) -> Iterator[str]:
    csv.field_size_limit(MAX_FIELD_CHARS)
    with text_open(stream, encoding) as text:
        reader = csv.reader(text)
        try:
            header = next(reader, None)
        except csv.Error as exc:
            raise CorpusFileError(f"the CSV header cannot be read: {exc}") from None
        names = [h.strip().lstrip("\ufeff") for h in header or []]
        if column not in names:
            raise _missing("column", column, names)
        index = names.index(column)
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                errors.append(LineError(reader.line_num, f"bad CSV: {exc}"))
                continue
            if not row:
                continue
            if index >= len(row):
                errors.append(LineError(reader.line_num, f"no value in column {column!r}"))
                continue
            yield row[index]
