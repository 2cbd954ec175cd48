"""Agent console API: conversations and their actions, flags, canned responses, stats."""

from __future__ import annotations

from typing import Any, cast

from django.core.exceptions import ObjectDoesNotExist
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer
from rest_framework.views import APIView

from .. import selectors, services
from ..models import CannedResponse, Conversation, Message
from ..serializers import (
    AgentMessageSerializer,
    CannedResponseSerializer,
    ChatPostMessageSerializer,
    ConversationNoteSerializer,
    ConversationSerializer,
    ConversationTransferSerializer,
    FAQSerializer,
    MessageFlagSerializer,
    SupportResultSerializer,
    SupportStatsSerializer,
)
from ..text import InvalidText
from ._common import Agent, _bad, _query_filters


class ConversationViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    serializer_class = ConversationSerializer
    permission_classes = [Agent]

    def get_queryset(self) -> QuerySet[Conversation]:
        if self.action != "list":  # one conversation by id: an idle visit can be read too
            return Conversation.objects.select_related("assigned_agent")
        # `?kb=` too, as on the articles and FAQ lists (it used to be ignored silently).
        filters = _query_filters(self.request, Conversation.Status)
        raw = self.request.query_params.get("include_idle", "false").lower()
        if raw not in ("true", "false", "1", "0"):
            raise ValidationError({"include_idle": "Must be true or false."})
        return selectors.conversation_list(**filters, include_idle=raw in ("true", "1"))

    @extend_schema(
        parameters=[
            OpenApiParameter("status", str, enum=Conversation.Status.values),
            OpenApiParameter("kb", int, description="Only this knowledge base's conversations."),
            OpenApiParameter(
                "include_idle",
                bool,
                description="Also list visits where the customer never wrote (only the bot's "
                "greeting); left out by default.",
            ),
        ]
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    def _result(self, call: Any) -> Response:
        try:
            ok = call()
        except InvalidText as exc:
            return _bad(str(exc))
        except (services.NotAllowed, services.ConversationClosed) as exc:
            return _bad(str(exc), status.HTTP_409_CONFLICT)
        except services.NotPermitted as exc:
            return _bad(str(exc), status.HTTP_403_FORBIDDEN)
        except ObjectDoesNotExist:
            return _bad("Not found.", 404)
        if ok is False:
            return _bad("Someone else has this conversation, or it is closed.", 409)
        return Response({"ok": True})

    @extend_schema(responses=AgentMessageSerializer(many=True))
    @action(detail=True, methods=["get"])
    def messages(self, request: Request, pk: str) -> Response:
        conversation = self.get_object()
        rows = selectors.messages_after(conversation_id=conversation.pk, include_notes=True)
        return Response(AgentMessageSerializer(rows, many=True).data)

    @extend_schema(request=ChatPostMessageSerializer, responses=AgentMessageSerializer)
    @action(detail=True, methods=["post"])
    def reply(self, request: Request, pk: str) -> Response:
        conversation = self.get_object()
        serializer = ChatPostMessageSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            message, _ = services.agent_message_post(
                conversation_id=conversation.pk,
                agent=request.user,
                text=serializer.validated_data["text"],
                client_id=serializer.validated_data.get("client_id"),
            )
        except InvalidText as exc:
            return _bad(str(exc))
        except (services.NotAllowed, services.ConversationClosed) as exc:
            return _bad(str(exc), status.HTTP_409_CONFLICT)
        return Response(AgentMessageSerializer(message).data, status=201)

    @extend_schema(request=ConversationNoteSerializer, responses=AgentMessageSerializer)
    @action(detail=True, methods=["post"], url_path="email-reply")
    def email_reply(self, request: Request, pk: str) -> Response:
        """Answer an out-of-hours conversation by email (to the address the customer left);
        the transcript records it and the conversation closes."""
        conversation = self.get_object()
        serializer = ConversationNoteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            message = services.conversation_email_reply(
                conversation_id=conversation.pk,
                agent=request.user,
                text=serializer.validated_data["text"],
            )
        except InvalidText as exc:
            return _bad(str(exc))
        except services.NotAllowed as exc:
            return _bad(str(exc), status.HTTP_409_CONFLICT)
        except services.EmailNotSent as exc:
            return _bad(str(exc), status.HTTP_502_BAD_GATEWAY)
        return Response(AgentMessageSerializer(message).data, status=201)

    @extend_schema(request=None, responses=SupportResultSerializer)
    @action(detail=True, methods=["post"], url_path="take-over")
    def take_over(self, request: Request, pk: str) -> Response:
        conversation = self.get_object()
        return self._result(
            lambda: services.conversation_take_over(
                conversation_id=conversation.pk, agent=request.user
            )
        )

    @extend_schema(request=ConversationTransferSerializer, responses=SupportResultSerializer)
    @action(detail=True, methods=["post"])
    def transfer(self, request: Request, pk: str) -> Response:
        conversation = self.get_object()
        serializer = ConversationTransferSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return self._result(
            lambda: services.conversation_transfer(
                conversation_id=conversation.pk,
                agent=request.user,
                to_agent_id=serializer.validated_data.get("to_agent_id"),
            )
        )

    @extend_schema(request=ConversationNoteSerializer, responses=SupportResultSerializer)
    @action(detail=True, methods=["post"])
    def notes(self, request: Request, pk: str) -> Response:
        conversation = self.get_object()
        serializer = ConversationNoteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return self._result(
            lambda: bool(
                services.note_add(
                    conversation_id=conversation.pk,
                    agent=request.user,
                    text=serializer.validated_data["text"],
                )
            )
        )

    @extend_schema(request=None, responses=SupportResultSerializer)
    @action(detail=True, methods=["post"])
    def close(self, request: Request, pk: str) -> Response:
        conversation = self.get_object()
        return self._result(
            lambda: services.conversation_close(conversation_id=conversation.pk, by=request.user)
        )

    @extend_schema(request=None, responses=FAQSerializer)
    @action(detail=True, methods=["post"], url_path="faq-draft")
    def faq_draft(self, request: Request, pk: str) -> Response:
        conversation = self.get_object()
        try:
            faq = services.faq_draft_from_conversation(conversation_id=conversation.pk)
        except services.NotAllowed as exc:
            return _bad(str(exc), 409)
        return Response(FAQSerializer(faq).data, status=201)


class MessageFlagView(APIView):
    permission_classes = [Agent]

    @extend_schema(request=MessageFlagSerializer, responses=AgentMessageSerializer)
    def post(self, request: Request, message_id: int) -> Response:
        serializer = MessageFlagSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            message = services.message_flag(
                message_id=message_id,
                agent=request.user,
                flag=serializer.validated_data["flag"],
                note=serializer.validated_data.get("note", ""),
            )
        except Message.DoesNotExist:
            return _bad("Not found.", 404)
        except services.NotAllowed as exc:
            return _bad(str(exc), 409)
        return Response(AgentMessageSerializer(message).data)


class CannedResponseViewSet(viewsets.ModelViewSet):
    serializer_class = CannedResponseSerializer
    permission_classes = [Agent]
    queryset = selectors.canned_response_list()

    # The serializer validates (types, lengths, the unique title); the services write.
    def perform_create(self, serializer: BaseSerializer[CannedResponse]) -> None:
        serializer.instance = services.canned_response_create(**serializer.validated_data)

    def perform_update(self, serializer: BaseSerializer[CannedResponse]) -> None:
        canned = cast(CannedResponse, serializer.instance)  # UpdateModelMixin.update set it
        serializer.instance = services.canned_response_update(
            canned_id=canned.pk, **serializer.validated_data
        )

    def perform_destroy(self, instance: CannedResponse) -> None:
        services.canned_response_delete(canned_id=instance.pk)


class StatsView(APIView):
    permission_classes = [Agent]

    @extend_schema(parameters=[OpenApiParameter("days", int)], responses=SupportStatsSerializer)
    def get(self, request: Request) -> Response:
        try:
            days = max(1, min(365, int(request.query_params.get("days", 14))))
        except ValueError:
            return _bad("days must be a whole number.")
        return Response(selectors.support_stats(days=days))
