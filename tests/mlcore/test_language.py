"""Language per text (lingua, offline) and Chinese word segmentation (jieba) with user words."""

from __future__ import annotations

from mlcore.language import han_share, is_chinese_or_mixed, language_detect
from mlcore.segment import user_words_add, word_spans, words_split


def test_languages_are_told_apart_and_short_text_gets_the_default() -> None:
    assert language_detect("腾讯公布第三季度财报，净利润大幅增长。") == "zh"
    assert language_detect("我的 Visa card 丢了怎么办") == "zh"  # Chinese with an English name
    assert language_detect("The quarterly profit rose sharply on strong demand.") == "en"
    assert language_detect("Der Umsatz ist im dritten Quartal deutlich gestiegen.") == "de"
    assert language_detect("ok", default="en") == "en"
    assert language_detect("   ") == ""


def test_a_training_set_with_a_tenth_chinese_counts_as_mixed() -> None:
    english = ["My card was stolen yesterday evening"] * 9

    assert is_chinese_or_mixed([*english, "我的卡昨天被偷了"])
    assert not is_chinese_or_mixed(english)
    assert han_share("abc中文") == 0.4


def test_chinese_is_segmented_into_words_without_punctuation() -> None:
    words = words_split("如何重置我的密码？请帮忙。")

    assert "密码" in words and "重置" in words
    assert "？" not in words and "。" not in words


def test_user_words_stay_whole_and_spans_point_into_the_text() -> None:
    text = "小鹏汽车发布新款车型"
    assert "小鹏汽车" not in words_split(text)

    user_words_add(["小鹏汽车", "Acme"])  # Latin-only words never reach jieba

    assert words_split(text)[0] == "小鹏汽车"
    assert (0, 4) in word_spans(text)
    assert "搜索" in words_split("搜索引擎", for_search=True)
