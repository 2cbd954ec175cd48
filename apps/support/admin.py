from django.contrib import admin

from .models import (
    FAQ,
    AgentPresence,
    Article,
    CannedResponse,
    Chunk,
    Conversation,
    KnowledgeBase,
    Message,
    PastConversation,
)


@admin.register(KnowledgeBase)
class KnowledgeBaseAdmin(admin.ModelAdmin):
    list_display = ("name", "answer_mode", "handoff_threshold", "faq_threshold", "is_default")
    fields = (
        "name",
        "is_default",
        "greeting",
        "answer_mode",
        "handoff_threshold",
        "faq_threshold",
        "llm_base_url",
        "llm_model",
        "calibration",
    )
    readonly_fields = ("calibration",)


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin):
    list_display = ("title", "kb", "status", "updated_at")
    list_filter = ("kb", "status")
    search_fields = ("title", "body")

    def save_model(self, request, obj, form, change):  # type: ignore[no-untyped-def]
        # Through the service, so chunks and vectors follow the edit.
        from .services import article_upsert

        article, _ = article_upsert(
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
        from .services import article_delete

        article_delete(article_id=obj.pk)


@admin.register(FAQ)
class FAQAdmin(admin.ModelAdmin):
    list_display = ("question", "intent", "status", "kb")
    list_filter = ("status", "kb")
    search_fields = ("question", "answer")


@admin.register(PastConversation)
class PastConversationAdmin(admin.ModelAdmin):
    list_display = ("question", "intent", "kb")
    list_filter = ("kb",)
    search_fields = ("question",)


@admin.register(Chunk)
class ChunkAdmin(admin.ModelAdmin):
    list_display = ("article", "position", "heading", "embedded")
    readonly_fields = ("content_hash",)


admin.site.register(CannedResponse)
admin.site.register(AgentPresence)


class MessageInline(admin.TabularInline):
    model = Message
    extra = 0
    fields = ("sender", "text", "answer_kind", "confidence", "rating", "flag")
    readonly_fields = fields


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ("id", "customer_name", "status", "assigned_agent", "csat", "last_message_at")
    list_filter = ("status",)
    inlines = [MessageInline]
