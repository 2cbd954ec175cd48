from django.apps import AppConfig


class SentimentConfig(AppConfig):
    name = "apps.sentiment"
    label = "sentiment"
    verbose_name = "Financial sentiment"

    def ready(self) -> None:
        # setup: the app registry is ready only in ready()
        from apps.mlops.runtime import ModelKind, kind_register

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
            )
        )
