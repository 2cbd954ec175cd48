"""Customer chat API (anonymous, throttled): ask, start a chat, messages, CSAT, ratings, a human."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.face import ClientIpAnonThrottle
from apps.mlops.runtime import model_request_admit

from .. import selectors, services
from ..answers import answer_compose
from ..memory import Exchange
from ..models import Conversation, KnowledgeBase
from ..serializers import (
    ChatPostedSerializer,
    ChatPostMessageSerializer,
    ConversationStartedSerializer,
    ConversationStartSerializer,
    CsatSerializer,
    HumanRequestResultSerializer,
    MessageRateSerializer,
    MessageSerializer,
    SupportAnswerSerializer,
    SupportAskSerializer,
    SupportResultSerializer,
)
from ..text import InvalidText
from ._common import _bad, _kb


class AskThrottle(ClientIpAnonThrottle):
    # Each throttle its own scope: AnonRateThrottle's shared "anon" key made asking and
    # starting chats spend one budget per address.
    scope = "support_ask"
    rate = settings.SUPPORT_ASK_RATE


class ChatStartThrottle(ClientIpAnonThrottle):
    scope = "support_chat_start"
    rate = "30/min"


class AskView(APIView):
    """Ask the bot a question: answer, citations, confidence and whether it would hand off.

    The same composer as the live chat: a test here is what a customer would get.
    """

    permission_classes = [AllowAny]
    throttle_classes = [AskThrottle]

    @extend_schema(request=SupportAskSerializer, responses=SupportAnswerSerializer)
    def post(self, request: Request) -> Response:
        serializer = SupportAskSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            # Over the process's bound of requests waiting for a model: a 503 before any work
            # (config.middleware.ModelsBusyAnswer). The composer hands the database connection
            # back while it waits for the models.
            with model_request_admit():
                earlier = serializer.validated_data.get("earlier", [])
                kb = _kb(serializer.validated_data.get("kb"))
                answer = answer_compose(
                    kb_id=kb.pk,
                    kb=kb,
                    question=serializer.validated_data["question"],
                    # Questions the caller says were answered: each is a topic to come back to.
                    history=[Exchange(text, "", "asked") for text in earlier],
                )
        except InvalidText as exc:
            return _bad(str(exc))
        return Response(SupportAnswerSerializer(answer).data)


# -- conversations: customer side (by token) ----------------------------------------------------
class ConversationStartView(APIView):
    permission_classes = [AllowAny]
    throttle_classes = [ChatStartThrottle]

    @extend_schema(request=ConversationStartSerializer, responses=ConversationStartedSerializer)
    def post(self, request: Request) -> Response:
        serializer = ConversationStartSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            # The page's widget names its knowledge base (slug or id); none: the default one.
            kb = selectors.knowledge_base_named(serializer.validated_data.get("kb"))
        except InvalidText as exc:
            return _bad(str(exc))
        except KnowledgeBase.DoesNotExist:
            return _bad("There is no knowledge base to chat with yet.", 503)
        try:
            conversation = services.conversation_start(
                kb_id=kb.pk,
                customer=request.user,
                customer_name=serializer.validated_data.get("customer_name", ""),
            )
        except (KnowledgeBase.DoesNotExist, InvalidText):
            return _bad("There is no knowledge base to chat with yet.", 503)
        return Response(
            {
                "id": conversation.pk,
                "token": conversation.token,
                "status": conversation.status,
                "websocket": f"/ws/support/chat/{conversation.token}/",
            },
            status=status.HTTP_201_CREATED,
        )


class CustomerMessagesView(APIView):
    """The customer's transcript (`after` = last id seen) and posting a message."""

    permission_classes = [AllowAny]

    def _conversation(self, token: str) -> Conversation:
        return get_object_or_404(Conversation, token=token)

    @extend_schema(
        parameters=[OpenApiParameter("after", int)], responses=MessageSerializer(many=True)
    )
    def get(self, request: Request, token: str) -> Response:
        conversation = self._conversation(token)
        try:
            after = int(request.query_params.get("after", 0))
        except ValueError:
            return _bad("after must be a message id.")
        messages = selectors.messages_after(conversation_id=conversation.pk, after_id=after)
        return Response(MessageSerializer(messages, many=True).data)

    @extend_schema(request=ChatPostMessageSerializer, responses=ChatPostedSerializer)
    def post(self, request: Request, token: str) -> Response:
        conversation = self._conversation(token)
        serializer = ChatPostMessageSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        # Refused (a 503) before the message is stored: a resend with the same client id later
        # is then a new message the bot answers, not a duplicate left unanswered.
        with model_request_admit():
            return self._post(conversation, serializer.validated_data)

    def _post(self, conversation: Conversation, data: dict[str, Any]) -> Response:
        try:
            message, created = services.customer_message_post(
                conversation_id=conversation.pk,
                text=data["text"],
                client_id=data.get("client_id"),
            )
        except InvalidText as exc:
            return _bad(str(exc))
        except services.ConversationClosed as exc:
            return _bad(str(exc), status.HTTP_409_CONFLICT)
        except services.TooManyMessages as exc:
            return _bad(str(exc), status.HTTP_429_TOO_MANY_REQUESTS)
        reply = None
        if created:
            reply = services.bot_reply_or_handoff(
                conversation_id=conversation.pk, message_id=message.pk
            )
        conversation.refresh_from_db()
        return Response(
            {
                "message": MessageSerializer(message).data,
                "duplicate": not created,
                "reply": MessageSerializer(reply).data if reply else None,
                "status": conversation.status,
            },
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class CustomerCsatView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(request=CsatSerializer, responses=SupportResultSerializer)
    def post(self, request: Request, token: str) -> Response:
        conversation = get_object_or_404(Conversation, token=token)
        serializer = CsatSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        ok = services.csat_submit(
            conversation_id=conversation.pk,
            score=serializer.validated_data["score"],
            comment=serializer.validated_data.get("comment", ""),
        )
        if not ok:
            return _bad("Ratings are taken once, after the conversation is closed.", 409)
        return Response({"ok": True})


class CustomerRateView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(request=MessageRateSerializer, responses=SupportResultSerializer)
    def post(self, request: Request, token: str, message_id: int) -> Response:
        conversation = get_object_or_404(Conversation, token=token)
        serializer = MessageRateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        ok = services.message_rate(
            conversation_id=conversation.pk,
            message_id=message_id,
            rating=serializer.validated_data["rating"],
            comment=serializer.validated_data.get("comment", ""),
        )
        if not ok:
            return _bad("Only the bot's answers in this conversation can be rated.", 404)
        return Response({"ok": True})


class CustomerHumanView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(request=None, responses=HumanRequestResultSerializer)
    def post(self, request: Request, token: str) -> Response:
        conversation = get_object_or_404(Conversation, token=token)
        try:
            asked = services.conversation_human_request(conversation_id=conversation.pk)
        except services.ConversationClosed as exc:
            return _bad(str(exc), status.HTTP_409_CONFLICT)
        except Conversation.DoesNotExist:
            return _bad("This conversation no longer exists; please start a new one.", 404)
        # `ok`: handed to a person now; `outcome` and `message` tell the customer either way.
        return Response(
            {
                "ok": asked.outcome == "queued",
                "outcome": asked.outcome,
                "detail": "queued" if asked.outcome == "queued" else f"already {asked.outcome}",
                "message": asked.text,
            }
        )
