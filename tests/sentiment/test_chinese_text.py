"""Chinese headlines: watchlist names and aliases match on the segmenter's words (Chinese has no
spaces, so no word boundaries), topics are tagged from Chinese keywords, and the language is
told."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from apps.sentiment import services
from apps.sentiment.text import WatchItem, entities_match, language_guess, topics_tag
from apps.sentiment.uploads import DocumentRow

TENCENT = WatchItem(1, "Tencent Holdings", "TCEHY", ("腾讯", "腾讯控股"), False)
BANK = WatchItem(2, "Bank of China", "BACHY", ("中国银行", "中行"), True)
GUOYIN = WatchItem(3, "Guoyin Securities", "", ("国银",), False)


def test_a_chinese_alias_is_found_inside_a_sentence_without_spaces() -> None:
    found = entities_match("腾讯控股公布第三季度财报，净利润同比增长。", [TENCENT, BANK])

    assert [(m.entity_id, m.matched) for m in found] == [(1, "腾讯控股")]


def test_a_name_inside_a_longer_chinese_word_is_no_mention() -> None:
    found = entities_match("中国银行宣布下调存款利率。", [BANK, GUOYIN])

    assert [m.entity_id for m in found] == [2]  # 国银 is inside 中国银行, not a word of its own


def test_latin_names_and_tickers_next_to_chinese_characters_match() -> None:
    found = entities_match("分析师看好Tencent Holdings，$TCEHY股价上涨。", [TENCENT])

    assert found and found[0].entity_id == 1 and found[0].mentions == 2


def test_english_matching_is_unchanged() -> None:
    found = entities_match(
        "Tencent Holdings (TCEHY) beat estimates; Bank of Chinatown", [TENCENT, BANK]
    )

    assert [m.entity_id for m in found] == [1]


def test_chinese_topics_are_tagged_from_their_keywords() -> None:
    tags = topics_tag("公司宣布裁员并下调全年业绩指引，监管机构已展开调查。")

    assert {"layoffs", "guidance", "regulation", "earnings"} <= set(tags)
    assert "litigation" not in tags


def test_the_language_of_a_chinese_headline_is_chinese() -> None:
    assert language_guess("腾讯控股公布第三季度财报") == "zh"
    assert language_guess("Tencent beat estimates on strong gaming revenue") == "en"
    assert language_guess("Umsatz", "de") == "de"


@pytest.mark.django_db
def test_ingested_chinese_headlines_store_zh_and_the_feed_filters_by_language(
    analyst_client: Any, source: Any
) -> None:
    rows = [
        DocumentRow(1, "zh-1", "", "北风银行第三季度净利润大幅增长", "", timezone.now(), ""),
        DocumentRow(2, "en-1", "", "Northwind Bank quarterly profit rises sharply", "", None, ""),
    ]
    services.documents_ingest(source_id=source.pk, rows=rows, now=timezone.now())

    chinese = analyst_client.get("/api/sentiment/documents/?language=zh")
    bad = analyst_client.get("/api/sentiment/documents/?language=klingon")

    assert chinese.status_code == 200
    body = chinese.json()
    listed = body["results"] if isinstance(body, dict) else body
    assert [d["title"] for d in listed] == ["北风银行第三季度净利润大幅增长"]
    assert listed[0]["language"] == "zh"
    assert bad.status_code == 400
