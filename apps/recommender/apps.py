from django.apps import AppConfig


class RecommenderConfig(AppConfig):
    name = "apps.recommender"
    label = "recommender"
    verbose_name = "Recommender"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from apps.mlops.kinds import ModelKind, kind_register

        from .engine import RecommenderModel
        from .training import PARAM_SPECS, ranker_train

        kind_register(
            ModelKind(
                name="recommender-ranker",
                title="Recommender ranker (EASE + text + listwise ranker)",
                loader=RecommenderModel.load,
                main_metric="ndcg@10",
                tolerance=0.005,
                train=ranker_train,
                params=PARAM_SPECS,
            )
        )
        user_logged_in.connect(_visitor_merge_on_login, dispatch_uid="recommender-visitor-merge")


VISITOR_COOKIE = "tsv"


def _visitor_merge_on_login(sender, request, user, **kwargs):  # type: ignore[no-untyped-def]
    # A signal only hands over to the service: the anonymous history joins the account.
    from .services import visitor_merge

    visitor_id = request.COOKIES.get(VISITOR_COOKIE, "") if request is not None else ""
    if visitor_id:
        visitor_merge(visitor_id=visitor_id, user_id=user.pk)
