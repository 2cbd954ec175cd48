from django.urls import include, path
from rest_framework.routers import DefaultRouter

from . import api

router = DefaultRouter()
router.register("knowledge-bases", api.KnowledgeBaseViewSet, basename="support-kb")
router.register("articles", api.ArticleViewSet, basename="support-article")
router.register("faqs", api.FAQViewSet, basename="support-faq")
router.register("conversations", api.ConversationViewSet, basename="support-conversation")
router.register("canned-responses", api.CannedResponseViewSet, basename="support-canned")
router.register("llm-endpoints", api.LlmEndpointViewSet, basename="support-llm-endpoint")

urlpatterns = [
    path("ask/", api.AskView.as_view(), name="support-ask"),
    path("import/", api.ImportFileView.as_view(), name="support-import"),
    path("import-url/", api.ImportUrlView.as_view(), name="support-import-url"),
    path("past-conversations/", api.PastConversationView.as_view(), name="support-past"),
    path("chat/", api.ConversationStartView.as_view(), name="support-chat-start"),
    path(
        "chat/<uuid:token>/messages/",
        api.CustomerMessagesView.as_view(),
        name="support-chat-messages",
    ),
    path("chat/<uuid:token>/csat/", api.CustomerCsatView.as_view(), name="support-chat-csat"),
    path("chat/<uuid:token>/human/", api.CustomerHumanView.as_view(), name="support-chat-human"),
    path(
        "chat/<uuid:token>/messages/<int:message_id>/rate/",
        api.CustomerRateView.as_view(),
        name="support-chat-rate",
    ),
    path(
        "messages/<int:message_id>/flag/",
        api.MessageFlagView.as_view(),
        name="support-message-flag",
    ),
    path("stats/", api.StatsView.as_view(), name="support-stats"),
    path("review/", api.ReviewView.as_view(), name="support-review"),
    path(
        "training-candidates/",
        api.TrainingCandidatesView.as_view(),
        name="support-training-candidates",
    ),
    path(
        "training-candidates/<int:pk>/accept/",
        api.TrainingCandidateAcceptView.as_view(),
        name="support-training-candidate-accept",
    ),
    path(
        "training-candidates/<int:pk>/reject/",
        api.TrainingCandidateRejectView.as_view(),
        name="support-training-candidate-reject",
    ),
    path(
        "messages/<int:message_id>/confirm/",
        api.AnswerConfirmView.as_view(),
        name="support-message-confirm",
    ),
    path("crawls/", api.CrawlsView.as_view(), name="support-crawls"),
    path("crawls/<int:pk>/", api.CrawlView.as_view(), name="support-crawl"),
    path("web-pages/", api.WebPagesView.as_view(), name="support-web-pages"),
    path("web-pages/sync/", api.WebPagesSyncView.as_view(), name="support-web-pages-sync"),
    path("", include(router.urls)),
]
