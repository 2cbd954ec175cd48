"""Knowledge reads: knowledge bases, articles, FAQ pairs, intents, the draft FAQ review."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet

from ..models import FAQ, Article, CannedResponse, KnowledgeBase
from ..text import InvalidText


def knowledge_base_get(kb_id: int | None = None) -> KnowledgeBase:
    """The given KB, else the default one (the first created when none is marked default)."""
    if kb_id:
        return KnowledgeBase.objects.get(pk=kb_id)
    kb = KnowledgeBase.objects.filter(is_default=True).first() or KnowledgeBase.objects.first()
    if kb is None:
        raise KnowledgeBase.DoesNotExist("no knowledge base yet")
    return kb


def knowledge_base_named(ref: str | int | None) -> KnowledgeBase:
    """The knowledge base a page's chat widget names (its slug, or its id); the default one
    when it names none. InvalidText for a name no knowledge base has, so a page that names
    the wrong one gets a clear error rather than another knowledge base's answers."""
    text = str(ref).strip() if ref is not None else ""
    if not text:
        return knowledge_base_get(None)
    kb = KnowledgeBase.objects.filter(slug=text).first()
    if kb is None and text.isdigit():
        kb = KnowledgeBase.objects.filter(pk=int(text)).first()
    if kb is None:
        raise InvalidText(f'Unknown knowledge base "{text[:50]}".')
    return kb


def article_intents_map(*, kb_id: int) -> dict[int, tuple[str, ...]]:
    return {
        pk: tuple(intents or ())
        for pk, intents in Article.objects.filter(kb_id=kb_id).values_list("id", "intents")
    }


def article_list(
    *, kb_id: int | None = None, status: str | None = None, language: str | None = None
) -> QuerySet[Article]:
    qs = Article.objects.all()
    if kb_id:
        qs = qs.filter(kb_id=kb_id)
    if status:
        qs = qs.filter(status=status)
    if language:
        qs = qs.filter(language=language)
    return qs


def faq_list(*, kb_id: int | None = None, status: str | None = None) -> QuerySet[FAQ]:
    qs = FAQ.objects.all()
    if kb_id:
        qs = qs.filter(kb_id=kb_id)
    if status:
        qs = qs.filter(status=status)
    return qs


def canned_response_list() -> QuerySet[CannedResponse]:
    return CannedResponse.objects.all()


# -- draft FAQ review ------------------------------------------------------------------------
@dataclass(frozen=True)
class FaqDraftReview:
    """A draft FAQ pair with what decides whether the bot will send it once published."""

    faq: FAQ
    # The published pair the bot sends for this intent now (it picks the oldest one).
    current: FAQ | None
    # The bot sends an FAQ answer only when a top passage's article carries the intent.
    intent_on_articles: bool


def article_intents_published(*, kb_id: int) -> set[str]:
    found: set[str] = set()
    for intents in Article.objects.filter(kb_id=kb_id, status=Article.Status.PUBLISHED).values_list(
        "intents", flat=True
    ):
        found.update(intents or ())
    return found


def intents_known(*, kb_id: int) -> list[str]:
    """Intents the KB's published articles and FAQ pairs carry (suggestions for reviewers)."""
    found = article_intents_published(kb_id=kb_id)
    found.update(
        FAQ.objects.filter(kb_id=kb_id).exclude(intent="").values_list("intent", flat=True)
    )
    return sorted(found)


def faq_published_for_intent(*, kb_id: int, intent: str) -> FAQ | None:
    """The published pair `answer_compose` sends for this intent (the oldest), if any."""
    if not intent:
        return None
    qs = FAQ.objects.filter(kb_id=kb_id, status=FAQ.Status.PUBLISHED, intent=intent)
    return qs.order_by("id").first()


def faq_drafts_review(*, kb_id: int) -> list[FaqDraftReview]:
    drafts = list(
        FAQ.objects.filter(kb_id=kb_id, status=FAQ.Status.DRAFT)
        .select_related("source_conversation")
        .order_by("-created_at", "-id")
    )
    intents = {f.intent for f in drafts if f.intent}
    current: dict[str, FAQ] = {}
    for faq in FAQ.objects.filter(
        kb_id=kb_id, status=FAQ.Status.PUBLISHED, intent__in=intents
    ).order_by("-id"):
        current[faq.intent] = faq  # the last one written wins: the oldest, as answers pick it
    on_articles = article_intents_published(kb_id=kb_id)
    return [
        FaqDraftReview(
            faq=f, current=current.get(f.intent), intent_on_articles=f.intent in on_articles
        )
        for f in drafts
    ]


def knowledge_base_list() -> QuerySet[KnowledgeBase]:
    return KnowledgeBase.objects.all()
