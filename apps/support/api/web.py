"""Agents' fresh knowledge: site crawls and sitemap imports (background jobs with progress),
and the web pages a knowledge base re-syncs on a schedule."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import selectors, services
from ..models import Crawl, WebPage
from ..text import InvalidText
from ._common import Agent, _bad, _kb_id, _query_filters


class CrawlSerializer(serializers.ModelSerializer):
    class Meta:
        model = Crawl
        fields = [
            "id",
            "kb",
            "kind",
            "start_url",
            "max_pages",
            "status",
            "pages_fetched",
            "pages_imported",
            "pages_unchanged",
            "pages_failed",
            "skipped_robots",
            "skipped_other_host",
            "links_found",
            "errors",
            "message",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields


class CrawlStartSerializer(serializers.Serializer):
    kb = serializers.IntegerField(required=False, help_text="Default: the default KB.")
    kind = serializers.ChoiceField(choices=Crawl.Kind.choices)
    url = serializers.CharField(max_length=500, help_text="Start page, or the sitemap's URL.")
    max_pages = serializers.IntegerField(required=False, help_text="Page cap (default 50).")


class WebPageSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebPage
        fields = [
            "id",
            "kb",
            "url",
            "article",
            "origin",
            "crawl",
            "last_status",
            "last_error",
            "last_synced_at",
            "last_changed_at",
            "next_sync_at",
        ]
        read_only_fields = fields


class CrawlsView(APIView):
    permission_classes = [Agent]

    @extend_schema(
        parameters=[
            OpenApiParameter("kb", int, description="Only this knowledge base's jobs."),
            OpenApiParameter("status", str, enum=Crawl.Status.values),
        ],
        responses=CrawlSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        filters = _query_filters(request, Crawl.Status)
        rows = selectors.crawl_list(kb_id=filters["kb_id"], status=filters["status"])
        return Response(CrawlSerializer(rows[:100], many=True).data)

    @extend_schema(request=CrawlStartSerializer, responses={202: CrawlSerializer})
    def post(self, request: Request) -> Response:
        serializer = CrawlStartSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            crawl = services.crawl_start(
                kb_id=_kb_id(data.get("kb")),
                kind=data["kind"],
                url=data["url"],
                max_pages=data.get("max_pages"),
                user=request.user,
            )
        except InvalidText as exc:
            return _bad(str(exc))
        crawl.refresh_from_db()
        return Response(CrawlSerializer(crawl).data, status=status.HTTP_202_ACCEPTED)


class CrawlView(APIView):
    permission_classes = [Agent]

    @extend_schema(responses=CrawlSerializer)
    def get(self, request: Request, pk: int) -> Response:
        crawl = selectors.crawl_list().filter(pk=pk).first()
        if crawl is None:
            return _bad("No such crawl.", status.HTTP_404_NOT_FOUND)
        return Response(CrawlSerializer(crawl).data)


class WebPagesView(APIView):
    permission_classes = [Agent]

    @extend_schema(
        parameters=[
            OpenApiParameter("kb", int, description="Only this knowledge base's pages."),
            OpenApiParameter("status", str, enum=WebPage.Status.values),
        ],
        responses=WebPageSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        filters = _query_filters(request, WebPage.Status)
        rows = selectors.web_page_list(kb_id=filters["kb_id"], status=filters["status"])
        return Response(WebPageSerializer(rows[:1000], many=True).data)


class WebPagesSyncSerializer(serializers.Serializer):
    kb = serializers.IntegerField(required=False, help_text="Default: the default KB.")


class WebPagesSyncView(APIView):
    permission_classes = [Agent]

    @extend_schema(request=WebPagesSyncSerializer, responses={202: None})
    def post(self, request: Request) -> Response:
        serializer = WebPagesSyncSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            kb_id = _kb_id(serializer.validated_data.get("kb"))
        except InvalidText as exc:
            return _bad(str(exc))
        queued = services.web_pages_sync_now(kb_id=kb_id)
        return Response({"queued": queued}, status=status.HTTP_202_ACCEPTED)
