"""The training candidates page: questions from resolved conversations whose answer was rated
helpful or confirmed by an agent, for an agent to accept, correct (choose the intent) or reject
(the same rows as /api/support/training-candidates/)."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from apps.accounts.face import Role, role_required

from . import selectors, services
from .models import TrainingCandidate
from .text import InvalidText
from .views import _kb_or_default

PER_PAGE = 25
STATUS_FILTERS = {"proposed": "To review", "accepted": "Accepted", "rejected": "Rejected"}
ALL = "all"


def _filters(request: HttpRequest) -> tuple[dict[str, str], list[str]]:
    """The page's filters from the query string, and what was wrong with them."""
    params = request.GET
    found = {
        "status": params.get("status") or "proposed",
        "source": params.get("source") or "",
        "intent": params.get("intent") or "",
        "q": (params.get("q") or "").strip()[:200],
    }
    problems = []
    if found["status"] not in (*STATUS_FILTERS, ALL):
        problems.append(f"Unknown status “{found['status']}”.")
    if found["source"] and found["source"] not in TrainingCandidate.Source.values:
        problems.append(f"Unknown source “{found['source']}”.")
    return found, problems


@role_required(Role.SUPPORT_AGENT)
def training_candidates(request: HttpRequest) -> HttpResponse:
    kb = _kb_or_default(request.GET.get("kb"))
    filters, problems = _filters(request)
    rows = selectors.training_candidate_list(
        kb_id=kb.pk,
        status=None if filters["status"] == ALL else filters["status"],
        source=filters["source"] or None,
        intent=filters["intent"] or None,
        search=filters["q"],
    )
    page = Paginator(rows if not problems else rows.none(), PER_PAGE).get_page(
        request.GET.get("page")
    )
    counts = selectors.training_candidate_counts(kb_id=kb.pk)
    kept = {k: v for k, v in {"kb": str(kb.pk), **filters}.items() if v}
    return render(
        request,
        "support/training_candidates.html",
        {
            "kb": kb,
            "knowledge_bases": selectors.knowledge_base_list(),
            "page": page,
            "filters": filters,
            "problems": problems,
            "tabs": [(key, title, counts[key]) for key, title in STATUS_FILTERS.items()],
            "sources": TrainingCandidate.Source.choices,
            "intents": selectors.intent_choices(kb_id=kb.pk),
            "query": urlencode(kept),
            "here": request.get_full_path(),
        },
        status=400 if problems else 200,
    )


def _back(request: HttpRequest) -> str:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("support:training_candidates")


@role_required(Role.SUPPORT_AGENT)
@require_POST
def training_candidate_review(request: HttpRequest, pk: int) -> HttpResponse:
    back = _back(request)
    candidate = TrainingCandidate.objects.filter(pk=pk).first()
    if candidate is None:
        messages.warning(request, "That training row is gone.")
        return redirect(back)
    action = request.POST.get("action")
    question = candidate.question[:80]
    try:
        if action == "reject":
            if services.training_candidate_reject(candidate_id=pk, agent=request.user):
                messages.success(request, f"Rejected “{question}”: it stays out of training.")
            else:
                messages.warning(request, f"“{question}” was reviewed already.")
            return redirect(back)
        if action == "accept":
            intent = None
        elif action == "correct":
            intent = request.POST.get("intent", "")
            if intent not in selectors.intent_choices(kb_id=candidate.kb_id):
                raise InvalidText("Choose the intent from the list.")
        else:
            raise InvalidText("Unknown action.")
        accepted = services.training_candidate_accept(
            candidate_id=pk, agent=request.user, intent=intent
        )
    except InvalidText as exc:
        messages.error(request, f"“{question}”: {exc}")
    except services.NotAllowed as exc:
        messages.warning(request, f"“{question}”: {exc}")
    else:
        messages.success(
            request,
            f"Accepted “{question}” as {accepted.intent}: the next intent training uses it.",
        )
    return redirect(back)
