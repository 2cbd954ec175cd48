"""The shop's recommender settings, and queueing a ranker retrain."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import selectors, services
from ..models import EMBEDDING_MODEL_CHOICES, Variant
from ._common import Merchandiser


class SettingsSerializer(serializers.Serializer):
    # Types only: the bounds are services.settings_problems', the check the page and admin use.
    feedback_weights = serializers.DictField(
        child=serializers.FloatField(),
        help_text=f"event kind -> weight from 0 to {services.WEIGHT_MAX:g}",
    )
    exclude_purchased = serializers.BooleanField()
    diversity = serializers.FloatField(help_text="0 to 1")
    category_cap = serializers.IntegerField(help_text=f"0 (no cap) to {services.CATEGORY_CAP_MAX}")
    trending_half_life_days = serializers.FloatField(
        help_text="days, {:g} to {:g}".format(*services.HALF_LIFE_DAYS)
    )
    default_strategy = serializers.ChoiceField(choices=Variant.STRATEGIES)
    embedding_model = serializers.ChoiceField(
        choices=EMBEDDING_MODEL_CHOICES,
        help_text="the item vectors' embedder; a change re-embeds the catalog in the background",
    )


class SettingsView(APIView):
    permission_classes = [Merchandiser]

    @extend_schema(responses=SettingsSerializer)
    def get(self, request: Request) -> Response:
        current = selectors.settings_get()
        return Response(SettingsSerializer(_settings_dict(current)).data)

    @extend_schema(request=SettingsSerializer, responses=SettingsSerializer)
    def patch(self, request: Request) -> Response:
        body = SettingsSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        try:
            current = services.settings_update(values=dict(body.validated_data))
        except services.SettingsError as exc:
            errors = {name: [message] for name, message in exc.errors.items()}
            return Response(errors, status=status.HTTP_400_BAD_REQUEST)
        return Response(SettingsSerializer(_settings_dict(current)).data)


def _settings_dict(current: Any) -> dict[str, Any]:
    return {
        "feedback_weights": current.weights(),
        "exclude_purchased": current.exclude_purchased,
        "diversity": current.diversity,
        "category_cap": current.category_cap,
        "trending_half_life_days": current.trending_half_life_days,
        "default_strategy": current.default_strategy,
        "embedding_model": current.embedding_model,
    }


class RetrainView(APIView):
    permission_classes = [Merchandiser]

    @extend_schema(
        request=None,
        responses={202: inline_serializer("RetrainQueued", {"run": serializers.IntegerField()})},
        summary="Queue a ranker training run (promoted only if NDCG@10 does not drop)",
    )
    def post(self, request: Request) -> Response:
        run = services.retrain_start(user=request.user)
        return Response({"run": run.pk}, status=status.HTTP_202_ACCEPTED)
