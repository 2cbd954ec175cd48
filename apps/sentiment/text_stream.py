"""Reading an uploaded file as a stream: its encoding (decided on the whole file, read in
chunks), text views of it from the start, and the items of a JSON array one at a time."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import IO, Any

from apps.core.encodings import encoding_detect as encoding_detect
from apps.core.encodings import text_open as text_open

# A field may be as large as a whole feed document; a JSON item longer than this is an error.
MAX_ITEM_CHARS = 10 * 1024 * 1024
_CHUNK = 1024 * 1024


def first_line(stream: IO[bytes], encoding: str) -> str:
    """The first line holding more than white space, stripped ("" when there is none)."""
    with text_open(stream, encoding, newline="\n") as text:
        return next((line.strip() for line in text if line.strip()), "")


def parses(text: str) -> bool:
    try:
        json.loads(text)
    except json.JSONDecodeError:
        return False
    return True


def json_one_object(stream: IO[bytes], encoding: str) -> list[Any] | None:
    """[the object] when the whole file is one JSON object (read up to one document's size)."""
    with text_open(stream, encoding, newline="\n") as text:
        head = text.read(MAX_ITEM_CHARS + 1)
        try:
            value, end = json.JSONDecoder().raw_decode(head.lstrip())
        except json.JSONDecodeError:
            return None
        rest = head.lstrip()[end:]
        while not rest.strip():
            rest = text.read(_CHUNK)
            if not rest:
                return [value]
    return None


def json_array_problem(stream: IO[bytes], encoding: str) -> json.JSONDecodeError | None:
    """Why the file is not one JSON array (None when it is), read through without keeping it."""
    with text_open(stream, encoding, newline="\n") as text:
        try:
            for _ in json_array_items(text):
                pass
        except json.JSONDecodeError as exc:
            return exc
    return None


def json_array_items(text: IO[str]) -> Iterator[Any]:
    """The items of a JSON array, parsed as the text streams in (one item in memory at a time);
    JSONDecodeError, with the line number in the whole file, when it is not one valid array."""
    decoder = json.JSONDecoder()
    buffer, pos, lines_before, eof = "", 0, 0, False

    def fill() -> bool:
        nonlocal buffer, pos, lines_before, eof
        chunk = "" if eof else text.read(_CHUNK)
        if not chunk:
            eof = True
            return False
        lines_before += buffer.count("\n", 0, pos)
        buffer, pos = buffer[pos:] + chunk, 0
        return True

    def space() -> str:
        """Skip white space; the next character ("" at the end)."""
        nonlocal pos
        while True:
            while pos < len(buffer) and buffer[pos] in " \t\r\n":
                pos += 1
            if pos < len(buffer) or not fill():
                return buffer[pos : pos + 1]

    def problem(message: str) -> json.JSONDecodeError:
        exc = json.JSONDecodeError(message, buffer, pos)
        exc.lineno += lines_before
        return exc

    if space() != "[":
        raise problem("Expecting '['")
    pos += 1
    if space() == "]":
        pos += 1
    else:
        while True:
            space()
            while True:
                try:
                    value, end = decoder.raw_decode(buffer, pos)
                except json.JSONDecodeError as exc:
                    if eof or len(buffer) - pos > MAX_ITEM_CHARS or not fill():
                        exc.lineno += lines_before
                        raise exc from None
                    continue
                if end < len(buffer) or not fill():  # a number may go on in the next chunk
                    break
            pos = end
            yield value
            following = space()
            pos += 1
            if following == "]":
                break
            if following != ",":
                pos -= 1
                raise problem("Expecting ',' delimiter")
    if space():
        raise problem("Extra data")
