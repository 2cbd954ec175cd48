"""Django admin for the model lifecycle, with actions that go through the same services."""

from typing import Any, cast

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.accounts.face import User

from . import services
from .models import (
    ModelPolicy,
    ModelVersion,
    PredictionStat,
    PromotionEvent,
    RetrainSchedule,
    TrainingRun,
)
from .tasks import model_version_optimise_task


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "version",
        "main_metric",
        "main_value",
        "is_production",
        "serving_form",
        "created_at",
    )
    list_filter = ("name", "is_production", "serving_form")
    readonly_fields = [f.name for f in ModelVersion._meta.fields]
    actions = ["promote_through_gate", "optimise_int8", "retrain_model"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # versions come from training runs or `manage.py model_import`

    @admin.action(description="Promote through the gate")
    def promote_through_gate(self, request: HttpRequest, queryset: QuerySet[ModelVersion]) -> None:
        for version in queryset:
            result = services.model_version_promote(
                name=version.name, version=version.version, user=request.user
            )
            level = messages.SUCCESS if result.promoted else messages.WARNING
            self.message_user(request, f"{version}: {result.kind}: {result.message}", level)

    @admin.action(description="Build and measure the int8 serving form (queued)")
    def optimise_int8(self, request: HttpRequest, queryset: QuerySet[ModelVersion]) -> None:

        for version in queryset:
            model_version_optimise_task.delay(version.name, version.version)
            self.message_user(request, f"{version}: optimisation queued")

    @admin.action(description="Start a training run of these models")
    def retrain_model(self, request: HttpRequest, queryset: QuerySet[ModelVersion]) -> None:
        for name in sorted(set(queryset.values_list("name", flat=True))):
            try:
                run = services.training_run_start(model_name=name, user=request.user)
            except (KeyError, ValueError) as exc:
                self.message_user(request, f"{name}: {exc}", messages.ERROR)
                continue
            self.message_user(request, f"{name}: run {run.pk} queued")


@admin.register(TrainingRun)
class TrainingRunAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "model_name",
        "status",
        "started_by",
        "created_at",
        "finished_at",
        "version",
        "promotion_result",
    )
    list_filter = ("status", "model_name")
    readonly_fields = (
        "status",
        "progress",
        "history",
        "metrics",
        "log",
        "error",
        "version",
        "promotion_result",
        "worker",
        "heartbeat_at",
        "started_at",
        "finished_at",
        "data_snapshot",
        "cancel_requested",
        "started_by",
    )
    fields = ("model_name", "params", "promote", *readonly_fields)
    actions = ["cancel_runs", "run_again"]

    def save_model(self, request: HttpRequest, obj: TrainingRun, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        # Adding a run from the admin queues it like the staff page does.
        try:
            run = services.training_run_start(
                model_name=obj.model_name,
                params=obj.params,
                user=request.user,
                promote=obj.promote,
            )
        except (KeyError, ValueError) as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        obj.pk = run.pk

    @admin.action(description="Cancel the selected runs")
    def cancel_runs(self, request: HttpRequest, queryset: QuerySet[TrainingRun]) -> None:
        cancelled = sum(services.training_run_cancel(run_id=run.pk) for run in queryset)
        self.message_user(request, f"cancellation requested for {cancelled} run(s)")

    @admin.action(description="Start a new run with the same parameters")
    def run_again(self, request: HttpRequest, queryset: QuerySet[TrainingRun]) -> None:
        for run in queryset:
            try:
                new = services.training_run_start(
                    model_name=run.model_name,
                    params=run.params,
                    user=request.user,
                    promote=run.promote,
                )
            except (KeyError, ValueError) as exc:
                self.message_user(request, f"{run}: {exc}", messages.ERROR)
                continue
            self.message_user(request, f"run {new.pk} of {run.model_name} queued")


@admin.register(PromotionEvent)
class PromotionEventAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "from_version", "to_version", "user", "created_at", "reason")
    list_filter = ("name", "kind")
    readonly_fields = [f.name for f in PromotionEvent._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # the history is written by promotions, never by hand


@admin.register(ModelPolicy)
class ModelPolicyAdmin(admin.ModelAdmin):
    list_display = ("name", "tolerance", "updated_by", "updated_at", "note")
    readonly_fields = ("updated_by", "updated_at")

    def save_model(self, request: HttpRequest, obj: ModelPolicy, form: Any, change: bool) -> None:
        obj.updated_by = cast(User, request.user)  # the admin only serves signed-in staff
        super().save_model(request, obj, form, change)


@admin.register(RetrainSchedule)
class RetrainScheduleAdmin(admin.ModelAdmin):
    list_display = ("name", "enabled", "every_hours", "next_run_at", "last_run", "promote")
    readonly_fields = ("next_run_at", "last_run", "updated_by", "updated_at")

    def save_model(
        self, request: HttpRequest, obj: RetrainSchedule, form: Any, change: bool
    ) -> None:
        try:
            services.retrain_schedule_set(
                name=obj.name,
                every_hours=obj.every_hours,
                enabled=obj.enabled,
                params=obj.params,
                promote=obj.promote,
                user=request.user,
            )
        except (KeyError, ValueError) as exc:
            self.message_user(request, str(exc), messages.ERROR)


@admin.register(PredictionStat)
class PredictionStatAdmin(admin.ModelAdmin):
    list_display = ("name", "version", "minute", "process", "requests", "errors")
    list_filter = ("name",)
    readonly_fields = [f.name for f in PredictionStat._meta.fields]
