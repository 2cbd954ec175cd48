from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path

from apps.core.admin_base import ReadOnlyAdmin
from apps.core.upload_jobs import capped_upload

from . import imports, selectors, services
from .admin_forms import ALERT_ACTIONS, AlertAdminForm, DocumentAdminForm, RuleAdminForm, UploadForm
from .forms import EntityForm, SourceForm
from .models import (
    Aggregate,
    Alert,
    AlertRule,
    Correction,
    Document,
    EmailDelivery,
    Entity,
    ImportJob,
    LabelledSentence,
    LabelledSet,
    Score,
    Source,
    Unsubscribe,
)
from .uploads import UploadError


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

    def save_model(self, request: HttpRequest, obj: Source, form: Any, change: bool) -> None:
        if not change:
            data = form.cleaned_data
            fields = ("name", "kind", "url", "language", "poll_interval_s", "embedding_model")
            created = services.source_create(**{k: data[k] for k in fields if k in data})
            obj.pk = created.pk
            obj.refresh_from_db()
            return
        # Through the service like the API: a new address starts afresh (no old ETag, failure
        # count or backoff).
        data = form.cleaned_data
        fields = ("name", "kind", "url", "language", "poll_interval_s", "embedding_model")
        services.source_update(source_id=obj.pk, **{k: data[k] for k in fields if k in data})
        obj.refresh_from_db()

    def delete_model(self, request: HttpRequest, obj: Source) -> None:
        # Its documents go through the service, which takes them out of the aggregates.
        services.source_delete(source_id=obj.pk)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for source_id in queryset.values_list("pk", flat=True):
            services.source_delete(source_id=source_id)

    def get_urls(self) -> list[Any]:
        return [
            path(
                "<int:pk>/upload/",
                self.admin_site.admin_view(capped_upload(self.upload_view)),
                name="sentiment_source_upload",
            ),
            *super().get_urls(),
        ]

    def upload_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Bulk upload into this source from the admin; bad lines are listed, good ones kept."""
        source = get_object_or_404(Source, pk=pk)
        form = UploadForm(request.POST or None, request.FILES or None)
        # A feed's documents are what it polled (deleting it deletes them): no uploads there.
        refused = services.source_name_taken_message(source) if source.is_feed else ""
        if request.method == "POST" and refused:
            form.is_valid()
            form.add_error(None, refused)
        elif request.method == "POST" and form.is_valid():
            try:
                accepted = imports.upload_accept(
                    upload=form.cleaned_data["file"],
                    kind=ImportJob.Kind.DOCUMENTS,
                    user=request.user,
                    source_id=source.pk,
                )
            except UploadError as exc:
                messages.error(request, str(exc))
            else:
                if isinstance(accepted, ImportJob):  # a large file: follow its job
                    return redirect("sentiment:import_job", accepted.pk)
                stored, known = len(accepted.created_ids), accepted.job.duplicates
                messages.success(request, f"{stored} stored, {known} known")
                for error in accepted.errors[:50]:
                    messages.warning(request, f"line {error.line}: {error.reason}")
                return redirect("admin:sentiment_source_changelist")
        return render(
            request,
            "sentiment/admin/upload.html",
            {
                "form": form,
                "source": source,
                "title": f"Upload into {source}",
                "refused": refused,
                **self.admin_site.each_context(request),
            },
            status=400 if request.method == "POST" and refused else 200,
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
    # A score is counted in the hourly aggregates: it goes only with its document (delete) or
    # through the rescore action, both of which take it out of the aggregates.
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Document)
class DocumentAdmin(admin.ModelAdmin):
    form = DocumentAdminForm
    list_display = ["title", "source", "published_at", "status", "language"]
    list_filter = ["status", "source", "language"]
    search_fields = ["title", "body", "url", "external_id"]
    inlines = [ScoreInline]
    raw_id_fields = ["source"]
    actions = ["rescore"]
    # The scoring state moves only through the pipeline's claims (and the rescore action):
    # a scored text set back to pending by hand would be counted twice. The hash follows the
    # text (services.document_update).
    readonly_fields = [
        "status",
        "queued_at",
        "scoring_since",
        "score_attempts",
        "score_error",
        "content_hash",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Documents arrive through a source (feed, push API, or its upload page here), which
        # deduplicates them and queues them for scoring.
        return False

    def save_model(self, request: HttpRequest, obj: Document, form: Any, change: bool) -> None:
        # Through the service: the hash follows the text, and a scored text is scored again.
        data = form.cleaned_data
        values = {name: data[name] for name in services.DOCUMENT_FIELDS if name in data}
        services.document_update(document_id=obj.pk, values=values)
        obj.refresh_from_db()

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and obj.status in (Document.Status.SCORED, Document.Status.SCORING):
            fields.append("published_at")  # its counts sit in that hour's aggregates
        return fields

    @admin.action(description="Rescore with the production model", permissions=["change"])
    def rescore(self, request: HttpRequest, queryset: Any) -> None:
        ids = list(queryset.values_list("pk", flat=True))
        result = services.documents_rescore(document_ids=ids)
        skipped = len(ids) - result.rescored
        message = (
            f"{result.rescored} document{'s' if result.rescored != 1 else ''} queued for "
            "rescoring; their old scores left the hourly aggregates. Alerts already opened stay."
        )
        if skipped:
            message += f" {skipped} skipped: not scored yet, being scored, or failed."
        self.message_user(request, message, messages.SUCCESS if result.rescored else messages.INFO)

    def delete_model(self, request: HttpRequest, obj: Document) -> None:
        # Through the service, which takes the document's counts out of the aggregates.
        services.documents_delete(document_ids=[obj.pk])

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        services.documents_delete(document_ids=list(queryset.values_list("pk", flat=True)))


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
    form = RuleAdminForm
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

    def save_model(self, request: HttpRequest, obj: AlertRule, form: Any, change: bool) -> None:
        # Through the service like the page and the API.
        data = form.cleaned_data
        rule = services.rule_save(
            owner_id=data["owner"].pk,
            rule_id=obj.pk if change else None,
            values={k: v for k, v in data.items() if k in services.RULE_FIELDS},
        )
        obj.pk = rule.pk
        obj.refresh_from_db()

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        # The service saved the companies with the rule (form.save_m2m would write them again).
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    form = AlertAdminForm
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
    # What the evaluation found and what was sent is history; only the status moves, through
    # services.alert_transition like the dashboard's buttons.
    readonly_fields = [
        f.name for f in Alert._meta.get_fields() if f.concrete and f.name not in ("id", "status")
    ]
    actions = ["acknowledge", "resolve"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # alerts are opened by the rules' evaluation

    def save_model(self, request: HttpRequest, obj: Alert, form: Any, change: bool) -> None:
        action = ALERT_ACTIONS.get(obj.status)
        if "status" in form.changed_data and action:
            services.alert_transition(alert_id=obj.pk, action=action, user=request.user)
        obj.refresh_from_db()

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        pass  # the documents that fired the alert are read-only

    def _transition(self, request: HttpRequest, queryset: Any, action: str) -> None:
        ids = list(queryset.values_list("pk", flat=True))
        for alert_id in ids:
            services.alert_transition(alert_id=alert_id, action=action, user=request.user)
        self.message_user(request, f"{len(ids)} alert{'s' if len(ids) != 1 else ''}: {action}d")

    @admin.action(description="Acknowledge", permissions=["change"])
    def acknowledge(self, request: HttpRequest, queryset: Any) -> None:
        self._transition(request, queryset, "acknowledge")

    @admin.action(description="Resolve", permissions=["change"])
    def resolve(self, request: HttpRequest, queryset: Any) -> None:
        self._transition(request, queryset, "resolve")


@admin.register(EmailDelivery)
class EmailDeliveryAdmin(admin.ModelAdmin):
    # Read-only: "unconfirmed" rows are the ones an operator may want to check with the mail log.
    list_display = ["message_id", "kind", "address", "outcome", "handed_at", "sent_at", "attempts"]
    list_filter = ["kind", "outcome"]
    readonly_fields = [f.name for f in EmailDelivery._meta.get_fields() if f.concrete]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


# The hourly counts follow the scores (services.aggregates); corrections are a record.
admin.site.register(Aggregate, ReadOnlyAdmin)
admin.site.register(Correction, ReadOnlyAdmin)


@admin.register(Unsubscribe)
class UnsubscribeAdmin(ReadOnlyAdmin):
    list_display = ["user", "rule", "created_at"]

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: Any = None
    ) -> HttpResponse:
        return admin.ModelAdmin.delete_view(self, request, object_id, extra_context)

    def get_actions(self, request: HttpRequest) -> Any:
        return admin.ModelAdmin.get_actions(self, request)

    def delete_model(self, request: HttpRequest, obj: Unsubscribe) -> None:
        # Through the service, like "Subscribe again": alerts held back meanwhile stay unsent.
        services.emails_resubscribe(user_id=obj.user_id, rule_id=obj.rule_id)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for entry in list(queryset):
            services.emails_resubscribe(user_id=entry.user_id, rule_id=entry.rule_id)


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
