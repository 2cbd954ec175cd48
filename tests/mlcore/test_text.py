"""Sentences (prose, and line by line for knowledge-base text) and content hashes."""

from __future__ import annotations

from mlcore.text import content_hash, sentences_split


# -- prose -----------------------------------------------------------------------------------------
def test_long_text_splits_into_sentences_without_breaking_abbreviations() -> None:
    text = (
        "Acme Corp. said revenue rose 5%. Costs climbed faster! Will margins recover? "
        "Mr. Smith declined to comment."
    )

    parts = sentences_split(text)

    assert parts == [
        "Acme Corp. said revenue rose 5%.",
        "Costs climbed faster!",
        "Will margins recover?",
        "Mr. Smith declined to comment.",
    ]


def test_abbreviations_before_numbers_names_and_dates_do_not_end_a_sentence() -> None:
    text = (
        "Plant No. 3 was closed on Jan. 15 after a fire. Mrs. Smith, the CFO, resigned. "
        "J.P. Morgan cut its target. The U.K. regulator fined it. Shares fell."
    )

    assert sentences_split(text) == [
        "Plant No. 3 was closed on Jan. 15 after a fire.",
        "Mrs. Smith, the CFO, resigned.",
        "J.P. Morgan cut its target.",
        "The U.K. regulator fined it.",
        "Shares fell.",
    ]


def test_a_sentence_ending_in_a_quote_or_followed_by_a_currency_is_split() -> None:
    text = (
        "The CEO said: “Demand collapsed.” Shares fell 10%. Sales rose 5% (to EUR 1.5 mn.) "
        "€5m was spent on buybacks. Was it enough?” Analysts doubted it."
    )

    assert sentences_split(text) == [
        "The CEO said: “Demand collapsed.”",
        "Shares fell 10%.",
        "Sales rose 5% (to EUR 1.5 mn.)",
        "€5m was spent on buybacks.",
        "Was it enough?”",
        "Analysts doubted it.",
    ]


def test_paragraphs_and_bullets_without_full_stops_are_separate_sentences() -> None:
    text = "Profit fell sharply\n\nCEO resigns\n- Shares plunge 20%\n• Guidance cut\nwrapped line"

    assert sentences_split(text) == [
        "Profit fell sharply",
        "CEO resigns",
        "Shares plunge 20%",
        "Guidance cut wrapped line",
    ]


def test_a_run_on_sentence_is_cut_into_pieces_the_model_reads_whole() -> None:
    clause = "the group reported higher volumes in its northern markets"
    text = ", ".join([clause] * 12) + ", but it warned that full-year profit would collapse."

    parts = sentences_split(text)

    assert len(parts) > 1
    assert all(len(p) <= 250 for p in parts)
    assert parts[-1].endswith("full-year profit would collapse.")
    assert " ".join(parts).replace(" ", "") == text.replace(" ", "")  # nothing lost


# -- line by line ---------------------------------------------------------------------------------
def test_line_rule_splits_each_line_and_keeps_every_piece_whole() -> None:
    text = "Cards arrive in 3 days. Mr. Smith can help!\nOk. A\n\nlong line without a stop " + (
        "word " * 80
    )

    parts = sentences_split(text, lines=True)

    assert parts == [
        "Cards arrive in 3 days.",
        "Mr.",
        "Smith can help!",
        "Ok.",
        "A",
        "long line without a stop " + ("word " * 80).strip(),
    ]


# -- hashes ----------------------------------------------------------------------------------------
def test_exact_hash_tells_parts_apart_and_normalised_hash_ignores_case_and_spacing() -> None:
    assert content_hash("ab", "c") != content_hash("a", "bc")
    assert content_hash("Title", "Body") != content_hash("title", "body")
    assert content_hash("Kestrel  cuts", "Routes\n") == content_hash("Kestrel  cuts", "Routes\n")
    assert content_hash("Kestrel  cuts", "Routes\n", normalised=True) == content_hash(
        "kestrel cuts", "routes", normalised=True
    )
    # Stored digests do not move: the apps have written these forms all along.
    assert content_hash("a", "b") == (
        "f04cdced9736a69da6103f08a4daaf8c485dd481217d218a1b4993c8c3968e13"
    )
    assert content_hash("Kestrel cuts", "routes", normalised=True) == (
        "e0160b1fda4dc59b06487e8233825b2370e6e58e607bbb3c2935241ce26fd940"
    )


def test_chinese_text_splits_on_full_width_sentence_ends_and_keeps_closing_quotes() -> None:
    text = "腾讯公布财报。净利润增长20%！这是好消息吗？市场反应积极……分析师表示“前景乐观。”下一段"

    assert sentences_split(text) == [
        "腾讯公布财报。",
        "净利润增长20%！",
        "这是好消息吗？",
        "市场反应积极……",
        "分析师表示“前景乐观。”",
        "下一段",
    ]
    assert sentences_split("第一行。第二行；\nLine two. Line three.", lines=True) == [
        "第一行。",
        "第二行；",
        "Line two.",
        "Line three.",
    ]


def test_english_with_an_ellipsis_splits_and_hashes_as_before() -> None:
    text = "Shares fell… then recovered! Acme Corp. said so."

    assert sentences_split(text) == ["Shares fell… then recovered!", "Acme Corp. said so."]
    assert content_hash(*sentences_split(text)) == content_hash(
        "Shares fell… then recovered!", "Acme Corp. said so."
    )


def test_a_long_chinese_sentence_is_cut_after_a_comma() -> None:
    pieces = sentences_split("很长的句子，" * 60, max_chars=50)

    assert all(len(p) <= 50 and p.endswith("，") for p in pieces)
