"""A/B experiments: create, start, stop, ship, and the per-variant report."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from .. import selectors, services
from ..models import Experiment, Variant
from ._common import Merchandiser


class VariantSerializer(serializers.ModelSerializer):
    class Meta:
        model = Variant
        fields = ["name", "strategy", "diversity", "weight"]


class ExperimentSerializer(serializers.ModelSerializer):
    variants = VariantSerializer(many=True)

    class Meta:
        model = Experiment
        fields = [
            "id",
            "name",
            "description",
            "status",
            "shipped_variant",
            "created",
            "started_at",
            "ended_at",
            "variants",
        ]
        read_only_fields = ["id", "status", "shipped_variant", "created", "started_at", "ended_at"]


class VariantReportSerializer(serializers.Serializer):
    name = serializers.CharField()
    strategy = serializers.CharField()
    weight = serializers.IntegerField()
    shoppers = serializers.IntegerField()
    impressions = serializers.IntegerField()
    clicks = serializers.IntegerField()
    ctr = serializers.FloatField()
    ctr_low = serializers.FloatField()
    ctr_high = serializers.FloatField()
    converted = serializers.IntegerField()
    conversion = serializers.FloatField()
    conversion_low = serializers.FloatField()
    conversion_high = serializers.FloatField()


class ShipSerializer(serializers.Serializer):
    variant = serializers.CharField()


class ExperimentViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = ExperimentSerializer
    permission_classes = [Merchandiser]
    lookup_value_regex = r"[0-9]+"
    queryset = Experiment.objects.prefetch_related("variants")

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            experiment = services.experiment_create(
                name=data["name"],
                description=data.get("description", ""),
                variants=[dict(v) for v in data["variants"]],
            )
        except ValueError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        return Response(ExperimentSerializer(experiment).data, status=status.HTTP_201_CREATED)

    def _transition(self, fn: Any, **kwargs: Any) -> Response:
        try:
            experiment = fn(**kwargs)
        except ValueError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        return Response(ExperimentSerializer(experiment).data)

    @extend_schema(request=None, responses=ExperimentSerializer)
    @action(detail=True, methods=["post"])
    def start(self, request: Request, pk: str) -> Response:
        return self._transition(services.experiment_start, experiment_id=self.get_object().pk)

    @extend_schema(request=None, responses=ExperimentSerializer)
    @action(detail=True, methods=["post"])
    def stop(self, request: Request, pk: str) -> Response:
        return self._transition(services.experiment_stop, experiment_id=self.get_object().pk)

    @extend_schema(request=ShipSerializer, responses=ExperimentSerializer)
    @action(detail=True, methods=["post"])
    def ship(self, request: Request, pk: str) -> Response:
        body = ShipSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return self._transition(
            services.experiment_ship,
            experiment_id=self.get_object().pk,
            variant=body.validated_data["variant"],
        )

    @extend_schema(
        responses=VariantReportSerializer(many=True),
        summary="Per-variant CTR and conversion with 95% Wilson intervals",
    )
    @action(detail=True, methods=["get"], pagination_class=None)
    def report(self, request: Request, pk: str) -> Response:
        rows = selectors.experiment_report(experiment=self.get_object())
        return Response(VariantReportSerializer([asdict(r) for r in rows], many=True).data)
