"""Knowledge API (agents): knowledge bases, LLM endpoints, articles, FAQ pairs, past
conversations, imports."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import selectors, services
from ..models import FAQ, Article, KnowledgeBase, LlmEndpoint
from ..serializers import (
    KNOWLEDGE_BASE_SETTINGS,
    ArticleSerializer,
    FAQSerializer,
    KnowledgeBaseSerializer,
    KnowledgeImportFileSerializer,
    KnowledgeImportReportSerializer,
    KnowledgeImportUrlSerializer,
    LlmEndpointSerializer,
    PastConversationSerializer,
    SupportResultSerializer,
)
from ..text import InvalidText
from ._common import Agent, _bad, _kb_id, _language_filter, _query_filters


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
            if "embedding_model" in serializer.validated_data:
                # A new model: the KB's vectors are rebuilt in the background.
                services.knowledge_base_embedding_model_set(
                    kb_id=kb.pk, model=serializer.validated_data["embedding_model"]
                )
                kb.refresh_from_db()
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
        return selectors.article_list(
            **_query_filters(self.request, Article.Status), language=_language_filter(self.request)
        )

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
