from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path

from . import selectors, services
from .forms import EntityForm, SourceForm
from .models import (
    Aggregate,
    Alert,
    AlertRule,
    Correction,
    Document,
    Entity,
    LabelledSentence,
    LabelledSet,
    Score,
    Source,
    Unsubscribe,
)
from .uploads import UploadError, documents_read


class UploadForm(forms.Form):
    file = forms.FileField(help_text="CSV with a header row, or JSONL")


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "kind",
        "status",
        "consecutive_failures",
        "last_success_at",
        "next_poll_at",
        "items_total",
    ]
    list_filter = ["kind", "status"]
    readonly_fields = [
        "etag",
        "last_modified",
        "last_error",
        "last_polled_at",
        "last_success_at",
        "polling_since",
        "items_total",
    ]
    change_list_template = "sentiment/admin/source_change_list.html"
    form = SourceForm  # the page's checks: feed URLs are http(s) only

    def get_urls(self) -> list[Any]:
        return [
            path(
                "<int:pk>/upload/",
                self.admin_site.admin_view(self.upload_view),
                name="sentiment_source_upload",
            ),
            *super().get_urls(),
        ]

    def upload_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Bulk upload into this source from the admin; bad lines are listed, good ones kept."""
        source = get_object_or_404(Source, pk=pk)
        form = UploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                rows, errors = documents_read(upload.read(), upload.name)
            except UploadError as exc:
                messages.error(request, str(exc))
            else:
                result = services.documents_ingest(source_id=source.pk, rows=rows, errors=errors)
                messages.success(request, f"{result.created} stored, {result.duplicates} known")
                for error in result.errors[:50]:
                    messages.warning(request, f"line {error['line']}: {error['error']}")
                return redirect("admin:sentiment_source_changelist")
        return render(
            request,
            "sentiment/admin/upload.html",
            {
                "form": form,
                "source": source,
                "title": f"Upload into {source}",
                **self.admin_site.each_context(request),
            },
        )


class ScoreInline(admin.StackedInline):
    model = Score
    extra = 0
    readonly_fields = [
        "label",
        "positive",
        "neutral",
        "negative",
        "value",
        "model_version",
        "topics",
        "sentences",
    ]


@admin.register(Document)
class DocumentAdmin(admin.ModelAdmin):
    list_display = ["title", "source", "published_at", "status", "language"]
    list_filter = ["status", "source", "language"]
    search_fields = ["title", "body", "url", "external_id"]
    inlines = [ScoreInline]
    raw_id_fields = ["source"]


@admin.register(Entity)
class EntityAdmin(admin.ModelAdmin):
    list_display = ["name", "ticker", "ticker_needs_context", "active"]
    search_fields = ["name", "ticker"]
    form = EntityForm

    def save_model(self, request: HttpRequest, obj: Entity, form: Any, change: bool) -> None:
        # Through services.entity_upsert like the page and the API (ticker normalised, context).
        saved = form.save(commit=True)
        obj.pk = saved.pk
        obj.refresh_from_db()

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> Any:
        # The admin refuses a delete with "protected" objects; a rule left with no companies
        # would silently watch the whole watchlist, so it protects the companies it watches.
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        widened = selectors.rules_widened_by_deleting(obj.pk for obj in objs)
        protected = [
            *protected,
            *(f"alert rule '{rule.name}' ({rule.owner}) watches only these" for rule in widened),
        ]
        return deleted, counts, perms_needed, protected


@admin.register(AlertRule)
class AlertRuleAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "owner",
        "metric",
        "mode",
        "sensitivity",
        "window_hours",
        "delivery",
        "active",
    ]
    filter_horizontal = ["entities"]


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = [
        "subject_label",
        "rule",
        "value",
        "baseline",
        "z_score",
        "status",
        "created_at",
        "sent_at",
        "send_skipped",
    ]
    list_filter = ["status", "metric"]
    raw_id_fields = ["documents"]


admin.site.register(Aggregate)
admin.site.register(Correction)
admin.site.register(Unsubscribe)


class LabelledSentenceInline(admin.TabularInline):
    model = LabelledSentence
    fields = ["line", "sentence", "label"]
    readonly_fields = ["line", "sentence", "label"]
    extra = 0
    max_num = 0
    show_change_link = False
    can_delete = False


@admin.register(LabelledSet)
class LabelledSetAdmin(admin.ModelAdmin):
    """Imported training sets: read and delete here; import on the Training data page or API,
    which check every line (a set added or edited here would skip those checks)."""

    list_display = ["name", "filename", "row_count", "uploaded_by", "created_at"]
    search_fields = ["name", "filename", "rows__sentence"]
    readonly_fields = ["name", "filename", "row_count", "uploaded_by", "created_at"]
    inlines = [LabelledSentenceInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
