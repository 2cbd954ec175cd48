"""The tracker's event batches (and order-history imports with a merchandiser token)."""

from __future__ import annotations

from dataclasses import asdict

from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.authentication import TokenAuthentication
from rest_framework.parsers import FormParser, JSONParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.face import Role, user_has_role

from .. import services
from ..models import Event
from ._common import StorefrontThrottle


class EventInSerializer(serializers.Serializer):
    event_id = serializers.CharField(max_length=80, help_text="client-generated; resends ignored")
    kind = serializers.ChoiceField(choices=Event.Kind.choices)
    item = serializers.CharField(help_text="item id or sku")
    rating = serializers.FloatField(required=False, min_value=0, max_value=5)
    text = serializers.CharField(required=False, allow_blank=True)
    # DRF's metaclass pops declared fields, so this never shadows Serializer's.
    context = serializers.CharField(required=False, allow_blank=True)  # type: ignore[assignment]
    experiment = serializers.IntegerField(required=False, allow_null=True)
    variant = serializers.CharField(required=False, allow_blank=True)
    from_recommendation = serializers.BooleanField(required=False)
    created = serializers.DateTimeField(required=False, help_text="merchandiser tokens only")


class EventBatchSerializer(serializers.Serializer):
    visitor_id = serializers.CharField(required=False, allow_blank=True, max_length=64)
    user = serializers.IntegerField(required=False, help_text="account id (merchandiser only)")
    events: serializers.Field = serializers.ListField(child=serializers.DictField(), max_length=500)


class EventBatchDocSerializer(EventBatchSerializer):
    # What the schema shows; validation itself is per event, so one bad event never sinks
    # the rest of the batch (see services.events_record).
    events = EventInSerializer(many=True)


class EventBatchResultSerializer(serializers.Serializer):
    accepted = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    # DRF's metaclass pops declared fields, so this never shadows Serializer's.
    errors = serializers.ListField(child=serializers.DictField())  # type: ignore[assignment]


class EventBatchView(APIView):
    # No session authentication: the tracker posts with sendBeacon, which cannot carry a CSRF
    # header. Anonymous posts speak for the visitor id only; tokens may name an account.
    authentication_classes = [TokenAuthentication]
    permission_classes = [AllowAny]
    throttle_classes = [StorefrontThrottle]
    parser_classes = [JSONParser, FormParser]

    @extend_schema(
        request=EventBatchDocSerializer,
        responses={202: EventBatchResultSerializer},
        summary="Record a batch of storefront events (idempotent by event_id)",
        description=(
            "Purchases are recorded by the storefront's checkout: a batch holding a `purchase` "
            "event is refused (400) unless it comes with a merchandiser token (an order-history "
            "import)."
        ),
    )
    def post(self, request: Request) -> Response:
        body = EventBatchSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        trusted = user_has_role(request.user, Role.MERCHANDISER)
        if data.get("user") is not None:
            if not trusted:
                return Response(
                    {"detail": "naming an account needs a merchandiser token"},
                    status=status.HTTP_403_FORBIDDEN,
                )
            if not get_user_model().objects.filter(pk=data["user"]).exists():
                return Response(
                    {"user": [f"no account has id {data['user']}"]},
                    status=status.HTTP_400_BAD_REQUEST,
                )
            shopper = services.Shopper(user_id=data["user"])
        else:
            visitor = data.get("visitor_id") or services.visitor_cookie(request)
            if not visitor:
                return Response(
                    {"visitor_id": ["a visitor id (or the tsv cookie) is required"]},
                    status=status.HTTP_400_BAD_REQUEST,
                )
            shopper = services.Shopper(visitor_id=visitor)
        if not trusted and any(
            isinstance(e, dict) and e.get("kind") == Event.Kind.PURCHASE for e in data["events"]
        ):
            # Purchases train the ranker and decide A/B tests: only the checkout records them.
            # The whole batch is refused, so a client sees the mistake instead of a partial 202.
            return Response(
                {"events": [services.TRACKER_PURCHASE_REFUSED]},
                status=status.HTTP_400_BAD_REQUEST,
            )
        result = services.events_record(
            shopper=shopper,
            events=data["events"],
            trusted=trusted,
            source=Event.Source.IMPORT if trusted else Event.Source.TRACKER,
        )
        return Response(asdict(result), status=status.HTTP_202_ACCEPTED)
