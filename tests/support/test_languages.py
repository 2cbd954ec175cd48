"""Chinese and mixed-language knowledge: language per article, chunk and message, keyword search
on segmented Chinese, the embedding model chosen per knowledge base (its own index, rebuilt on a
change) and cross-lingual retrieval with the real multilingual model."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.conf import settings

from apps.support import retrieval, services
from apps.support.models import Article, Chunk, Message
from apps.support.retrieval import CHUNK_INDEX, kb_index, passages_retrieve
from tests.support.conftest import HashingEmbedder

pytestmark = pytest.mark.django_db

PASSWORD_ZH = """# 重置密码

## 忘记密码
在登录页面点击“忘记密码”，输入您注册时使用的邮箱。我们会发送一封重置密码的邮件，链接在三十分钟内有效。
"""
REFUND_ZH = """# 退款政策

## 退款时间
购买后三十天内可申请全额退款。退款会在五个工作日内退回到您的原支付方式。
"""


class MultilingualStandIn(HashingEmbedder):
    dim = 512  # the multilingual model's width: its index is not MiniLM's


@pytest.fixture
def zh_kb(kb: Any) -> Any:
    services.article_upsert(kb_id=kb.pk, title="重置密码", body=PASSWORD_ZH, source_key="pw-zh")
    services.article_upsert(kb_id=kb.pk, title="退款政策", body=REFUND_ZH, source_key="refund-zh")
    return kb


def test_articles_and_chunks_store_their_language(zh_kb: Any) -> None:
    assert Article.objects.get(source_key="pw-zh").language == "zh"
    assert Article.objects.get(title="Card delivery").language == "en"
    assert set(
        Chunk.objects.filter(article__source_key="refund-zh").values_list("language", flat=True)
    ) == {"zh"}


def test_a_chinese_question_finds_the_chinese_article_by_its_words(zh_kb: Any) -> None:
    passages = passages_retrieve(kb_id=zh_kb.pk, query="怎么重置我的密码？", k=3)

    assert passages[0].title == "重置密码"
    assert passages[0].keyword > 0  # BM25 matched segmented words, not only the vectors


def test_the_article_list_filters_by_language_and_refuses_an_unknown_code(
    zh_kb: Any, agent_api: Any
) -> None:
    chinese = agent_api.get(f"/api/support/articles/?kb={zh_kb.pk}&language=zh")
    bad = agent_api.get("/api/support/articles/?language=klingon")

    assert chinese.status_code == 200
    titles = {a["title"] for a in chinese.json()["results"]}
    assert titles == {"重置密码", "退款政策"}
    assert {a["language"] for a in chinese.json()["results"]} == {"zh"}
    assert bad.status_code == 400 and "language" in bad.json()


def test_customer_messages_store_their_language(zh_kb: Any) -> None:
    from tests.support.helpers import conversation_asked

    conversation = conversation_asked(zh_kb, "我的卡还没有寄到，怎么办？")

    asked = Message.objects.get(conversation=conversation, sender=Message.Sender.CUSTOMER)
    assert asked.language == "zh"


def test_a_new_embedding_model_moves_the_vectors_into_its_own_index(
    zh_kb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from apps.mlops import vectors

    multilingual = MultilingualStandIn()
    monkeypatch.setattr(vectors, "model_embedder_get", lambda model: multilingual)
    chunk_ids = set(Chunk.objects.filter(kb=zh_kb).values_list("id", flat=True))
    assert set(kb_index(CHUNK_INDEX, "minilm").current().ids().tolist()) >= chunk_ids

    changed = services.knowledge_base_embedding_model_set(kb_id=zh_kb.pk, model="multilingual")
    services.knowledge_embed(kb_id=zh_kb.pk)  # what the queued task does

    assert changed
    assert set(kb_index(CHUNK_INDEX, "multilingual").current().ids().tolist()) == chunk_ids
    assert not chunk_ids & set(kb_index(CHUNK_INDEX, "minilm").current().ids().tolist())
    passages = passages_retrieve(kb_id=zh_kb.pk, query="退款要多久？", k=1)
    assert passages[0].title == "退款政策"
    assert multilingual.calls[-1] == "退款要多久？"  # the question went to the KB's model


def test_an_unknown_embedding_model_is_refused_and_changes_nothing(
    zh_kb: Any, agent_api: Any
) -> None:
    response = agent_api.patch(
        f"/api/support/knowledge-bases/{zh_kb.pk}/", {"embedding_model": "word2vec"}, format="json"
    )

    assert response.status_code == 400
    zh_kb.refresh_from_db()
    assert zh_kb.embedding_model == "minilm"


@pytest.mark.slow
def test_cross_lingual_retrieval_with_the_real_multilingual_model(zh_kb: Any) -> None:
    from apps.mlops import vectors

    retrieval.retrieval_state_reset()
    # The real model, not the stand-in the kb fixture installs for MiniLM.
    assert vectors.model_embedder_get.__module__ == "apps.mlops.vectors"
    services.article_upsert(
        kb_id=zh_kb.pk,
        title="Lost or stolen card",
        body="# Lost or stolen card\n\nFreeze your card in the app at once, then order a new one.",
    )
    services.knowledge_base_embedding_model_set(kb_id=zh_kb.pk, model="multilingual")
    services.knowledge_embed(kb_id=zh_kb.pk)

    english = passages_retrieve(kb_id=zh_kb.pk, query="How do I reset my password?", k=1)
    chinese = passages_retrieve(kb_id=zh_kb.pk, query="我的银行卡丢了，怎么冻结？", k=1)

    assert english[0].title == "重置密码"
    assert chinese[0].title == "Lost or stolen card"


def test_a_gb18030_markdown_file_imports_as_a_chinese_article(kb: Any) -> None:
    services.knowledge_import_file(kb_id=kb.pk, name="退款.md", data=REFUND_ZH.encode("gb18030"))

    article = Article.objects.get(kb=kb, title="退款政策")
    assert "三十天内可申请全额退款" in article.body
    assert article.language == "zh"


def test_the_widget_texts_come_in_chinese_for_a_chinese_browser(client: Any) -> None:
    chinese = client.get("/support/widget-i18n.js", HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9")
    english = client.get("/support/widget-i18n.js", HTTP_ACCEPT_LANGUAGE="en-GB")
    page = client.get("/support/chat/", HTTP_ACCEPT_LANGUAGE="zh-CN")

    # The catalog is JavaScript with JSON-escaped strings.
    human, question = json.dumps("转人工客服"), json.dumps("请输入您的问题…")
    assert chinese.status_code == 200
    assert chinese["Content-Language"] == "zh-hans"
    assert human in chinese.content.decode() and question in chinese.content.decode()
    assert human not in english.content.decode()
    html = page.content.decode()
    assert '<html lang="zh-hans">' in html
    # The catalog loads before the widget, which reads window.gettext when it starts.
    assert html.index("/support/widget-i18n.js") < html.index("support/widget.js")


def test_every_widget_text_has_a_chinese_translation(client: Any) -> None:
    widget = (settings.BASE_DIR / "static" / "support" / "widget.js").read_text(encoding="utf-8")
    texts = set(re.findall(r'\bt\("((?:[^"\\]|\\.)*)"\)', widget))

    catalog = client.get("/support/widget-i18n.js", HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()

    assert len(texts) > 20
    untranslated = sorted(text for text in texts if json.dumps(text) not in catalog)
    assert untranslated == []


@pytest.mark.slow
def test_a_chinese_training_set_fine_tunes_the_multilingual_base(model_dirs: Any) -> None:
    from io import StringIO

    from django.core.management import call_command

    from apps.mlops.models import ModelVersion
    from apps.support.demo import ZH_DATA
    from apps.support.intent import INTENT_MODEL

    out = StringIO()
    call_command(
        "support_train",
        "--data",
        str(ZH_DATA / "intents_zh.csv"),
        "--epochs",
        "1",
        "--max-steps",
        "4",
        "--ensemble",
        "1",
        "--neighbours",
        "0",
        "--no-calibrate",
        stdout=out,
    )

    version = ModelVersion.objects.get(name=INTENT_MODEL)
    assert "base model: multilingual" in out.getvalue()
    assert version.base_model.endswith("multilingual-e5-small")
    assert version.data_size == 96


def test_english_keeps_its_tokens_index_and_base_model() -> None:
    from apps.mlops.runtime import index_name
    from apps.support.text import tokens
    from mlcore.language import base_model_pick

    # The English path never reaches the segmenter: the same stems as before this change.
    assert tokens("Hi, how do I reset my cards' PINs? I was charged twice!") == [
        "reset",
        "card",
        "pin",
        "charg",
        "twic",
    ]
    assert index_name(CHUNK_INDEX, "minilm") == "support-chunks"  # the existing index
    assert base_model_pick(["My card was stolen", "How do I top up?"] * 20) == "minilm"
    assert base_model_pick(["我的卡被偷了", "How do I top up?"] * 20) == "multilingual"
