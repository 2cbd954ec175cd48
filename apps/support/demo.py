"""Demo help centres: the digital bank's (articles, FAQ pairs, past conversations, a trained
intent model and a calibrated handoff threshold), its Chinese section, and the outdoor shop's
(Trailhead & Hearth: shipping, returns, sizes, warranty...), which the storefront's chat
answers from. Idempotent: re-running updates in place."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.db import transaction

from apps.mlops import services as mlops_services

from .intent import INTENT_MODEL, eval_rows_of_production
from .models import Article, CannedResponse, KnowledgeBase
from .services import (
    article_upsert,
    faq_upsert,
    knowledge_base_calibrate,
    knowledge_base_embedding_model_set,
    knowledge_base_ensure,
    knowledge_embed,
    past_conversation_upsert,
)

DATA = Path(__file__).resolve().parent / "demo_data"
KB_NAME = "Help centre"
# The Chinese section: its own knowledge base on the multilingual (cross-lingual) embedder.
ZH_DATA = DATA / "zh"
ZH_KB_NAME = "帮助中心（中文）"
# The outdoor shop's help centre (demo_data/shop), named "shop" for the storefront's widget
# (settings.SHOP_SUPPORT_KB).
SHOP_DATA = DATA / "shop"
SHOP_KB_NAME = "Trailhead & Hearth help centre"
SHOP_KB_SLUG = "shop"
SHOP_GREETING = (
    "Hi! I'm the Trailhead & Hearth assistant. Ask me about your order, delivery, returns, "
    "sizes or warranty."
)
SHOP_SCOPE = "questions about orders, delivery, returns, sizes, warranty and gear care"

# The intent vocabulary of the demo: the 77 label names of banking77 (names only), so real
# customer queries can measure retrieval against the demo articles.
BANKING77_INTENTS = [
    "card_arrival",
    "card_linking",
    "exchange_rate",
    "card_payment_wrong_exchange_rate",
    "extra_charge_on_statement",
    "pending_cash_withdrawal",
    "fiat_currency_support",
    "card_delivery_estimate",
    "automatic_top_up",
    "card_not_working",
    "exchange_via_app",
    "lost_or_stolen_card",
    "age_limit",
    "pin_blocked",
    "contactless_not_working",
    "top_up_by_bank_transfer_charge",
    "pending_top_up",
    "cancel_transfer",
    "top_up_limits",
    "wrong_amount_of_cash_received",
    "card_payment_fee_charged",
    "transfer_not_received_by_recipient",
    "supported_cards_and_currencies",
    "getting_virtual_card",
    "card_acceptance",
    "top_up_reverted",
    "balance_not_updated_after_cheque_or_cash_deposit",
    "card_payment_not_recognised",
    "edit_personal_details",
    "why_verify_identity",
    "unable_to_verify_identity",
    "get_physical_card",
    "visa_or_mastercard",
    "topping_up_by_card",
    "disposable_card_limits",
    "compromised_card",
    "atm_support",
    "direct_debit_payment_not_recognised",
    "passcode_forgotten",
    "declined_cash_withdrawal",
    "pending_card_payment",
    "lost_or_stolen_phone",
    "request_refund",
    "declined_transfer",
    "Refund_not_showing_up",
    "declined_card_payment",
    "pending_transfer",
    "terminate_account",
    "card_swallowed",
    "transaction_charged_twice",
    "verify_source_of_funds",
    "transfer_timing",
    "reverted_card_payment?",
    "change_pin",
    "beneficiary_not_allowed",
    "transfer_fee_charged",
    "receiving_money",
    "failed_transfer",
    "transfer_into_account",
    "verify_top_up",
    "getting_spare_card",
    "top_up_by_cash_or_cheque",
    "order_physical_card",
    "virtual_card_not_working",
    "wrong_exchange_rate_for_cash_withdrawal",
    "get_disposable_virtual_card",
    "top_up_failed",
    "balance_not_updated_after_bank_transfer",
    "cash_withdrawal_not_recognised",
    "exchange_charge",
    "top_up_by_card_charge",
    "activate_my_card",
    "cash_withdrawal_charge",
    "card_about_to_expire",
    "apple_pay_or_google_pay",
    "verify_my_identity",
    "country_support",
]

CANNED = [
    ("Greeting", "Hi, thanks for waiting! I'm looking at your conversation now."),
    ("Need more details", "Could you tell me the date, amount and merchant of the payment?"),
    ("Checking", "Thanks, I'm checking this for you. It will take a minute or two."),
    ("Card frozen", "I've frozen your card for safety. You can unfreeze it in the app anytime."),
    ("Anything else", "Is there anything else I can help you with today?"),
]


def articles_parse(pattern: str = "help_centre_*.md", folder: Path = DATA) -> list[dict[str, Any]]:
    """Articles from demo_data/help_centre_*.md: '@@ slug | intents | tags' then Markdown."""
    out: list[dict[str, Any]] = []
    for path in sorted(folder.glob(pattern)):
        for block in re.split(r"^@@ ", path.read_text(encoding="utf-8"), flags=re.M)[1:]:
            header, _, body = block.partition("\n")
            slug, intents, tags = (part.strip() for part in header.split("|"))
            title = body.strip().splitlines()[0].lstrip("# ").strip()
            out.append(
                {
                    "slug": slug,
                    "title": title,
                    "body": body.strip(),
                    "intents": [i.strip() for i in intents.split(",") if i.strip()],
                    "tags": [t.strip() for t in tags.split(",") if t.strip()],
                }
            )
    return out


def intents_parse() -> dict[str, dict[str, Any]]:
    """Per intent: the FAQ question and answer, and past customer questions."""
    out: dict[str, dict[str, Any]] = {}
    for path in sorted(DATA.glob("intents_*.txt")):
        for block in re.split(r"^@@ ", path.read_text(), flags=re.M)[1:]:
            lines = [line.strip() for line in block.strip().splitlines() if line.strip()]
            entry: dict[str, Any] = {"question": "", "answer": "", "past": []}
            for line in lines[1:]:
                if line.startswith("Q: "):
                    entry["question"] = line[3:]
                elif line.startswith("A: "):
                    entry["answer"] = line[3:]
                elif line.startswith("- "):
                    entry["past"].append(line[2:])
            out[lines[0]] = entry
    return out


def demo_knowledge_load(*, log: Callable[[str], None] = print) -> KnowledgeBase:
    """Articles, FAQ pairs, past conversations and canned responses, embedded and indexed."""
    kb = knowledge_base_ensure(name=KB_NAME, slug="bank")
    articles = articles_parse()
    intents = intents_parse()
    unknown = {i for a in articles for i in a["intents"]} - set(BANKING77_INTENTS)
    if unknown:
        raise ValueError(f"demo articles use unknown intents: {sorted(unknown)}")
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    article_of_intent: dict[str, int] = {}
    with transaction.atomic():
        for item, (article, outcome) in zip(
            articles, _demo_articles_upsert(kb.pk, articles), strict=True
        ):
            counts[outcome] += 1
            for intent in item["intents"]:
                article_of_intent.setdefault(intent, article.pk)
        for intent, entry in intents.items():
            faq_upsert(
                kb_id=kb.pk,
                question=entry["question"],
                answer=entry["answer"],
                intent=intent,
                article_id=article_of_intent.get(intent),
            )
            for question in entry["past"]:
                past_conversation_upsert(
                    kb_id=kb.pk, question=question, best_reply=entry["answer"], intent=intent
                )
        for title, text in CANNED:
            CannedResponse.objects.update_or_create(title=title, defaults={"text": text})
    log(
        f"   articles: {counts['created']} created, {counts['updated']} updated, "
        f"{counts['unchanged']} unchanged; {len(intents)} FAQ pairs; "
        f"{sum(len(e['past']) for e in intents.values())} past conversations"
    )
    started = time.monotonic()
    embedded = knowledge_embed(kb_id=kb.pk)
    log(f"   embedded {embedded} passages and questions in {time.monotonic() - started:.0f}s")
    kb.refresh_from_db()
    return kb


def _demo_articles_upsert(kb_id: int, articles: list[dict[str, Any]]) -> list[tuple[Article, str]]:
    """Upsert parsed demo articles, keyed by their slug: (article, created|updated|unchanged)."""
    return [
        article_upsert(
            kb_id=kb_id,
            title=item["title"],
            body=item["body"],
            source_key=f"demo:{item['slug']}",
            tags=item["tags"],
            intents=item["intents"],
        )
        for item in articles
    ]


def _articles_load(
    kb: KnowledgeBase, filename: str, folder: Path, what: str, log: Callable[[str], None]
) -> KnowledgeBase:
    """Upsert the articles of a demo help-centre file into `kb` and embed them."""
    articles = articles_parse(filename, folder)
    with transaction.atomic():
        _demo_articles_upsert(kb.pk, articles)
    embedded = knowledge_embed(kb_id=kb.pk)
    log(f"   {what}: {len(articles)} articles, embedded {embedded} passages")
    kb.refresh_from_db()
    return kb


def demo_knowledge_zh_load(*, log: Callable[[str], None] = print) -> KnowledgeBase:
    """The Chinese section of the help centre (demo_data/zh): its own knowledge base on the
    multilingual embedder, so English and Chinese questions both find its articles."""
    kb = knowledge_base_ensure(name=ZH_KB_NAME)
    if kb.greeting == KnowledgeBase._meta.get_field("greeting").default:
        KnowledgeBase.objects.filter(pk=kb.pk).update(
            greeting="您好！请问有什么可以帮您？关于账户、银行卡和付款的问题都可以问我。"
        )
    knowledge_base_embedding_model_set(kb_id=kb.pk, model="multilingual")
    return _articles_load(kb, "help_centre_zh.md", ZH_DATA, "Chinese help centre", log)


def demo_knowledge_shop_load(*, log: Callable[[str], None] = print) -> KnowledgeBase:
    """The outdoor shop's help centre (demo_data/shop): its own knowledge base, greeting and
    scope, so the storefront's chat no longer speaks for the bank. Its articles carry no
    intents, so it is answered from its passages (the intent model knows the bank's intents)."""
    kb = knowledge_base_ensure(name=SHOP_KB_NAME, slug=SHOP_KB_SLUG)
    KnowledgeBase.objects.filter(pk=kb.pk).update(greeting=SHOP_GREETING, scope=SHOP_SCOPE)
    return _articles_load(kb, "help_centre_shop.md", SHOP_DATA, "shop help centre", log)


def demo_load(*, log: Callable[[str], None] = print, train: bool = True) -> None:
    demo_knowledge_load(log=log)
    demo_knowledge_zh_load(log=log)
    demo_knowledge_shop_load(log=log)
    if train:
        demo_train(log=log)
    else:
        log("   intent model: not trained now (manage.py demo_train trains it)")


def demo_train(*, log: Callable[[str], None] = print, max_steps: int | None = None) -> None:
    """Train the support-intent model on the demo's past conversations unless one is in
    production, then calibrate the handoff confidence on its held-out questions. `max_steps`
    caps the fine-tuning."""
    kb = knowledge_base_ensure(name=KB_NAME, slug="bank")
    if mlops_services.model_available(INTENT_MODEL):
        log("   intent model: a production version exists, not retraining")
    else:
        log("   training the support-intent model on the demo past conversations...")
        params: dict[str, int] = {"kb_id": kb.pk}
        if max_steps:
            params["max_steps"] = max_steps
        run = mlops_services.model_train_here(name=INTENT_MODEL, params=params, log=log)
        log(f"   intent model: accuracy {run.metrics.get('accuracy', 0):.3f}")
    rows = eval_rows_of_production()
    if len(rows) >= 10:
        table = knowledge_base_calibrate(kb_id=kb.pk, rows=rows)
        log(
            f"   confidence calibrated on {table['n']} held-out questions "
            f"(base accuracy {table['base_rate']:.2f})"
        )
