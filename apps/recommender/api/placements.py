"""The merchandiser's pins (an item held at a rail position) and boosts (a factor until a time)."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import selectors, services
from ..models import Boost, Pin
from ._common import Merchandiser


class PinSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    item = serializers.IntegerField(source="item_id")
    rail = serializers.ChoiceField(choices=selectors.RAILS)
    position = serializers.IntegerField(help_text=f"1 to {services.PIN_POSITION_MAX}")
    created = serializers.DateTimeField(read_only=True)


class BoostSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    item = serializers.IntegerField(source="item_id")
    factor = serializers.FloatField(
        help_text="{:g} to {:g}; 2 moves an item from 6th to 3rd".format(*services.BOOST_FACTOR)
    )
    days = serializers.FloatField(write_only=True, required=False, help_text="how long it lasts")
    expires_at = serializers.DateTimeField(required=False, help_text="or when it ends")
    created = serializers.DateTimeField(read_only=True)


def _refused(exc: services.PlacementError) -> Response:
    return Response({k: [v] for k, v in exc.errors.items()}, status=status.HTTP_400_BAD_REQUEST)


class PinsView(APIView):
    permission_classes = [Merchandiser]

    @extend_schema(responses=PinSerializer(many=True), summary="Pinned items, by rail and position")
    def get(self, request: Request) -> Response:
        return Response(PinSerializer(Pin.objects.all(), many=True).data)

    @extend_schema(request=PinSerializer, responses={201: PinSerializer})
    def post(self, request: Request) -> Response:
        body = PinSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            pin = services.pin_set(
                item_id=body.validated_data["item_id"],
                rail=body.validated_data["rail"],
                position=body.validated_data["position"],
                user=request.user,
            )
        except services.PlacementError as exc:
            return _refused(exc)
        return Response(PinSerializer(pin).data, status=status.HTTP_201_CREATED)


class BoostsView(APIView):
    permission_classes = [Merchandiser]

    @extend_schema(responses=BoostSerializer(many=True), summary="Boosts still in force")
    def get(self, request: Request) -> Response:
        live = Boost.objects.filter(expires_at__gt=timezone.now())
        return Response(BoostSerializer(live, many=True).data)

    @extend_schema(request=BoostSerializer, responses={201: BoostSerializer})
    def post(self, request: Request) -> Response:
        body = BoostSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        if "days" not in data and "expires_at" not in data:
            return Response({"days": ["give days or expires_at"]}, status=400)
        try:
            boost = services.boost_set(
                item_id=data["item_id"],
                factor=data["factor"],
                days=data.get("days"),
                expires_at=data.get("expires_at"),
                user=request.user,
            )
        except services.PlacementError as exc:
            return _refused(exc)
        return Response(BoostSerializer(boost).data, status=status.HTTP_201_CREATED)


class PlacementDetailView(APIView):
    """DELETE one pin or boost."""

    permission_classes = [Merchandiser]
    kind = "pin"

    @extend_schema(responses={204: None})
    def delete(self, request: Request, placement_id: int) -> Response:
        if not services.placement_delete(kind=self.kind, placement_id=placement_id):
            return Response({"detail": f"no {self.kind} has id {placement_id}"}, status=404)
        return Response(status=status.HTTP_204_NO_CONTENT)
