from django.urls import path
from django.views.i18n import JavaScriptCatalog

from . import views, views_hours, views_learning, views_review, views_web

app_name = "support"
urlpatterns = [
    path("console/", views.console, name="console"),
    path("chat/", views.chat, name="chat"),
    path("stats/", views.stats, name="stats"),
    path("review/", views_review.review, name="review"),
    path("knowledge/", views.knowledge, name="knowledge"),
    path("knowledge/sources/", views_web.sources, name="sources"),
    path("training/", views_learning.training_candidates, name="training_candidates"),
    path(
        "training/<int:pk>/",
        views_learning.training_candidate_review,
        name="training_candidate",
    ),
    path("knowledge/faq-drafts/", views.faq_drafts, name="faq_drafts"),
    path("knowledge/faq-drafts/<int:pk>/", views.faq_draft_review, name="faq_draft"),
    path("knowledge-bases/", views.knowledge_base_settings_default, name="kb_settings_default"),
    path("knowledge-bases/<int:pk>/", views.knowledge_base_settings, name="kb_settings"),
    path("knowledge-bases/<int:pk>/hours/", views_hours.business_hours, name="hours"),
    path("conversations/<int:pk>/", views.conversation_detail, name="conversation"),
    path("articles/<int:pk>/", views.article_detail, name="article"),
    # The chat widget's fixed texts in the visitor's language (apps/support/locale).
    path(
        "widget-i18n.js",
        JavaScriptCatalog.as_view(packages=["apps.support"]),
        name="widget_i18n",
    ),
]
