from typing import Any, cast

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .models import Role, User
from .roles import user_has_role


class MeSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    username = serializers.CharField()
    email = serializers.EmailField()
    roles = serializers.ListField(child=serializers.CharField())


class MeView(APIView):
    permission_classes = [IsAuthenticated]  # any signed-in user: their own account

    @extend_schema(responses=MeSerializer)
    def get(self, request: Request) -> Response:
        # IsAuthenticated guarantees a real user here.
        user = cast(User, request.user)
        roles = [role.value for role in Role if user_has_role(user, role.value)]
        return Response(
            {"id": user.pk, "username": user.get_username(), "email": user.email, "roles": roles}
        )
