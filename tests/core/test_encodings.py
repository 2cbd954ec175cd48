"""One decoding rule for every import: UTF-8 with or without a BOM, GB18030 (Chinese Windows and
Excel), UTF-16 with a BOM, Windows-1252; a declared encoding is checked, never trusted blindly."""

from __future__ import annotations

import codecs
import io

import pytest

from apps.core.encodings import EncodingUnknown, bytes_decode, encoding_detect

CSV_ZH = "text,category\n我的卡丢了怎么办？,lost_card\n“忘记密码”怎么重置？,reset_password\n"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (CSV_ZH.encode("utf-8"), "utf-8-sig"),
        (codecs.BOM_UTF8 + CSV_ZH.encode("utf-8"), "utf-8-sig"),
        (CSV_ZH.encode("gb18030"), "gb18030"),
        (CSV_ZH.encode("utf-16"), "utf-16"),
    ],
    ids=["utf-8", "utf-8 with BOM", "gb18030", "utf-16 with BOM"],
)
def test_chinese_text_decodes_the_same_from_every_common_encoding(
    data: bytes, expected: str
) -> None:
    assert encoding_detect(io.BytesIO(data)) == expected
    assert bytes_decode(data) == CSV_ZH


def test_latin1_text_is_not_mistaken_for_chinese() -> None:
    text = "sku,title\nKEEP-1,Café tent — “deluxe”\n"

    assert bytes_decode(text.encode("cp1252")) == text


def test_a_declared_encoding_is_used_and_checked() -> None:
    data = CSV_ZH.encode("gb18030")

    assert bytes_decode(data, "GB18030") == CSV_ZH
    with pytest.raises(EncodingUnknown, match="not written in utf-8"):
        bytes_decode(data, "utf-8")
    with pytest.raises(EncodingUnknown, match="unknown encoding"):
        bytes_decode(data, "klingon-8")
