"""Pages: customer chat, agent console, knowledge (import + test ask), knowledge base settings,
draft FAQ review, conversation transcripts, statistics, articles."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from apps.accounts.face import Role, role_required, user_has_role
from apps.mlops.runtime import ModelsBusy, model_request_admit

from . import selectors, services
from .answers import answer_compose
from .forms import FAQReviewForm, KnowledgeBaseSettingsForm
from .models import FAQ, Article, Conversation, KnowledgeBase
from .text import InvalidText, markdown_render


def chat(request: HttpRequest) -> HttpResponse:
    return render(request, "support/chat.html")


@role_required(Role.SUPPORT_AGENT)
def console(request: HttpRequest) -> HttpResponse:
    return render(request, "support/console.html")


@role_required(Role.SUPPORT_AGENT)
def stats(request: HttpRequest) -> HttpResponse:
    data = selectors.support_stats(days=30)
    return render(request, "support/stats.html", {"stats": data})


def article_detail(request: HttpRequest, pk: int) -> HttpResponse:
    article = get_object_or_404(Article, pk=pk)
    if article.status != Article.Status.PUBLISHED and not user_has_role(
        request.user, Role.SUPPORT_AGENT
    ):
        raise Http404("No such article")
    return render(
        request,
        "support/article.html",
        {"article": article, "body_html": markdown_render(article.body, article.body_format)},
    )


@role_required(Role.SUPPORT_AGENT)
@require_http_methods(["GET", "POST"])
def knowledge(request: HttpRequest) -> HttpResponse:
    try:
        kb = selectors.knowledge_base_get()
    except KnowledgeBase.DoesNotExist:
        kb = services.knowledge_base_ensure()
    answer = None
    question = ""
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "import_file":
                upload = request.FILES.get("file")
                if upload is None:
                    raise InvalidText("Choose a file to import.")
                # Uploaded files always carry a name and a size (the stubs allow None).
                assert upload.name is not None and upload.size is not None
                if upload.size > services.MAX_IMPORT_BYTES:
                    raise InvalidText(f"{upload.name} is larger than 10 MB.")
                report = services.knowledge_import_file(
                    kb_id=kb.pk, name=upload.name, data=upload.read()
                )
                messages.success(request, _report_text(upload.name, report.as_dict()))
                return redirect("support:knowledge")
            if action == "import_url":
                url = request.POST.get("url", "").strip()
                report = services.knowledge_import_url(kb_id=kb.pk, url=url)
                messages.success(request, _report_text(url, report.as_dict()))
                return redirect("support:knowledge")
            if action == "ask":
                question = request.POST.get("question", "")
                with model_request_admit():
                    answer = answer_compose(kb_id=kb.pk, question=question)
        except (InvalidText, ModelsBusy) as exc:
            # Busy: the page again with the question kept in its box, the reason said once.
            messages.error(request, str(exc))
    return render(
        request,
        "support/knowledge.html",
        {
            "kb": kb,
            "articles": selectors.article_list(kb_id=kb.pk).order_by("-updated_at")[:200],
            "drafts": selectors.faq_list(kb_id=kb.pk, status="draft")[:50],
            "answer": answer,
            "question": question,
        },
    )


def _report_text(what: str, report: dict[str, Any]) -> str:
    text = (
        f"Imported {what}: {report['created']} created, {report['updated']} updated, "
        f"{report['unchanged']} unchanged."
    )
    errors = report.get("errors") or []
    if errors:
        text += f" {len(errors)} rows skipped (first: {errors[0]})."
    return text


def _kb_or_default(kb_id: Any) -> KnowledgeBase:
    try:
        return selectors.knowledge_base_get(int(kb_id) if kb_id else None)
    except (KnowledgeBase.DoesNotExist, ValueError, TypeError):
        if kb_id:
            raise Http404("No such knowledge base") from None
        return services.knowledge_base_ensure()


TRADEOFF_DAYS = (30, 90, 365, 0)  # 0: all of the history


def _float_or_none(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


@role_required(Role.SUPPORT_AGENT)
def knowledge_base_settings_default(request: HttpRequest) -> HttpResponse:
    return redirect("support:kb_settings", pk=_kb_or_default(None).pk)


@role_required(Role.SUPPORT_AGENT)
@require_http_methods(["GET", "POST"])
def knowledge_base_settings(request: HttpRequest, pk: int) -> HttpResponse:
    kb = get_object_or_404(KnowledgeBase, pk=pk)
    if request.method == "POST":
        form = KnowledgeBaseSettingsForm(request.POST)
        if form.is_valid():
            try:
                services.knowledge_base_settings_update(kb_id=kb.pk, **form.cleaned_data)
            except InvalidText as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, f"Saved the settings of {kb.name}.")
                return redirect("support:kb_settings", pk=kb.pk)
    else:
        initial = KnowledgeBaseSettingsForm.initial_of(kb)
        # The trade-off table's "use" links pre-fill the threshold; saving stays explicit.
        proposed = _float_or_none(request.GET.get("handoff_threshold"))
        if proposed is not None and 0 <= proposed <= 1:
            initial["handoff_threshold"] = proposed
        form = KnowledgeBaseSettingsForm(initial=initial)
    wanted = _float_or_none(request.GET.get("days"))
    days = int(wanted) if wanted in TRADEOFF_DAYS else 90
    return render(
        request,
        "support/kb_settings.html",
        {
            "kb": kb,
            "form": form,
            "knowledge_bases": selectors.knowledge_base_list(),
            "tradeoff": selectors.handoff_tradeoff(kb=kb, days=days),
            "days": days,
            "day_choices": TRADEOFF_DAYS,
            "calibration": kb.calibration or {},
        },
        status=400 if form.errors else 200,
    )


def _faq_drafts_page(
    request: HttpRequest, kb: KnowledgeBase, bound: FAQReviewForm | None = None
) -> HttpResponse:
    rows = [
        (review, bound if bound is not None and bound.faq.pk == review.faq.pk else None)
        for review in selectors.faq_drafts_review(kb_id=kb.pk)
    ]
    return render(
        request,
        "support/faq_drafts.html",
        {
            "kb": kb,
            "knowledge_bases": selectors.knowledge_base_list(),
            "rows": [(review, form or FAQReviewForm(faq=review.faq)) for review, form in rows],
            "known_intents": selectors.intents_known(kb_id=kb.pk),
        },
        status=400 if bound is not None else 200,
    )


@role_required(Role.SUPPORT_AGENT)
def faq_drafts(request: HttpRequest) -> HttpResponse:
    return _faq_drafts_page(request, _kb_or_default(request.GET.get("kb")))


@role_required(Role.SUPPORT_AGENT)
@require_POST
def faq_draft_review(request: HttpRequest, pk: int) -> HttpResponse:
    faq = FAQ.objects.filter(pk=pk).select_related("kb").first()
    if faq is None:
        messages.warning(request, "That draft is gone: someone discarded it already.")
        return redirect("support:faq_drafts")
    back = f"{reverse('support:faq_drafts')}?kb={faq.kb_id}"
    action = request.POST.get("action")
    if action == "discard":
        if services.faq_draft_discard(faq_id=faq.pk):
            messages.success(request, f"Discarded the draft “{faq.question}”.")
        else:
            messages.warning(request, f"“{faq.question}” is published already; not discarded.")
        return redirect(back)
    if action not in ("save", "publish"):
        messages.error(request, "Unknown action.")
        return redirect(back)
    form = FAQReviewForm(request.POST, faq=faq)
    if form.is_valid():
        data = form.cleaned_data
        try:
            if action == "publish":
                faq = services.faq_publish(
                    faq_id=faq.pk,
                    question=data["question"],
                    answer=data["answer"],
                    intent=data["intent"],
                    replace_current=data["replace_current"],
                )
            else:
                faq = services.faq_update(
                    faq_id=faq.pk,
                    question=data["question"],
                    answer=data["answer"],
                    intent=data["intent"],
                )
        except InvalidText as exc:
            form.add_error(None, str(exc))
        except FAQ.DoesNotExist:
            messages.warning(request, "That draft is gone: someone discarded it meanwhile.")
            return redirect(back)
        else:
            if action == "publish":
                _publish_notes(request, faq)
            else:
                messages.success(request, f"Saved the draft “{faq.question}”.")
            return redirect(back)
    return _faq_drafts_page(request, faq.kb, bound=form)


def _publish_notes(request: HttpRequest, faq: FAQ) -> None:
    """Say whether the bot will send the pair by itself, and if not, why."""
    messages.success(request, f"Published “{faq.question}”.")
    if not faq.intent:
        messages.warning(
            request,
            "It has no intent, so the bot never sends it by itself; agents get it as a "
            "suggested reply.",
        )
        return
    current = selectors.faq_published_for_intent(kb_id=faq.kb_id, intent=faq.intent)
    if current is not None and current.pk != faq.pk:
        messages.warning(
            request,
            f"The bot keeps answering intent {faq.intent} with “{current.question}” (published "
            "first); this pair is offered to agents as a suggested reply.",
        )
    elif faq.intent not in selectors.article_intents_published(kb_id=faq.kb_id):
        messages.warning(
            request,
            f"No published article carries intent {faq.intent}, so the bot cannot match it; "
            "tag the article that covers it with this intent.",
        )


@role_required(Role.SUPPORT_AGENT)
def conversation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = get_object_or_404(
        Conversation.objects.select_related("kb", "assigned_agent", "customer"), pk=pk
    )
    return render(
        request,
        "support/conversation.html",
        {
            "conversation": conversation,
            "customer": selectors.customer_label(conversation),
            "messages_list": selectors.messages_after(
                conversation_id=conversation.pk, include_notes=True
            ),
        },
    )
