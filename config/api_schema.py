"""drf-spectacular's settings: the API schema's title and stable names for its enums (pure data,
imported by config.settings)."""

from __future__ import annotations

from typing import Any

SPECTACULAR_SETTINGS: dict[str, Any] = {
    "TITLE": "Textsuite API",
    "DESCRIPTION": "Customer service, financial sentiment alerts and a text-aware recommender.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Several apps have "status"/"rating" choices; give each set its own stable name.
    "ENUM_NAME_OVERRIDES": {
        "ArticleStatusEnum": "apps.support.models.Article.Status",
        "FaqStatusEnum": "apps.support.models.FAQ.Status",
        "ConversationStatusEnum": "apps.support.models.Conversation.Status",
        "MessageRatingEnum": "apps.support.models.Message.Rating",
        "CrawlKindEnum": "apps.support.models.Crawl.Kind",
        "SourceStatusEnum": "apps.sentiment.models.Source.Status",
        "DocumentStatusEnum": "apps.sentiment.models.Document.Status",
        "AlertStatusEnum": "apps.sentiment.models.Alert.Status",
        "ExperimentStatusEnum": "apps.recommender.models.Experiment.Status",
        "TrainingRunStatusEnum": "apps.mlops.models.TrainingRun.Status",
        "VariantStrategyEnum": "apps.recommender.models.Variant.STRATEGIES",
        "ImportJobStatusEnum": "apps.core.upload_jobs.ImportJobBase.Status",
    },
}
