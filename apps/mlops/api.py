"""REST API of the model lifecycle (ML admins): models, versions, runs, promotion, monitoring."""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.face import HasRole, Role
from mlcore.registry import RegistryError

from . import selectors, services
from .kinds import kind_get
from .models import ModelPolicy, ModelVersion, RetrainSchedule, TrainingRun
from .monitoring import monitoring_flush
from .serializers import (
    ModelOverviewSerializer,
    ModelVersionSerializer,
    MonitoringSerializer,
    PolicySerializer,
    PromoteSerializer,
    PromotionEventSerializer,
    PromotionResultSerializer,
    QueuedSerializer,
    RollbackSerializer,
    ScheduleSerializer,
    ServingFormSerializer,
    TrainingRunSerializer,
    TrainingRunStartSerializer,
)
from .tasks import model_version_optimise_task


def _known_model(name: str) -> None:
    try:
        kind_get(name)
    except KeyError:
        if not selectors.model_versions(name):
            raise NotFound(f"no model named {name!r}") from None


def _version_or_404(name: str, version: int) -> ModelVersion:
    row = selectors.version_get(name, version)
    if row is None:
        raise NotFound(f"{name} has no version {version}")
    return row


class MlAdminView(APIView):
    permission_classes = [HasRole(Role.ML_ADMIN)]


class ModelListView(MlAdminView):
    @extend_schema(responses=ModelOverviewSerializer(many=True), summary="Models and production")
    def get(self, request: Request) -> Response:
        rows = selectors.model_overview_list()
        return Response(ModelOverviewSerializer(rows, many=True).data)


class VersionListView(MlAdminView):
    @extend_schema(responses=ModelVersionSerializer(many=True), summary="Versions of a model")
    def get(self, request: Request, name: str) -> Response:
        _known_model(name)
        return Response(ModelVersionSerializer(selectors.model_versions(name), many=True).data)


class VersionDetailView(MlAdminView):
    @extend_schema(responses=ModelVersionSerializer, summary="One version with its evaluation")
    def get(self, request: Request, name: str, version: int) -> Response:
        return Response(ModelVersionSerializer(_version_or_404(name, version)).data)


def _moved_production(
    name: str, version: int, move: Callable[[], services.PromotionResult]
) -> Response:
    """Run a promotion or rollback; 200 when production moved (or already was there), 409 if not."""
    _known_model(name)
    try:
        result = move()
    except ModelVersion.DoesNotExist:
        raise NotFound(f"{name} has no version {version}") from None
    except (KeyError, ValueError) as exc:
        raise ValidationError({"detail": str(exc)}) from exc
    code = status.HTTP_200_OK if result.promoted or result.kind == "noop" else 409
    return Response(PromotionResultSerializer(result).data, status=code)


class PromoteView(MlAdminView):
    @extend_schema(
        request=PromoteSerializer,
        responses={200: PromotionResultSerializer, 409: PromotionResultSerializer},
        summary="Promote a version through the gate (or override with a reason)",
    )
    def post(self, request: Request, name: str) -> Response:
        data = PromoteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return _moved_production(
            name,
            data.validated_data["version"],
            lambda: services.model_version_promote(
                name=name,
                version=data.validated_data["version"],
                user=request.user,
                override=data.validated_data["override"],
                reason=data.validated_data["reason"],
            ),
        )


class RollbackView(MlAdminView):
    @extend_schema(
        request=RollbackSerializer,
        responses={200: PromotionResultSerializer, 409: PromotionResultSerializer},
        summary="Roll back to an earlier version",
    )
    def post(self, request: Request, name: str) -> Response:
        data = RollbackSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return _moved_production(
            name,
            data.validated_data["version"],
            lambda: services.model_version_rollback(
                name=name,
                version=data.validated_data["version"],
                user=request.user,
                reason=data.validated_data["reason"],
            ),
        )


class OptimiseView(MlAdminView):
    @extend_schema(
        request=None,
        responses={202: QueuedSerializer},
        summary="Export and measure every serving form of a version (queued)",
    )
    def post(self, request: Request, name: str, version: int) -> Response:

        row = _version_or_404(name, version)
        transaction.on_commit(lambda: model_version_optimise_task.delay(row.name, row.version))
        return Response({"queued": True, "name": name, "version": version}, status=202)


class ServingFormView(MlAdminView):
    @extend_schema(
        request=ServingFormSerializer,
        responses=ModelVersionSerializer,
        summary="Choose the serving form of a version",
    )
    def post(self, request: Request, name: str, version: int) -> Response:
        data = ServingFormSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        _version_or_404(name, version)
        try:
            row = services.model_version_serving_form_set(
                name=name,
                version=version,
                form=data.validated_data["form"],
                force=data.validated_data["force"],
            )
        except (ValueError, RegistryError) as exc:
            raise ValidationError({"form": str(exc)}) from exc
        return Response(ModelVersionSerializer(row).data)


class PolicyView(MlAdminView):
    @extend_schema(responses=PolicySerializer, summary="The gate's tolerance for a model")
    def get(self, request: Request, name: str) -> Response:
        _known_model(name)
        policy = ModelPolicy.objects.filter(name=name).first()
        return Response(
            {
                "tolerance": services.model_tolerance(name),
                "note": policy.note if policy else "",
                "form_tolerance": services.form_tolerance(name),
            }
        )

    @extend_schema(
        request=PolicySerializer,
        responses=PolicySerializer,
        summary="Set the gate's tolerance for a model",
    )
    def put(self, request: Request, name: str) -> Response:
        data = PolicySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            policy = services.model_policy_set(name=name, user=request.user, **data.validated_data)
        except KeyError:
            raise NotFound(f"no model named {name!r}") from None
        return Response(
            {
                "tolerance": policy.tolerance,
                "note": policy.note,
                "form_tolerance": policy.form_tolerance,
            }
        )


class ScheduleView(MlAdminView):
    @extend_schema(responses=ScheduleSerializer, summary="The retraining schedule of a model")
    def get(self, request: Request, name: str) -> Response:
        _known_model(name)
        schedule = RetrainSchedule.objects.filter(name=name).first()
        if schedule is None:
            raise NotFound(f"{name} has no retraining schedule")
        return Response(ScheduleSerializer(schedule).data)

    @extend_schema(
        request=ScheduleSerializer,
        responses=ScheduleSerializer,
        summary="Create or change the retraining schedule of a model",
    )
    def put(self, request: Request, name: str) -> Response:
        data = ScheduleSerializer(data=request.data, context={"name": name})
        data.is_valid(raise_exception=True)
        values = {"every_hours": RetrainSchedule.every_hours.field.default, **data.validated_data}
        try:
            schedule = services.retrain_schedule_set(name=name, user=request.user, **values)
        except KeyError:
            raise NotFound(f"no model named {name!r}") from None
        except ValueError as exc:
            raise ValidationError({"detail": str(exc)}) from exc
        return Response(ScheduleSerializer(schedule).data)


class MonitoringView(MlAdminView):
    @extend_schema(
        parameters=[OpenApiParameter("minutes", int, description="window, default 60")],
        responses=MonitoringSerializer,
        summary="Requests, latency, errors, prediction distribution and drift",
    )
    def get(self, request: Request, name: str) -> Response:

        _known_model(name)
        try:
            minutes = int(request.query_params.get("minutes", 60))
        except ValueError:
            raise ValidationError({"minutes": "a whole number of minutes"}) from None
        monitoring_flush()
        return Response(selectors.monitoring_summary(name, minutes=minutes))


class EventListView(MlAdminView):
    @extend_schema(responses=PromotionEventSerializer(many=True), summary="Promotion history")
    def get(self, request: Request, name: str) -> Response:
        _known_model(name)
        return Response(PromotionEventSerializer(selectors.promotion_events(name), many=True).data)


class RunListView(MlAdminView):
    @extend_schema(
        parameters=[OpenApiParameter("model", str, description="only runs of this model")],
        responses=TrainingRunSerializer(many=True),
        summary="Recent training runs",
    )
    def get(self, request: Request) -> Response:
        runs = selectors.training_runs(request.query_params.get("model") or None)
        return Response(TrainingRunSerializer(runs, many=True).data)

    @extend_schema(
        request=TrainingRunStartSerializer,
        responses={201: TrainingRunSerializer},
        summary="Start a training run (queued on the training queue)",
    )
    def post(self, request: Request) -> Response:
        data = TrainingRunStartSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            run = services.training_run_start(user=request.user, **data.validated_data)
        except KeyError:
            raise ValidationError(
                {"model_name": f"no model named {data.validated_data['model_name']!r}"}
            ) from None
        except ValueError as exc:
            raise ValidationError({"model_name": str(exc)}) from exc
        return Response(TrainingRunSerializer(run).data, status=status.HTTP_201_CREATED)


class RunDetailView(MlAdminView):
    @extend_schema(responses=TrainingRunSerializer, summary="A run with its live progress")
    def get(self, request: Request, run_id: int) -> Response:
        return Response(TrainingRunSerializer(get_object_or_404(TrainingRun, pk=run_id)).data)


class RunCancelView(MlAdminView):
    @extend_schema(
        request=None,
        responses={202: TrainingRunSerializer, 409: TrainingRunSerializer},
        summary="Cancel a queued or running run",
    )
    def post(self, request: Request, run_id: int) -> Response:
        get_object_or_404(TrainingRun, pk=run_id)
        accepted = services.training_run_cancel(run_id=run_id)
        run = TrainingRun.objects.get(pk=run_id)
        return Response(TrainingRunSerializer(run).data, status=202 if accepted else 409)
