"""The shop's recommender settings: one check shared by every form, and the update."""

from __future__ import annotations

import math
from typing import Any

from django.db import transaction

from apps.mlops import runtime

from ..models import Event, RecommenderSettings, Variant
from ._common import catalog_changed, catalog_index

SETTINGS_FIELDS = (
    "feedback_weights",
    "exclude_purchased",
    "diversity",
    "category_cap",
    "trending_half_life_days",
    "default_strategy",
    "embedding_model",
)
WEIGHT_MAX = 100.0
CATEGORY_CAP_MAX = 50
# Beyond a year "trending" is all-time popularity; far beyond, the window overflows a date.
HALF_LIFE_DAYS = (0.01, 365.0)


class SettingsError(ValueError):
    """Settings that cannot be saved; `errors` says what is wrong with each field."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{name}: {message}" for name, message in errors.items()))
        self.errors = errors


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _in_range(value: Any, low: float, high: float) -> bool:
    number = _finite(value)
    return number is not None and low <= number <= high


def settings_problems(*, values: dict[str, Any]) -> dict[str, str]:
    """What is wrong with each of the given settings (empty when nothing is): the one check the
    API, the shop management page and the admin share."""
    problems: dict[str, str] = {}
    if "feedback_weights" in values:
        weights = values["feedback_weights"]
        kinds = ", ".join(Event.Kind.values)
        if not isinstance(weights, dict):
            problems["feedback_weights"] = f"map event kinds ({kinds}) to weights"
        elif unknown := sorted(str(k) for k in weights if k not in Event.Kind.values):
            problems["feedback_weights"] = f"unknown event kind {unknown[0]!r}; one of {kinds}"
        elif bad := [k for k, v in weights.items() if not _in_range(v, 0, WEIGHT_MAX)]:
            problems["feedback_weights"] = (
                f"the weight of {bad[0]} must be a number from 0 to {WEIGHT_MAX:g}"
            )
    if "exclude_purchased" in values and not isinstance(values["exclude_purchased"], bool):
        problems["exclude_purchased"] = "must be true or false"
    if "diversity" in values and not _in_range(values["diversity"], 0, 1):
        problems["diversity"] = "must be a number from 0 to 1"
    if "category_cap" in values:
        cap = values["category_cap"]
        if isinstance(cap, bool) or not isinstance(cap, int) or not 0 <= cap <= CATEGORY_CAP_MAX:
            problems["category_cap"] = (
                f"must be a whole number from 0 (no cap) to {CATEGORY_CAP_MAX}"
            )
    if "trending_half_life_days" in values and not _in_range(
        values["trending_half_life_days"], *HALF_LIFE_DAYS
    ):
        low, high = HALF_LIFE_DAYS
        problems["trending_half_life_days"] = f"must be a number of days from {low:g} to {high:g}"
    if "default_strategy" in values and values["default_strategy"] not in dict(Variant.STRATEGIES):
        names = ", ".join(dict(Variant.STRATEGIES))
        problems["default_strategy"] = (
            f"unknown strategy {values['default_strategy']!r}; one of {names}"
        )
    if "embedding_model" in values and values["embedding_model"] not in runtime.EMBEDDING_MODELS:
        names = ", ".join(runtime.EMBEDDING_MODELS)
        problems["embedding_model"] = (
            f"unknown embedding model {values['embedding_model']!r}; one of {names}"
        )
    return problems


@transaction.atomic
def settings_update(*, values: dict[str, Any]) -> RecommenderSettings:
    """Change some settings; raises SettingsError (nothing saved) if any value is invalid.
    Every cached list is refreshed, since they all depend on the settings."""
    # Cycle break: selectors imports services (Shopper, the cache keys).
    from ..selectors import settings_get

    current = settings_get()
    old_model = current.embedding_model
    given = {name: values[name] for name in SETTINGS_FIELDS if name in values}
    # The stored values are checked too: a row saved before these checks must not slip through.
    merged = {name: getattr(current, name) for name in SETTINGS_FIELDS} | given
    problems = settings_problems(values=merged)
    if problems:
        raise SettingsError(problems)
    for name, value in given.items():
        if name == "feedback_weights":
            value = {kind: float(weight) for kind, weight in value.items()}
        setattr(current, name, value)
    current.save()
    if current.embedding_model != old_model:
        _embedding_model_changed(old=old_model)
    catalog_changed()
    return current


def _embedding_model_changed(*, old: str) -> None:
    """After the commit: the old model's item index is emptied and every active item is embedded
    again, in the background, into the new model's index (its own file, of its own width)."""
    # cycle: tasks imports services (its tasks call index_rebuild)
    from ..tasks import catalog_reembed_task

    def after_commit() -> None:
        catalog_index(old).replace_all([], [])
        catalog_reembed_task.delay()

    transaction.on_commit(after_commit)
