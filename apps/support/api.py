"""REST API: knowledge CRUD and import, ask, conversations and messages, feedback, stats."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.client_ip import ClientIpAnonThrottle
from apps.accounts.models import Role
from apps.accounts.roles import HasRole

from . import selectors, services
from .answers import answer_compose
from .models import FAQ, Article, Conversation, KnowledgeBase, LlmEndpoint, Message
from .serializers import (
    KNOWLEDGE_BASE_SETTINGS,
    AgentMessageSerializer,
    ArticleSerializer,
    CannedResponseSerializer,
    ChatPostedSerializer,
    ChatPostMessageSerializer,
    ConversationNoteSerializer,
    ConversationSerializer,
    ConversationStartedSerializer,
    ConversationStartSerializer,
    ConversationTransferSerializer,
    CsatSerializer,
    FAQSerializer,
    HumanRequestResultSerializer,
    KnowledgeBaseSerializer,
    KnowledgeImportFileSerializer,
    KnowledgeImportReportSerializer,
    KnowledgeImportUrlSerializer,
    LlmEndpointSerializer,
    MessageFlagSerializer,
    MessageRateSerializer,
    MessageSerializer,
    PastConversationSerializer,
    SupportAnswerSerializer,
    SupportAskSerializer,
    SupportResultSerializer,
    SupportStatsSerializer,
)
from .text import InvalidText

Agent = HasRole(Role.SUPPORT_AGENT)


def _bad(message: str, code: int = status.HTTP_400_BAD_REQUEST) -> Response:
    return Response({"detail": message}, status=code)


def _query_filters(request: Request, statuses: Any, *, kb: bool = True) -> dict[str, Any]:
    """The list filters `?kb=<id>` and `?status=<value>`, checked: a typo is a 400 naming the
    parameter, not a server error or a silently empty list."""
    params = request.query_params
    found: dict[str, Any] = {"status": params.get("status") or None}
    if found["status"] is not None and found["status"] not in statuses.values:
        raise ValidationError({"status": f"Must be one of: {', '.join(statuses.values)}."})
    if kb:
        raw = params.get("kb") or None
        try:
            found["kb_id"] = int(raw) if raw is not None else None
        except ValueError:
            raise ValidationError({"kb": "Must be a knowledge base id (a whole number)."}) from None
    return found


def _kb_id(value: Any) -> int:
    kb = value if isinstance(value, KnowledgeBase) else None
    if kb is not None:
        return kb.pk
    try:
        return selectors.knowledge_base_get(int(value) if value else None).pk
    except (KnowledgeBase.DoesNotExist, ValueError, TypeError) as exc:
        raise InvalidText("Unknown knowledge base.") from exc


class KnowledgeBaseViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Knowledge bases; edits go through the same settings service as the settings page."""

    serializer_class = KnowledgeBaseSerializer
    permission_classes = [Agent]
    queryset = KnowledgeBase.objects.all()

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        kb = self.get_object()
        serializer = self.get_serializer(
            kb, data=request.data, partial=kwargs.get("partial", False)
        )
        serializer.is_valid(raise_exception=True)
        # A PATCH names only what changes; the service takes the whole set of settings.
        values = {
            name: serializer.validated_data.get(name, getattr(kb, name))
            for name in KNOWLEDGE_BASE_SETTINGS
        }
        try:
            kb = services.knowledge_base_settings_update(kb_id=kb.pk, **values)
        except InvalidText as exc:
            return _bad(str(exc))
        return Response(KnowledgeBaseSerializer(kb).data)


class LlmEndpointViewSet(viewsets.ReadOnlyModelViewSet):
    """The LLM endpoints a knowledge base may choose (kept by superusers in the admin)."""

    serializer_class = LlmEndpointSerializer
    permission_classes = [Agent]
    queryset = LlmEndpoint.objects.all()


class ArticleViewSet(viewsets.ModelViewSet):
    """Articles; writes go through the chunking/embedding service."""

    serializer_class = ArticleSerializer
    permission_classes = [Agent]

    def get_queryset(self) -> QuerySet[Article]:
        return selectors.article_list(**_query_filters(self.request, Article.Status))

    def _save(self, data: dict[str, Any], source_key: str = "") -> Response:
        try:
            article, outcome = services.article_upsert(
                kb_id=_kb_id(data.get("kb")),
                title=data["title"],
                body=data["body"],
                body_format=data.get("body_format", Article.Format.MARKDOWN),
                source_key=source_key or data.get("source_key", ""),
                tags=data.get("tags"),
                intents=data.get("intents"),
                url=data.get("url", ""),
                status=data.get("status", Article.Status.PUBLISHED),
            )
        except InvalidText as exc:
            return _bad(str(exc))
        code = status.HTTP_201_CREATED if outcome == "created" else status.HTTP_200_OK
        return Response(ArticleSerializer(article).data, status=code)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return self._save(serializer.validated_data)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        article = self.get_object()
        serializer = self.get_serializer(
            article, data=request.data, partial=kwargs.get("partial", False)
        )
        serializer.is_valid(raise_exception=True)
        merged = {**ArticleSerializer(article).data, **serializer.validated_data}
        merged["kb"] = article.kb_id
        return self._save(merged, source_key=article.source_key)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        services.article_delete(article_id=self.get_object().pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


class FAQViewSet(viewsets.ModelViewSet):
    """FAQ pairs; writes go through the FAQ services, which keep the reply index in step."""

    serializer_class = FAQSerializer
    permission_classes = [Agent]

    def get_queryset(self) -> QuerySet[FAQ]:
        return selectors.faq_list(**_query_filters(self.request, FAQ.Status))

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            faq, outcome = services.faq_upsert(
                kb_id=_kb_id(data.get("kb")),
                question=data["question"],
                answer=data["answer"],
                intent=data.get("intent", ""),
                status=data.get("status", FAQ.Status.PUBLISHED),
                article_id=data["article"].pk if data.get("article") else None,
            )
        except InvalidText as exc:
            return _bad(str(exc))
        code = status.HTTP_201_CREATED if outcome == "created" else status.HTTP_200_OK
        return Response(FAQSerializer(faq).data, status=code)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        faq = self.get_object()
        serializer = self.get_serializer(
            faq, data=request.data, partial=kwargs.get("partial", False)
        )
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if "kb" in data and data["kb"].pk != faq.kb_id:
            return _bad("A FAQ pair stays in its knowledge base; create it in the other one.")
        if "article" in data:
            article_id = data["article"].pk if data["article"] is not None else None
        else:
            article_id = faq.article_id
        try:
            # Through the service, so a changed question is embedded again.
            faq = services.faq_update(
                faq_id=faq.pk,
                question=data.get("question", faq.question),
                answer=data.get("answer", faq.answer),
                intent=data.get("intent", faq.intent),
                status=data.get("status", faq.status),
                article_id=article_id,
            )
        except InvalidText as exc:
            return _bad(str(exc))
        except FAQ.DoesNotExist:
            return _bad("That FAQ pair was deleted meanwhile.", status.HTTP_404_NOT_FOUND)
        return Response(FAQSerializer(faq).data)

    def perform_destroy(self, instance: FAQ) -> None:
        services.faq_delete(faq_id=instance.pk)


class PastConversationView(APIView):
    permission_classes = [Agent]

    @extend_schema(request=PastConversationSerializer, responses=SupportResultSerializer)
    def post(self, request: Request) -> Response:
        serializer = PastConversationSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            _, outcome = services.past_conversation_upsert(
                kb_id=_kb_id(data.get("kb")),
                question=data["question"],
                best_reply=data.get("best_reply", ""),
                intent=data.get("intent", ""),
            )
        except InvalidText as exc:
            return _bad(str(exc))
        return Response({"ok": True, "detail": outcome})


class ImportFileView(APIView):
    """Upload Markdown/HTML/text/PDF articles or CSV/JSONL FAQ pairs and past conversations."""

    permission_classes = [Agent]
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        request={"multipart/form-data": KnowledgeImportFileSerializer},
        responses=KnowledgeImportReportSerializer,
    )
    def post(self, request: Request) -> Response:
        serializer = KnowledgeImportFileSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        upload = serializer.validated_data["file"]
        try:
            if upload.size > services.MAX_IMPORT_BYTES:
                raise InvalidText(f"{upload.name} is larger than 10 MB.")
            report = services.knowledge_import_file(
                kb_id=_kb_id(serializer.validated_data.get("kb")),
                name=upload.name,
                data=upload.read(),
                status=serializer.validated_data["status"],
            )
        except InvalidText as exc:
            return _bad(str(exc))
        return Response(report.as_dict())


class ImportUrlView(APIView):
    permission_classes = [Agent]

    @extend_schema(request=KnowledgeImportUrlSerializer, responses=KnowledgeImportReportSerializer)
    def post(self, request: Request) -> Response:
        serializer = KnowledgeImportUrlSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            report = services.knowledge_import_url(
                kb_id=_kb_id(serializer.validated_data.get("kb")),
                url=serializer.validated_data["url"],
                status=serializer.validated_data["status"],
            )
        except InvalidText as exc:
            return _bad(str(exc))
        return Response(report.as_dict())


class AskThrottle(ClientIpAnonThrottle):
    # Each throttle its own scope: AnonRateThrottle's shared "anon" key made asking and
    # starting chats spend one budget per address.
    scope = "support_ask"
    rate = "30/min"


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
            answer = answer_compose(
                kb_id=_kb_id(serializer.validated_data.get("kb")),
                question=serializer.validated_data["question"],
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
            conversation = services.conversation_start(
                kb_id=serializer.validated_data.get("kb"),
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
        try:
            message, created = services.customer_message_post(
                conversation_id=conversation.pk,
                text=serializer.validated_data["text"],
                client_id=serializer.validated_data.get("client_id"),
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


# -- conversations: agent side ---------------------------------------------------------------
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


class StatsView(APIView):
    permission_classes = [Agent]

    @extend_schema(parameters=[OpenApiParameter("days", int)], responses=SupportStatsSerializer)
    def get(self, request: Request) -> Response:
        try:
            days = max(1, min(365, int(request.query_params.get("days", 14))))
        except ValueError:
            return _bad("days must be a whole number.")
        return Response(selectors.support_stats(days=days))
