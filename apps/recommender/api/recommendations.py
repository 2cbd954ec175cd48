"""Recommendations with reasons, for storefront visitors and accounts."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import selectors
from ._common import StorefrontThrottle, shopper_from_request


class RecommendationQuerySerializer(serializers.Serializer):
    user = serializers.CharField(required=False, allow_blank=True, max_length=64)
    # DRF's metaclass pops declared fields, so this never shadows Serializer's.
    context = serializers.RegexField(r"^(home|cart|item:\d+)$", required=False, default="home")  # type: ignore[assignment]
    n = serializers.IntegerField(required=False, default=10, min_value=1, max_value=50)
    cart = serializers.RegexField(r"^\d+(,\d+)*$", required=False, allow_blank=True)
    rail = serializers.ChoiceField(choices=selectors.RAILS, required=False, default="for_you")
    category = serializers.CharField(
        required=False, help_text="only these categories (repeat, or separate with commas)"
    )
    min_price = serializers.CharField(required=False, help_text="lowest price, e.g. 20 or 19.99")
    max_price = serializers.CharField(required=False, help_text="highest price")


SOURCES = [
    "collaborative",
    "text",
    "trending",
    "new",
    "co-purchase",
    "complementary",
    "region",
    "interest",
    "pinned",
]


class RecommendedItemSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    sku = serializers.CharField()
    title = serializers.CharField()
    category = serializers.CharField()
    price = serializers.CharField()
    image = serializers.CharField()
    url = serializers.CharField()
    score = serializers.FloatField()
    reason = serializers.CharField()
    # DRF's metaclass pops declared fields, so this never shadows Serializer's.
    source = serializers.ChoiceField(choices=SOURCES)  # type: ignore[assignment]
    placement = serializers.CharField(help_text='"", "pinned" or "boosted x<factor>"')


class RecommendationListSerializer(serializers.Serializer):
    shopper = serializers.CharField()
    # DRF's metaclass pops declared fields, so this never shadows Serializer's.
    context = serializers.CharField()  # type: ignore[assignment]
    strategy = serializers.CharField()
    experiment = serializers.IntegerField(allow_null=True)
    variant = serializers.CharField()
    model_version = serializers.IntegerField(allow_null=True)
    rail = serializers.CharField()
    # DRF's metaclass pops declared fields, so this never shadows Field.label.
    label = serializers.CharField(help_text="the rail's heading, true to its items' source")  # type: ignore[assignment]
    cached = serializers.BooleanField()
    items = RecommendedItemSerializer(many=True)


class RecommendationsView(APIView):
    permission_classes = [AllowAny]
    throttle_classes = [StorefrontThrottle]

    @extend_schema(
        parameters=[RecommendationQuerySerializer],
        responses=RecommendationListSerializer,
        summary="Recommendations with reasons for a shopper (account or anonymous visitor id)",
    )
    def get(self, request: Request) -> Response:
        query = RecommendationQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        try:
            shopper = shopper_from_request(request, data.get("user", ""))
        except PermissionError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_403_FORBIDDEN)
        except LookupError as exc:
            return Response({"user": [str(exc)]}, status=status.HTTP_400_BAD_REQUEST)
        cart = [int(i) for i in data.get("cart", "").split(",") if i]
        if data["context"] == "cart" and not cart:
            cart = [int(i) for i in request.session.get("cart", {})]
        try:
            filters = selectors.filters_parse(request.query_params)
        except selectors.FilterError as exc:
            return Response(
                {k: [v] for k, v in exc.errors.items()}, status=status.HTTP_400_BAD_REQUEST
            )
        try:
            result = selectors.recommendations_get(
                shopper=shopper,
                context=data["context"],
                n=data["n"],
                cart=cart,
                rail=data["rail"],
                filters=filters,
                strategy={"similar": "text", "trending": "popular"}.get(data["rail"]),
                only_context=data["rail"] in ("similar", "together"),
            )
        except selectors.ContextError as exc:
            return Response({"context": [str(exc)]}, status=status.HTTP_400_BAD_REQUEST)
        return Response(
            RecommendationListSerializer(result.as_dict() | {"cached": result.cached}).data
        )
