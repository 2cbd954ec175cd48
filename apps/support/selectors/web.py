"""Reads: web pages kept fresh, and the crawls and sitemap imports that found them."""

from __future__ import annotations

from django.db.models import QuerySet

from ..models import Crawl, WebPage


def web_page_list(*, kb_id: int | None = None, status: str | None = None) -> QuerySet[WebPage]:
    rows = WebPage.objects.select_related("article", "crawl").order_by("url")
    if kb_id is not None:
        rows = rows.filter(kb_id=kb_id)
    if status:
        rows = rows.filter(last_status=status)
    return rows


def crawl_list(*, kb_id: int | None = None, status: str | None = None) -> QuerySet[Crawl]:
    rows = Crawl.objects.order_by("-id")
    if kb_id is not None:
        rows = rows.filter(kb_id=kb_id)
    return rows.filter(status=status) if status else rows


def crawl_active(*, kb_id: int) -> bool:
    """Whether a crawl of this knowledge base is queued or running (the page refreshes)."""
    return Crawl.objects.filter(
        kb_id=kb_id, status__in=[Crawl.Status.QUEUED, Crawl.Status.RUNNING]
    ).exists()
