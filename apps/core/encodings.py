"""Decoding user files, one rule for every import (CSV, JSONL, text, HTML, Markdown): a declared
encoding when one is given, else UTF-16 with a BOM, UTF-8 with or without a BOM, GB18030 (what
Chinese Windows and Excel write) when the file reads as Chinese in it, Windows-1252, Latin-1."""

from __future__ import annotations

import codecs
import contextlib
import io
import re
from collections.abc import Iterator
from typing import IO

_CHUNK = 1024 * 1024
# Chinese characters, CJK punctuation and full-width forms: what GB18030 text is made of.
_CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")


class EncodingUnknown(ValueError):
    """A declared encoding that Python does not know, or that the file is not written in."""


def _decodes(stream: IO[bytes], encoding: str) -> bool:
    stream.seek(0)
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        while chunk := stream.read(_CHUNK):
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _reads_as_chinese(stream: IO[bytes]) -> bool:
    """The start of the file decodes as GB18030 into mostly Chinese (not mojibake of Latin-1)."""
    stream.seek(0)
    head = stream.read(_CHUNK)
    text = codecs.getincrementaldecoder("gb18030")(errors="ignore").decode(head)
    wide = [c for c in text if ord(c) > 127]
    return bool(wide) and sum(1 for c in wide if _CJK.match(c)) >= 0.9 * len(wide)


def encoding_normalise(declared: str) -> str:
    """A declared encoding's codec name ("" stays ""); EncodingUnknown for a name Python lacks."""
    declared = (declared or "").strip()
    if not declared:
        return ""
    try:
        return codecs.lookup(declared).name
    except LookupError:
        raise EncodingUnknown(f"unknown encoding {declared!r} (e.g. utf-8, gb18030)") from None


def encoding_detect(stream: IO[bytes], declared: str = "") -> str:
    """The file's encoding, read chunk by chunk (never all at once). A declared one is checked:
    EncodingUnknown when the file is not written in it, so nothing is stored garbled."""
    name = encoding_normalise(declared)
    if name:
        name = "utf-8-sig" if name == "utf-8" else name
        if not _decodes(stream, name):
            raise EncodingUnknown(f"the file is not written in {declared}")
        return name
    stream.seek(0)
    head = stream.read(2)
    if head in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE) and _decodes(stream, "utf-16"):
        return "utf-16"
    if _decodes(stream, "utf-8-sig"):
        return "utf-8-sig"
    if _reads_as_chinese(stream) and _decodes(stream, "gb18030"):
        return "gb18030"
    if _decodes(stream, "cp1252"):
        return "cp1252"
    return "latin-1"


def bytes_decode(data: bytes, declared: str = "") -> str:
    """Bytes of a whole file as text, by the same rule as encoding_detect."""
    return data.decode(encoding_detect(io.BytesIO(data), declared))


@contextlib.contextmanager
def text_open(stream: IO[bytes], encoding: str, *, newline: str | None = "") -> Iterator[IO[str]]:
    """The file as text from its start, streamed; the binary stream stays open afterwards."""
    stream.seek(0)
    text = io.TextIOWrapper(stream, encoding=encoding, newline=newline)
    try:
        yield text
    finally:
        text.detach()
