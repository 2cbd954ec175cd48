from typing import Any

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


def visitor_cookie(request: Any) -> str:
    """The browser's visitor id from the `tsv` cookie, or "" when it has none or a value no
    server ever set (too long, control characters): such a cookie is replaced, not stored."""
    value = request.COOKIES.get(VISITOR_COOKIE, "") if request is not None else ""
    if not value or len(value) > 64 or any(ord(c) < 32 or ord(c) == 127 for c in value):
        return ""
    return str(value)


def _visitor_merge_on_login(sender, request, user, **kwargs):  # type: ignore[no-untyped-def]
    # A signal only hands over to the service: the anonymous history joins the account.
    from .services import visitor_merge

    visitor_id = visitor_cookie(request)
    if visitor_id:
        visitor_merge(visitor_id=visitor_id, user_id=user.pk)
