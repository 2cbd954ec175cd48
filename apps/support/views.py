"""Pages: customer chat, agent console, knowledge (import + test ask), statistics, articles."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from apps.accounts.models import Role
from apps.accounts.roles import role_required, user_has_role

from . import selectors, services
from .answers import answer_compose
from .models import Article, KnowledgeBase
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
                answer = answer_compose(kb_id=kb.pk, question=question)
        except InvalidText as exc:
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
