"""The feedback review page: unhelpful, handed-over and flagged answers, each linked to its
conversation (the same list as GET /api/support/review/)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from apps.accounts.face import Role, role_required

from . import selectors

FILTER_TITLES = {
    "all": "All",
    "unhelpful": "Rated unhelpful",
    "handed_over": "Handed over",
    "flagged": "Flagged by agents",
}


@role_required(Role.SUPPORT_AGENT)
def review(request: HttpRequest) -> HttpResponse:
    which = request.GET.get("filter") or "all"
    status = 200
    if which not in FILTER_TITLES:
        # An unknown filter shows why, with the filters there are, and lists nothing.
        status, rows = 400, []
    else:
        rows = [selectors.review_row(m) for m in selectors.answers_for_review(which=which)]
    return render(
        request,
        "support/review.html",
        {"rows": rows, "which": which, "filters": FILTER_TITLES, "unknown": status == 400},
        status=status,
    )
