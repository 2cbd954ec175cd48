"""Web pages a knowledge base keeps fresh, and the crawls and sitemap imports that find them.

Kept apart from models.py (re-exported there): they are one sub-domain, "fresh knowledge".
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Crawl(models.Model):
    """A background job that imports a site's pages: by following links from a start URL within
    its host (robots.txt respected), or from a sitemap (or sitemap index)."""

    class Kind(models.TextChoices):
        SITE = "site", "Site crawl"
        SITEMAP = "sitemap", "Sitemap import"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    kb = models.ForeignKey("support.KnowledgeBase", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    start_url = models.CharField(max_length=500)
    max_pages = models.PositiveIntegerField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    # Progress, written after every page.
    pages_fetched = models.PositiveIntegerField(default=0)
    pages_imported = models.PositiveIntegerField(default=0)  # created or updated
    pages_unchanged = models.PositiveIntegerField(default=0)
    pages_failed = models.PositiveIntegerField(default=0)
    skipped_robots = models.PositiveIntegerField(default=0)
    skipped_other_host = models.PositiveIntegerField(default=0)
    links_found = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)  # "url: reason", the first 50
    message = models.CharField(max_length=500, blank=True)  # why it failed or stopped
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)  # a running crawl's heartbeat

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.start_url} ({self.status})"


class WebPage(models.Model):
    """A page imported from the web into a knowledge base (by URL, crawl or sitemap), re-fetched
    on a schedule with a conditional GET; its article changes only when its content does."""

    class Origin(models.TextChoices):
        PAGE = "page", "Imported by URL"
        CRAWL = "crawl", "Site crawl"
        SITEMAP = "sitemap", "Sitemap"

    class Status(models.TextChoices):
        NEW = "new", "Not re-synced yet"
        CHANGED = "changed", "Changed: re-imported"
        UNCHANGED = "unchanged", "Same content"
        NOT_MODIFIED = "not_modified", "Not modified (304)"
        FAILED = "failed", "Failed"

    kb = models.ForeignKey("support.KnowledgeBase", on_delete=models.CASCADE, related_name="+")
    url = models.CharField(max_length=500)  # as imported; the article's source key
    article = models.ForeignKey(
        "support.Article", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    origin = models.CharField(max_length=8, choices=Origin.choices, default=Origin.PAGE)
    crawl = models.ForeignKey(
        Crawl, null=True, blank=True, on_delete=models.SET_NULL, related_name="pages"
    )
    etag = models.CharField(max_length=500, blank=True)
    last_modified = models.CharField(max_length=100, blank=True)
    body_hash = models.CharField(max_length=64, blank=True)  # sha256 of the bytes last read
    last_status = models.CharField(max_length=12, choices=Status.choices, default=Status.NEW)
    last_error = models.CharField(max_length=500, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    last_changed_at = models.DateTimeField(null=True, blank=True)
    next_sync_at = models.DateTimeField(null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["url"]
        constraints = [models.UniqueConstraint(fields=["kb", "url"], name="support_webpage_url")]

    def __str__(self) -> str:
        return self.url
