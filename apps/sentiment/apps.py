from django.apps import AppConfig


class SentimentConfig(AppConfig):
    name = "apps.sentiment"
    label = "sentiment"
    verbose_name = "Financial sentiment"

    def ready(self) -> None:
        # setup: the app registry is ready only in ready()
        from apps.core.language_backfill import language_target_register
        from apps.mlops.runtime import ModelKind, adapted_base_kinds, kind_register

        from .adaptation import ADAPTED_BASE
        from .services.languages import LANGUAGE_TARGETS
        from .training import MODEL_NAME, PARAM_SPECS, classifier_load, sentiment_train

        kind_register(
            ModelKind(
                name=MODEL_NAME,
                title="Financial sentiment",
                loader=classifier_load,
                main_metric="macro_f1",
                tolerance=0.005,
                train=sentiment_train,
                params=PARAM_SPECS,
                untrained="new headlines wait for their scores, and alerts for them",
            )
        )
        for kind in adapted_base_kinds(ADAPTED_BASE):
            kind_register(kind)
        for target in LANGUAGE_TARGETS:
            language_target_register(target)
