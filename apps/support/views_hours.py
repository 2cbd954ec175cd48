"""The business hours page of a knowledge base: time zone, weekly hours, holidays."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from apps.accounts.face import Role, role_required

from . import selectors, services
from .forms import BusinessHoursForm
from .hours import HoursInvalid
from .models import KnowledgeBase


@role_required(Role.SUPPORT_AGENT)
@require_http_methods(["GET", "POST"])
def business_hours(request: HttpRequest, pk: int) -> HttpResponse:
    kb = get_object_or_404(KnowledgeBase, pk=pk)
    if request.method == "POST":
        form = BusinessHoursForm(request.POST)
        if form.is_valid():
            try:
                services.knowledge_base_hours_update(kb_id=kb.pk, **form.hours_values())
            except HoursInvalid as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, f"Saved the business hours of {kb.name}.")
                return redirect("support:hours", pk=kb.pk)
    else:
        form = BusinessHoursForm(initial=BusinessHoursForm.initial_of(kb))
    hours = selectors.knowledge_base_hours(kb)
    now = timezone.now()
    return render(
        request,
        "support/hours.html",
        {
            "kb": kb,
            "form": form,
            "knowledge_bases": selectors.knowledge_base_list(),
            "always_open": hours.always_open,
            "open_now": hours.is_open(now),
            "next_answer": selectors.next_answer_words(hours, now=now),
        },
        status=400 if form.errors else 200,
    )
