"""Django admin for support; knowledge edits go through the same services as the pages and API."""

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.core.admin_base import ReadOnlyAdmin
from apps.core.outbound import OutboundError, outbound_url_check

from . import services
from .models import (
    FAQ,
    AgentPresence,
    Article,
    CannedResponse,
    Chunk,
    Conversation,
    Crawl,
    KnowledgeBase,
    LlmEndpoint,
    Message,
    PastConversation,
    WebPage,
)
from .text import InvalidText

# The arguments of `services.knowledge_base_settings_clean`.
KB_SETTINGS = (
    "handoff_threshold",
    "faq_threshold",
    "answer_mode",
    "greeting",
    "llm_endpoint",
    "llm_model",
)


class KnowledgeBaseAdminForm(forms.ModelForm):
    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        # Only when the fields themselves are valid: a missing one has its own error already.
        if all(name in data for name in KB_SETTINGS):
            try:
                services.knowledge_base_settings_clean(**{name: data[name] for name in KB_SETTINGS})
            except InvalidText as exc:
                raise forms.ValidationError(str(exc)) from exc
        return data


@admin.register(KnowledgeBase)
class KnowledgeBaseAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "slug",
        "answer_mode",
        "handoff_threshold",
        "faq_threshold",
        "is_default",
    )
    fields = (
        "name",
        "slug",
        "is_default",
        "greeting",
        "scope",
        "answer_mode",
        "handoff_threshold",
        "faq_threshold",
        "llm_endpoint",
        "llm_model",
        "calibration",
        "time_zone",
        "opening_hours",
        "holidays",
    )
    # Business hours are edited on their staff page (support:hours), which checks every range.
    readonly_fields = ("calibration", "time_zone", "opening_hours", "holidays")
    form = KnowledgeBaseAdminForm

    def save_model(self, request, obj, form, change):  # type: ignore[no-untyped-def]
        # Through the settings service: the page's rules, and a single default KB.
        kb_id = obj.pk if change else services.knowledge_base_ensure(name=obj.name).pk
        kb = services.knowledge_base_settings_update(
            kb_id=kb_id,
            name=obj.name,
            is_default=obj.is_default,
            scope=obj.scope,
            **{name: getattr(obj, name) for name in KB_SETTINGS},
        )
        services.knowledge_base_slug_set(kb_id=kb.pk, slug=obj.slug)
        obj.pk = kb.pk

    def delete_model(self, request, obj):  # type: ignore[no-untyped-def]
        # Through the service, so the vectors of its articles, pairs and past questions go too.
        services.knowledge_base_delete(kb_id=obj.pk)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[KnowledgeBase]) -> None:
        services.knowledge_bases_delete(kb_ids=list(queryset.values_list("pk", flat=True)))


class LlmEndpointAdminForm(forms.ModelForm):
    def clean_base_url(self) -> str:
        url: str = self.cleaned_data["base_url"].strip()
        if not url.startswith(("http://", "https://")):
            raise forms.ValidationError("Use an http:// or https:// address.")
        try:
            outbound_url_check(url)
        except OutboundError as exc:
            # Said now, not at the first customer's question; a name that does not resolve
            # yet is left to the answer path (it falls back to the extractive answer).
            if exc.reason == "not_allowed":
                raise forms.ValidationError(
                    "This address is internal: add its host to OUTBOUND_ALLOW_HOSTS or its "
                    "range to OUTBOUND_ALLOW_NETWORKS in the environment first."
                ) from None
        return url


@admin.register(LlmEndpoint)
class LlmEndpointAdmin(admin.ModelAdmin):
    """Superusers only: the bot sends customers' questions to these addresses and shows what
    comes back, so choosing them is not a support agent's (or a staff member's) call."""

    list_display = ("name", "base_url", "model", "updated_at")
    fields = ("name", "base_url", "model")
    form = LlmEndpointAdminForm

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser

    def save_model(self, request, obj, form, change):  # type: ignore[no-untyped-def]
        endpoint = services.llm_endpoint_save(
            endpoint_id=obj.pk if change else None,
            name=obj.name,
            base_url=obj.base_url,
            model=obj.model,
        )
        obj.pk = endpoint.pk

    def delete_model(self, request, obj):  # type: ignore[no-untyped-def]
        services.llm_endpoints_delete(endpoint_ids=[obj.pk])

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[LlmEndpoint]) -> None:
        services.llm_endpoints_delete(endpoint_ids=list(queryset.values_list("pk", flat=True)))


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin):
    list_display = ("title", "kb", "status", "updated_at")
    list_filter = ("kb", "status")
    search_fields = ("title", "body")

    def save_model(self, request, obj, form, change):  # type: ignore[no-untyped-def]
        # Through the service, so chunks and vectors follow the edit.
        article, _ = services.article_upsert(
            kb_id=obj.kb_id,
            title=obj.title,
            body=obj.body,
            body_format=obj.body_format,
            source_key=obj.source_key,
            tags=obj.tags,
            intents=obj.intents,
            url=obj.url,
            status=obj.status,
        )
        obj.pk = article.pk

    def delete_model(self, request, obj):  # type: ignore[no-untyped-def]
        # Through the service, so the chunks' vectors leave the index too.
        services.article_delete(article_id=obj.pk)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Article]) -> None:
        services.articles_delete(article_ids=list(queryset.values_list("pk", flat=True)))


class FAQAdminForm(forms.ModelForm):
    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        kb_id = data["kb"].pk if data.get("kb") else self.instance.kb_id
        if kb_id is not None and all(name in data for name in ("question", "answer", "status")):
            article = data.get("article")
            try:
                services.faq_values_clean(
                    kb_id=kb_id,
                    faq_id=self.instance.pk,
                    question=data["question"],
                    answer=data["answer"],
                    intent=data.get("intent", ""),
                    status=data["status"],
                    article_id=article.pk if article is not None else None,
                )
            except InvalidText as exc:
                raise forms.ValidationError(str(exc)) from exc
        return data


@admin.register(FAQ)
class FAQAdmin(admin.ModelAdmin):
    list_display = ("question", "intent", "status", "kb")
    list_filter = ("status", "kb")
    search_fields = ("question", "answer")
    form = FAQAdminForm
    fields = ("kb", "question", "answer", "intent", "status", "article", "source_conversation")
    readonly_fields = ("source_conversation",)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        # The FAQ services keep a pair in its knowledge base (the API refuses a move too).
        return ("kb", "source_conversation") if obj is not None else ("source_conversation",)

    def save_model(self, request, obj, form, change):  # type: ignore[no-untyped-def]
        # Through the FAQ services, so a new or changed question is embedded (again).
        if change:
            faq = services.faq_update(
                faq_id=obj.pk,
                question=obj.question,
                answer=obj.answer,
                intent=obj.intent,
                status=obj.status,
                article_id=obj.article_id,
            )
        else:
            faq, _ = services.faq_upsert(
                kb_id=obj.kb_id,
                question=obj.question,
                answer=obj.answer,
                intent=obj.intent,
                status=obj.status,
                article_id=obj.article_id,
            )
        obj.pk = faq.pk

    def delete_model(self, request, obj):  # type: ignore[no-untyped-def]
        services.faq_delete(faq_id=obj.pk)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[FAQ]) -> None:
        services.faqs_delete(faq_ids=list(queryset.values_list("pk", flat=True)))


class PastConversationAdminForm(forms.ModelForm):
    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        kb_id = data["kb"].pk if data.get("kb") else self.instance.kb_id
        if kb_id is not None and "question" in data:
            try:
                services.past_conversation_values_clean(
                    kb_id=kb_id,
                    past_id=self.instance.pk,
                    question=data["question"],
                    best_reply=data.get("best_reply", ""),
                    intent=data.get("intent", ""),
                )
            except InvalidText as exc:
                raise forms.ValidationError(str(exc)) from exc
        return data


@admin.register(PastConversation)
class PastConversationAdmin(admin.ModelAdmin):
    list_display = ("question", "intent", "kb")
    list_filter = ("kb",)
    search_fields = ("question",)
    form = PastConversationAdminForm
    fields = ("kb", "question", "best_reply", "intent", "embedded")
    readonly_fields = ("embedded",)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        # An exchange stays in its knowledge base (its vector is in that KB's replies).
        return ("kb", "embedded") if obj is not None else ("embedded",)

    def save_model(self, request, obj, form, change):  # type: ignore[no-untyped-def]
        # Through the services, so a new or changed question is embedded (again).
        if change:
            past = services.past_conversation_update(
                past_id=obj.pk, question=obj.question, best_reply=obj.best_reply, intent=obj.intent
            )
        else:
            past, _ = services.past_conversation_upsert(
                kb_id=obj.kb_id, question=obj.question, best_reply=obj.best_reply, intent=obj.intent
            )
        obj.pk = past.pk

    def delete_model(self, request, obj):  # type: ignore[no-untyped-def]
        # Through the service, so its vector leaves the suggested replies' index too.
        services.past_conversation_delete(past_id=obj.pk)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[PastConversation]) -> None:
        services.past_conversations_delete(past_ids=list(queryset.values_list("pk", flat=True)))


@admin.register(Chunk)
class ChunkAdmin(ReadOnlyAdmin):
    # Chunks follow their article (services.article_upsert cuts and embeds them).
    list_display = ("article", "position", "heading", "embedded")
    readonly_fields = ("content_hash",)


@admin.register(WebPage)
class WebPageAdmin(ReadOnlyAdmin):
    # Written by the re-sync and crawls (services.web_pages); the Web sources page shows them.
    list_display = ("url", "kb", "origin", "last_status", "last_synced_at", "next_sync_at")
    list_filter = ("kb", "origin", "last_status")
    search_fields = ("url",)


@admin.register(Crawl)
class CrawlAdmin(ReadOnlyAdmin):
    # A record of a background job (services.crawls); started from the Web sources page.
    list_display = ("start_url", "kind", "kb", "status", "pages_fetched", "created_at")
    list_filter = ("kind", "status")


@admin.register(CannedResponse)
class CannedResponseAdmin(admin.ModelAdmin):
    def save_model(self, request, obj, form, change):  # type: ignore[no-untyped-def]
        if change:
            canned = services.canned_response_update(
                canned_id=obj.pk, title=obj.title, text=obj.text
            )
        else:
            canned = services.canned_response_create(title=obj.title, text=obj.text)
        obj.pk = canned.pk

    def delete_model(self, request, obj):  # type: ignore[no-untyped-def]
        services.canned_response_delete(canned_id=obj.pk)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[CannedResponse]) -> None:
        services.canned_responses_delete(canned_ids=list(queryset.values_list("pk", flat=True)))


admin.site.register(AgentPresence, ReadOnlyAdmin)  # live state: services.agents


class MessageInline(admin.TabularInline):
    model = Message
    extra = 0
    fields = ("sender", "text", "answer_kind", "confidence", "rating", "flag")
    readonly_fields = fields


@admin.register(Conversation)
class ConversationAdmin(ReadOnlyAdmin):
    # A conversation moves through services.conversations and services.handoff (the console).
    list_display = ("id", "customer_name", "status", "assigned_agent", "csat", "last_message_at")
    list_filter = ("status",)
    inlines = [MessageInline]
