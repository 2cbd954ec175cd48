from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.accounts.face import User

from .models import (
    FAQ,
    Article,
    CannedResponse,
    Conversation,
    KnowledgeBase,
    LlmEndpoint,
    Message,
)
from .text import MAX_ARTICLE_CHARS, MAX_MESSAGE_CHARS

# The API's writable fields, all of them arguments of `services.knowledge_base_settings_update`,
# whose rules the serializer does not repeat (it checks types, lengths and the unique name).
KNOWLEDGE_BASE_SETTINGS = (
    "name",
    "handoff_threshold",
    "faq_threshold",
    "answer_mode",
    "llm_endpoint",
    "llm_model",
    "greeting",
    "is_default",
    "scope",
)


class LlmEndpointSerializer(serializers.ModelSerializer):
    class Meta:
        model = LlmEndpoint
        fields = ["id", "name", "model"]


class KnowledgeBaseSerializer(serializers.ModelSerializer):
    llm_endpoint = serializers.PrimaryKeyRelatedField(
        queryset=LlmEndpoint.objects.all(),
        allow_null=True,
        required=False,
        help_text="An id from /api/support/llm-endpoints/; null: the server's default.",
    )

    class Meta:
        model = KnowledgeBase
        fields = [
            "id",
            "name",
            "handoff_threshold",
            "faq_threshold",
            "answer_mode",
            "llm_endpoint",
            "llm_model",
            "greeting",
            "is_default",
            "scope",
            "embedding_model",
            "calibration",
        ]
        read_only_fields = ["calibration"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # The free-text URL of old: refused out loud rather than ignored, so a client that
        # still sends one learns that nothing changed.
        if isinstance(self.initial_data, dict) and "llm_base_url" in self.initial_data:
            raise serializers.ValidationError(
                {
                    "llm_base_url": "An LLM address cannot be set here; choose llm_endpoint "
                    "from /api/support/llm-endpoints/ (administrators keep that list)."
                }
            )
        return attrs


class ArticleSerializer(serializers.ModelSerializer):
    kb = serializers.PrimaryKeyRelatedField(queryset=KnowledgeBase.objects.all(), required=False)
    body = serializers.CharField(max_length=MAX_ARTICLE_CHARS)
    source_key = serializers.CharField(max_length=500, required=False, allow_blank=True)
    tags = serializers.ListField(child=serializers.CharField(max_length=60), required=False)
    intents = serializers.ListField(child=serializers.CharField(max_length=100), required=False)
    chunk_count = serializers.SerializerMethodField()

    class Meta:
        model = Article
        fields = [
            "id",
            "kb",
            "title",
            "body",
            "body_format",
            "tags",
            "intents",
            "url",
            "source_key",
            "status",
            "language",
            "chunk_count",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["language", "created_at", "updated_at"]

    def get_chunk_count(self, obj: Article) -> int:
        return obj.chunks.count()


class FAQSerializer(serializers.ModelSerializer):
    kb = serializers.PrimaryKeyRelatedField(queryset=KnowledgeBase.objects.all(), required=False)

    class Meta:
        model = FAQ
        fields = [
            "id",
            "kb",
            "question",
            "answer",
            "intent",
            "status",
            "article",
            "source_conversation",
            "created_at",
        ]
        read_only_fields = ["source_conversation", "created_at"]
        # A taken question is the FAQ services' call (an upsert on create, a 400 on update).
        validators: list[Any] = []


class PastConversationSerializer(serializers.Serializer):
    kb = serializers.IntegerField(required=False)
    question = serializers.CharField(max_length=1000)
    best_reply = serializers.CharField(max_length=5000, required=False, allow_blank=True)
    intent = serializers.CharField(max_length=100, required=False, allow_blank=True)


class KnowledgeImportFileSerializer(serializers.Serializer):
    file = serializers.FileField()
    kb = serializers.IntegerField(required=False)
    status = serializers.ChoiceField(choices=Article.Status.choices, default="published")


class KnowledgeImportUrlSerializer(serializers.Serializer):
    url = serializers.URLField(max_length=500)
    kb = serializers.IntegerField(required=False)
    status = serializers.ChoiceField(choices=Article.Status.choices, default="published")


class KnowledgeImportReportSerializer(serializers.Serializer):
    kind = serializers.CharField()
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    # A declared field named like Serializer.errors; DRF's metaclass moves it into _declared_fields.
    errors = serializers.ListField(child=serializers.CharField())  # type: ignore[assignment]


class SupportAskSerializer(serializers.Serializer):
    question = serializers.CharField(max_length=MAX_MESSAGE_CHARS, trim_whitespace=True)
    kb = serializers.IntegerField(required=False)
    earlier = serializers.ListField(
        child=serializers.CharField(max_length=MAX_MESSAGE_CHARS),
        max_length=6,
        required=False,
        help_text="The customer's earlier questions, oldest first: a follow-up is answered "
        "with them, as in the live chat.",
    )


class AnswerCitationSerializer(serializers.Serializer):
    article_id = serializers.IntegerField()
    title = serializers.CharField()
    url = serializers.CharField()


class AnswerSourceSerializer(serializers.Serializer):
    chunk_id = serializers.IntegerField()
    article_id = serializers.IntegerField()
    title = serializers.CharField()
    url = serializers.CharField()
    heading = serializers.CharField()
    text = serializers.CharField()
    score = serializers.FloatField()
    dense = serializers.FloatField()
    keyword = serializers.FloatField()


class SupportAnswerSerializer(serializers.Serializer):
    answer = serializers.CharField(source="text")
    kind = serializers.CharField()
    confidence = serializers.FloatField()
    handoff = serializers.BooleanField()
    handoff_reason = serializers.CharField()
    intent = serializers.CharField()
    intent_probability = serializers.FloatField(allow_null=True)
    citations = AnswerCitationSerializer(many=True)
    sources = AnswerSourceSerializer(many=True)
    query = serializers.SerializerMethodField(
        help_text="What was searched for a follow-up (with the earlier questions); else empty."
    )

    def get_query(self, answer: Any) -> str:
        return str(answer.extras.get("query", ""))


class MessageSerializer(serializers.ModelSerializer):
    class Meta:
        model = Message
        fields = [
            "id",
            "sender",
            "text",
            "client_id",
            "answer_kind",
            "citations",
            "rating",
            "created_at",
        ]


class AgentMessageSerializer(serializers.ModelSerializer):
    author: serializers.StringRelatedField[User] = serializers.StringRelatedField()

    class Meta:
        model = Message
        fields = [
            "id",
            "sender",
            "author",
            "text",
            "client_id",
            "answer_kind",
            "confidence",
            "intent",
            "intent_confidence",
            "sources",
            "citations",
            "rating",
            "flag",
            "flag_note",
            "created_at",
        ]


class ConversationSerializer(serializers.ModelSerializer):
    assigned_agent: serializers.StringRelatedField[User] = serializers.StringRelatedField()

    class Meta:
        model = Conversation
        fields = [
            "id",
            "kb",
            "status",
            "customer_name",
            "customer_email",
            "assigned_agent",
            "handoff_reason",
            "handoff_at",
            "taken_over_at",
            "closed_at",
            "csat",
            "csat_comment",
            "created_at",
            "last_message_at",
        ]


class ConversationStartSerializer(serializers.Serializer):
    kb = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=50,
        help_text="The knowledge base to chat with: its slug (e.g. shop) or id; empty: the "
        "default one. An unknown one is a 400.",
    )
    customer_name = serializers.CharField(max_length=150, required=False, allow_blank=True)


class ConversationStartedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    token = serializers.UUIDField()
    status = serializers.CharField()
    websocket = serializers.CharField()


class ChatPostMessageSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=MAX_MESSAGE_CHARS)
    client_id = serializers.CharField(max_length=64, required=False, allow_blank=True)


class ChatPostedSerializer(serializers.Serializer):
    message = MessageSerializer()
    duplicate = serializers.BooleanField()
    reply = MessageSerializer(allow_null=True)
    status = serializers.CharField()


class CsatSerializer(serializers.Serializer):
    score = serializers.IntegerField(min_value=1, max_value=5)
    comment = serializers.CharField(max_length=1000, required=False, allow_blank=True)


class MessageRateSerializer(serializers.Serializer):
    rating = serializers.ChoiceField(choices=["up", "down"])
    comment = serializers.CharField(
        max_length=500, required=False, allow_blank=True, help_text="Optional: why."
    )


class MessageFlagSerializer(serializers.Serializer):
    flag = serializers.ChoiceField(choices=["incorrect", "outdated", "incomplete"])
    note = serializers.CharField(max_length=500, required=False, allow_blank=True)


class ConversationTransferSerializer(serializers.Serializer):
    to_agent_id = serializers.IntegerField(required=False, allow_null=True)


class ConversationNoteSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=MAX_MESSAGE_CHARS)


class CannedResponseSerializer(serializers.ModelSerializer):
    class Meta:
        model = CannedResponse
        fields = ["id", "title", "text"]


class SupportStatsDaySerializer(serializers.Serializer):
    day = serializers.DateField()
    conversations = serializers.IntegerField()
    handoff_rate = serializers.FloatField()
    bot_resolution_rate = serializers.FloatField()
    csat = serializers.FloatField(allow_null=True)


class SupportStatsSerializer(serializers.Serializer):
    queue_waiting = serializers.IntegerField()
    with_agent = serializers.IntegerField()
    with_bot = serializers.IntegerField()
    agents_online = serializers.IntegerField()
    conversations = serializers.IntegerField()
    handoff_rate = serializers.FloatField()
    csat = serializers.FloatField(allow_null=True)
    series = SupportStatsDaySerializer(many=True)


class SupportResultSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    detail = serializers.CharField(required=False)


class HumanRequestResultSerializer(serializers.Serializer):
    ok = serializers.BooleanField(help_text="handed to a person now")
    outcome = serializers.ChoiceField(
        choices=["queued", "email", "waiting", "agent"],
        help_text="email: out of business hours, a person answers by email",
    )
    detail = serializers.CharField()
    message = serializers.CharField(help_text="what to tell the customer")
