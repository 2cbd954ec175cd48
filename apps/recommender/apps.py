from django.apps import AppConfig
from django.contrib.auth.signals import user_logged_in

from mlcore.recommend import RecommenderModel


class RecommenderConfig(AppConfig):
    name = "apps.recommender"
    label = "recommender"
    verbose_name = "Recommender"

    def ready(self) -> None:
        # Imported here, not at the top: these modules load models, and the app registry is not
        # ready while this module is imported. (setup: the app registry is ready only in ready())
        from apps.core.language_backfill import language_target_register
        from apps.mlops.runtime import ModelKind, adapted_base_kinds, kind_register

        from .adaptation import ADAPTED_BASE
        from .services import MODEL_NAME, visitor_merge_on_login
        from .services.languages import LANGUAGE_TARGETS
        from .training import PARAM_SPECS, ranker_train

        kind_register(
            ModelKind(
                name=MODEL_NAME,
                title="Recommender ranker (EASE + text + listwise ranker)",
                loader=RecommenderModel.load,
                main_metric="ndcg@10",
                tolerance=0.005,
                train=ranker_train,
                params=PARAM_SPECS,
                untrained="the shop recommends by item text and what is trending",
            )
        )
        for kind in adapted_base_kinds(ADAPTED_BASE):
            kind_register(kind)
        for target in LANGUAGE_TARGETS:
            language_target_register(target)
        user_logged_in.connect(visitor_merge_on_login, dispatch_uid="recommender-visitor-merge")
