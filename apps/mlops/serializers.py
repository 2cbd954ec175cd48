"""Serializers of the model-lifecycle API (apps/mlops/api.py): versions, runs, promotion,
schedules, serving forms, monitoring."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers
from rest_framework.exceptions import ValidationError

from mlcore.serving.choice import AUTO, FORMS

from . import selectors
from .kinds import kind_get
from .models import (
    SCHEDULE_MAX_HOURS,
    ModelVersion,
    PromotionEvent,
    RetrainSchedule,
    TrainingRun,
)
from .params import ParamsInvalid, params_validate


class ModelVersionSerializer(serializers.ModelSerializer[ModelVersion]):
    main_value = serializers.FloatField(allow_null=True, read_only=True)

    class Meta:
        model = ModelVersion
        fields = [
            "name",
            "version",
            "main_metric",
            "main_value",
            "metrics",
            "params",
            "data_hash",
            "data_size",
            "label_distribution",
            "base_model",
            "serving_form",
            "optimisation",
            "is_production",
            "origin",
            "archive_metrics",
            "created_at",
            "promoted_at",
        ]


class ModelVersionBriefSerializer(serializers.ModelSerializer[ModelVersion]):
    main_value = serializers.FloatField(allow_null=True, read_only=True)

    class Meta:
        model = ModelVersion
        fields = [
            "version",
            "main_metric",
            "main_value",
            "serving_form",
            "is_production",
            "created_at",
            "promoted_at",
        ]


class ModelOverviewSerializer(serializers.Serializer[Any]):
    name = serializers.CharField()
    title = serializers.CharField()
    registered = serializers.BooleanField()
    trainable = serializers.BooleanField()
    main_metric = serializers.CharField()
    tolerance = serializers.FloatField(allow_null=True)
    versions = serializers.IntegerField()
    production = ModelVersionBriefSerializer(allow_null=True)


class PromotionEventSerializer(serializers.ModelSerializer[PromotionEvent]):
    # Gate promotions by a command or the beat schedule have no user: null.
    user: serializers.StringRelatedField[Any] = serializers.StringRelatedField(allow_null=True)

    class Meta:
        model = PromotionEvent
        fields = [
            "id",
            "name",
            "kind",
            "from_version",
            "to_version",
            "reason",
            "user",
            "created_at",
        ]


class TrainingRunSerializer(serializers.ModelSerializer[TrainingRun]):
    started_by: serializers.StringRelatedField[Any] = serializers.StringRelatedField(
        allow_null=True
    )
    version = serializers.IntegerField(source="version.version", allow_null=True, read_only=True)
    percent = serializers.SerializerMethodField()

    class Meta:
        model = TrainingRun
        fields = [
            "id",
            "model_name",
            "status",
            "params",
            "promote",
            "data_snapshot",
            "progress",
            "percent",
            "history",
            "metrics",
            "log",
            "error",
            "promotion_result",
            "cancel_requested",
            "version",
            "started_by",
            "worker",
            "heartbeat_at",
            "created_at",
            "started_at",
            "finished_at",
        ]

    def get_percent(self, run: TrainingRun) -> float | None:
        return selectors.run_percent(run)


class TrainingRunStartSerializer(serializers.Serializer[Any]):
    model_name = serializers.CharField()
    params = serializers.DictField(required=False, default=dict)
    promote = serializers.BooleanField(required=False, default=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        try:
            kind = kind_get(attrs["model_name"])
        except KeyError:
            raise ValidationError(
                {"model_name": f"no model named {attrs['model_name']!r}"}
            ) from None
        attrs["params"] = _params_checked(kind.name, attrs["params"])
        return attrs


def _params_checked(name: str, params: Any) -> dict[str, Any]:
    """The params checked as the model page checks them; 400 naming each bad parameter."""
    try:
        return params_validate(kind_get(name), params)
    except ParamsInvalid as exc:
        raise ValidationError({"params": exc.errors}) from None


class PromoteSerializer(serializers.Serializer[Any]):
    version = serializers.IntegerField(min_value=1)
    override = serializers.BooleanField(required=False, default=False)
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["override"] and not attrs["reason"].strip():
            raise ValidationError({"reason": "an override needs a reason"})
        return attrs


class RollbackSerializer(serializers.Serializer[Any]):
    version = serializers.IntegerField(min_value=1)
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class PromotionResultSerializer(serializers.Serializer[Any]):
    promoted = serializers.BooleanField()
    kind = serializers.CharField()
    message = serializers.CharField()
    from_version = serializers.IntegerField(allow_null=True)
    to_version = serializers.IntegerField()


class PolicySerializer(serializers.Serializer[Any]):
    tolerance = serializers.FloatField(min_value=0, max_value=1)
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=300)
    form_tolerance = serializers.FloatField(
        min_value=0,
        max_value=1,
        required=False,
        help_text="accuracy a serving form may lose against fp32 (default 0.01)",
    )


class ScheduleSerializer(serializers.ModelSerializer[RetrainSchedule]):
    class Meta:
        model = RetrainSchedule
        fields = ["name", "enabled", "every_hours", "params", "promote", "next_run_at", "last_run"]
        read_only_fields = ["name", "next_run_at", "last_run"]
        # Left out, every_hours takes the model's default like the other fields do.
        extra_kwargs = {"every_hours": {"min_value": 1}}

    def validate_every_hours(self, value: int) -> int:
        # Checked here, not as the field's maximum: the schema is shared with responses, and a
        # schedule stored before this bound may be longer.
        if value > SCHEDULE_MAX_HOURS:
            raise ValidationError(
                f"retrain at least once a year (at most {SCHEDULE_MAX_HOURS} hours)"
            )
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        name = self.context.get("name", "")
        if "params" in attrs and name:
            try:
                kind_get(name)
            except KeyError:
                return attrs  # the view answers 404
            attrs["params"] = _params_checked(name, attrs["params"])
        return attrs


class ServingFormSerializer(serializers.Serializer[Any]):
    form = serializers.ChoiceField(
        choices=[*FORMS, AUTO],
        help_text="a serving form, or 'auto': each device its fastest form within tolerance",
    )
    force = serializers.BooleanField(
        default=False,
        help_text="serve the form even when it lost more accuracy than the policy's form "
        "tolerance (default one point)",
    )


class QueuedSerializer(serializers.Serializer[Any]):
    queued = serializers.BooleanField()
    name = serializers.CharField()
    version = serializers.IntegerField()


class MonitoringSerializer(serializers.Serializer[Any]):
    name = serializers.CharField()
    minutes = serializers.IntegerField()
    requests = serializers.IntegerField()
    # DRF's metaclass pops declared fields, so this never shadows Serializer's.
    errors = serializers.IntegerField()  # type: ignore[assignment]
    error_rate = serializers.FloatField()
    items = serializers.IntegerField()
    mean_ms = serializers.FloatField(allow_null=True)
    p50_ms = serializers.FloatField(allow_null=True)
    p95_ms = serializers.FloatField(allow_null=True)
    series = serializers.ListField(child=serializers.DictField())
    labels = serializers.ListField(child=serializers.DictField())
    confidence = serializers.ListField(child=serializers.DictField())
    versions = serializers.DictField(child=serializers.IntegerField())
    production_version = serializers.IntegerField(allow_null=True)
    drift = serializers.DictField()
