"""Agents' feedback review: unhelpful, handed-over and flagged answers, linked to their
conversations."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import selectors
from ._common import Agent, _query_filters


class ReviewRowSerializer(serializers.Serializer):
    message_id = serializers.IntegerField()
    conversation_id = serializers.IntegerField()
    conversation_url = serializers.CharField()
    kb_id = serializers.IntegerField()
    reasons = serializers.ListField(child=serializers.CharField())
    question = serializers.CharField()
    answer = serializers.CharField()
    answer_kind = serializers.CharField()
    confidence = serializers.FloatField(allow_null=True)
    rating = serializers.CharField()
    rating_comment = serializers.CharField()
    flag = serializers.CharField()
    flag_note = serializers.CharField()
    flagged_by = serializers.CharField()
    handoff_reason = serializers.CharField()
    created_at = serializers.DateTimeField()


class ReviewView(APIView):
    permission_classes = [Agent]

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "filter", str, enum=["all", *selectors.REVIEW_FILTERS], description="all: any"
            ),
            OpenApiParameter("kb", int, description="Only this knowledge base's conversations."),
        ],
        responses=ReviewRowSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        kb_id = _query_filters(request, _NoStatus)["kb_id"]
        which = request.query_params.get("filter") or "all"
        try:
            messages = selectors.answers_for_review(which=which, kb_id=kb_id)
        except ValueError as exc:
            raise serializers.ValidationError({"filter": str(exc)}) from exc
        return Response([selectors.review_row(m) for m in messages])


class _NoStatus:
    """The review list has no status filter: `?status=` is refused like any unknown value."""

    values: tuple[str, ...] = ()
