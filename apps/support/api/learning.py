"""Agents' review of proposed intent training rows, and confirming a bot answer."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import services
from ..models import Message, TrainingCandidate
from ..text import InvalidText
from ._common import Agent, _bad, _query_filters


class TrainingCandidateSerializer(serializers.ModelSerializer):
    class Meta:
        model = TrainingCandidate
        fields = [
            "id",
            "kb",
            "conversation",
            "message",
            "question",
            "answer",
            "intent",
            "source",
            "status",
            "reviewed_by",
            "created_at",
            "reviewed_at",
        ]


class TrainingCandidateAcceptSerializer(serializers.Serializer):
    intent = serializers.CharField(
        max_length=100, required=False, help_text="Default: the intent the model predicted."
    )


class TrainingCandidatesView(APIView):
    permission_classes = [Agent]

    @extend_schema(
        parameters=[
            OpenApiParameter("status", str, enum=TrainingCandidate.Status.values),
            OpenApiParameter("kb", int, description="Only this knowledge base's rows."),
        ],
        responses=TrainingCandidateSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        filters = _query_filters(request, TrainingCandidate.Status)
        rows = TrainingCandidate.objects.all()
        if filters["status"]:
            rows = rows.filter(status=filters["status"])
        if filters["kb_id"] is not None:
            rows = rows.filter(kb_id=filters["kb_id"])
        return Response(TrainingCandidateSerializer(rows[:500], many=True).data)


class TrainingCandidateAcceptView(APIView):
    permission_classes = [Agent]

    @extend_schema(request=TrainingCandidateAcceptSerializer, responses=TrainingCandidateSerializer)
    def post(self, request: Request, pk: int) -> Response:
        serializer = TrainingCandidateAcceptSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            candidate = services.training_candidate_accept(
                candidate_id=pk, agent=request.user, intent=serializer.validated_data.get("intent")
            )
        except TrainingCandidate.DoesNotExist:
            return _bad("No such training row.", status.HTTP_404_NOT_FOUND)
        except InvalidText as exc:
            return _bad(str(exc))
        except services.NotAllowed as exc:
            return _bad(str(exc), status.HTTP_409_CONFLICT)
        return Response(TrainingCandidateSerializer(candidate).data)


class TrainingCandidateRejectView(APIView):
    permission_classes = [Agent]

    @extend_schema(request=None, responses=TrainingCandidateSerializer)
    def post(self, request: Request, pk: int) -> Response:
        if not TrainingCandidate.objects.filter(pk=pk).exists():
            return _bad("No such training row.", status.HTTP_404_NOT_FOUND)
        if not services.training_candidate_reject(candidate_id=pk, agent=request.user):
            return _bad("This row was reviewed already.", status.HTTP_409_CONFLICT)
        return Response(TrainingCandidateSerializer(TrainingCandidate.objects.get(pk=pk)).data)


class AnswerConfirmView(APIView):
    permission_classes = [Agent]

    @extend_schema(request=None, responses=TrainingCandidateSerializer)
    def post(self, request: Request, message_id: int) -> Response:
        try:
            candidate = services.answer_confirm(message_id=message_id, agent=request.user)
        except Message.DoesNotExist:
            return _bad("No such message.", status.HTTP_404_NOT_FOUND)
        except services.NotAllowed as exc:
            return _bad(str(exc))
        return Response(TrainingCandidateSerializer(candidate).data)
