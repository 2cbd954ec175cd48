"""The web sources page: start a site crawl or a sitemap import (background jobs whose progress
the page shows), re-sync now, and every web page's last sync and status."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from apps.accounts.face import Role, role_required

from . import selectors, services
from .models import Crawl
from .text import InvalidText
from .views import _kb_or_default

PAGES_PER_PAGE = 100


@role_required(Role.SUPPORT_AGENT)
@require_http_methods(["GET", "POST"])
def sources(request: HttpRequest) -> HttpResponse:
    kb = _kb_or_default(request.POST.get("kb") or request.GET.get("kb"))
    status = 200
    if request.method == "POST":
        action = request.POST.get("action")
        back = f"{reverse('support:sources')}?kb={kb.pk}"
        if action == "sync_now":
            count = services.web_pages_sync_now(kb_id=kb.pk)
            messages.success(request, f"Re-syncing {count} page{'s' if count != 1 else ''} now.")
            return redirect(back)
        try:
            if action not in Crawl.Kind.values:
                raise InvalidText("Unknown action.")
            crawl = services.crawl_start(
                kb_id=kb.pk,
                kind=action,
                url=request.POST.get("url", ""),
                max_pages=request.POST.get("max_pages"),
                user=request.user,
            )
        except InvalidText as exc:
            messages.error(request, str(exc))
            status = 400
        else:
            messages.success(
                request,
                f"{crawl.get_kind_display()} of {crawl.start_url} started: progress below.",
            )
            return redirect(back)
    pages = Paginator(selectors.web_page_list(kb_id=kb.pk), PAGES_PER_PAGE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "support/sources.html",
        {
            "kb": kb,
            "knowledge_bases": selectors.knowledge_base_list(),
            "crawls": selectors.crawl_list(kb_id=kb.pk)[:20],
            "active": selectors.crawl_active(kb_id=kb.pk),
            "pages": pages,
            "posted": request.POST if status == 400 else {},
            "resync_hours": round(settings.SUPPORT_WEB_RESYNC_S / 3600, 1),
        },
        status=status,
    )
