"""Language backfill (`manage.py languages_backfill`): rows stored before language detection get
the language their writes would store now, in batches, with progress; a second run changes
nothing; rows that already have a language and texts too short to tell are left alone."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from apps.recommender.models import Item
from apps.sentiment.models import Document
from apps.support.models import Article, Chunk, Message
from tests.recommender.factories import ItemFactory
from tests.sentiment.factories import DocumentFactory, SourceFactory
from tests.support.factories import ArticleFactory, ChunkFactory, MessageFactory

pytestmark = pytest.mark.django_db

ZH_BODY = "如果您的银行卡丢失或被盗，请立即在应用中冻结银行卡，然后申请补办一张新卡。"
EN_BODY = "If your card is lost or stolen, freeze it in the app at once and order a new one."


def _backfill(*args: str) -> str:
    out = StringIO()
    call_command("languages_backfill", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def old_rows() -> dict[str, Any]:
    """Rows as stored before language detection: every language empty."""
    zh_article = ArticleFactory(title="挂失银行卡", body=ZH_BODY)
    rows = {
        "zh_article": zh_article,
        "en_article": ArticleFactory(title="Lost card", body=EN_BODY),
        "zh_chunk": ChunkFactory(article=zh_article, text=ZH_BODY),
        # Too short to tell alone: takes its article's language, as chunking does.
        "short_chunk": ChunkFactory(article=zh_article, text="OK"),
        "zh_message": MessageFactory(text="我的卡丢了，怎么办？"),
        "short_message": MessageFactory(text="thanks"),
        "en_document": DocumentFactory(
            title="Kestrel Airlines raises its profit forecast after a strong summer",
            source=SourceFactory(language=""),
        ),
        "zh_document": DocumentFactory(title="北风银行第三季度利润大幅增长，股价上涨"),
        "zh_item": ItemFactory(title="单人帐篷", description="自立式单人帐篷，几分钟即可搭好。"),
        "en_item": ItemFactory(title="Camp lantern", description="Lights up your campsite."),
        # Already has a language (set by a write): the backfill never overrides it.
        "fr_item": ItemFactory(title="Lampe de camping", description="Éclaire votre campement."),
    }
    for model in (Article, Chunk, Message, Document):
        model.objects.update(language="")
    Item.objects.exclude(pk=rows["fr_item"].pk).update(language="")
    Item.objects.filter(pk=rows["fr_item"].pk).update(language="fr")
    return rows


def _language(row: Any) -> str:
    row.refresh_from_db()
    return str(row.language)


def test_the_backfill_fills_every_app_with_the_rule_of_its_writes(old_rows: dict[str, Any]) -> None:
    output = _backfill()

    expected = {
        "zh_article": "zh",
        "en_article": "en",
        "zh_chunk": "zh",
        "short_chunk": "zh",
        "zh_message": "zh",
        "short_message": "",
        "en_document": "en",
        "zh_document": "zh",
        "zh_item": "zh",
        "en_item": "en",
        "fr_item": "fr",
    }
    assert {name: _language(row) for name, row in old_rows.items()} == expected
    assert "support.article: 2/2 rows, 2 filled, 0 too short to tell" in output
    assert "support.message: 2/2 rows, 1 filled, 1 too short to tell" in output
    assert "recommender.item: 2/2 rows, 2 filled" in output


def test_a_second_run_changes_nothing(old_rows: dict[str, Any]) -> None:
    _backfill()
    before = {name: _language(row) for name, row in old_rows.items()}

    output = _backfill()

    assert {name: _language(row) for name, row in old_rows.items()} == before
    assert "support.article: nothing to fill" in output
    assert "recommender.item: nothing to fill" in output
    # The one undecidable message is looked at again, and stays empty.
    assert "support.message: 1/1 rows, 0 filled, 1 too short to tell" in output


def test_batches_report_progress_as_they_go(old_rows: dict[str, Any]) -> None:
    for n in range(3):
        ItemFactory(title=f"Trail mug {n}", description="An enamel mug for camp coffee.")
    Item.objects.filter(language="en").update(language="")

    output = _backfill("--only", "recommender.item", "--batch", "2")

    lines = [line.strip() for line in output.splitlines() if line.startswith("  ")]
    assert [line.split(" rows")[0] for line in lines] == [
        "recommender.item: 2/5",
        "recommender.item: 4/5",
        "recommender.item: 5/5",
    ]
    assert not Item.objects.filter(language="").exists()
    assert _language(old_rows["zh_article"]) == ""  # --only: the other targets wait


def test_an_unknown_target_is_refused_and_nothing_changes(old_rows: dict[str, Any]) -> None:
    with pytest.raises(CommandError, match=r"unknown target 'support\.faq'"):
        _backfill("--only", "support.faq,recommender.item")

    assert not Item.objects.filter(language__in=["zh", "en"]).exists()
