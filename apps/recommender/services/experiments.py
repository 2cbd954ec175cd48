"""A/B experiments: variants, their life (draft, running, stopped, shipped), and shipping one."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from ..models import Experiment, Variant
from ._common import INT32_MAX, catalog_changed
from .settings import settings_update


def variants_clean(*, variants: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Check an experiment's variants (name, strategy, diversity, weight); raises ValueError.
    Shared by the page, the API and the admin, and checked again at start."""
    if not 2 <= len(variants) <= 4:
        raise ValueError("an experiment has two to four variants")
    names = [str(v.get("name") or "").strip() for v in variants]
    if any(not n for n in names) or len(set(names)) != len(names):
        raise ValueError("variant names must be present and distinct")
    if any(len(n) > 40 or "\x00" in n for n in names):
        raise ValueError("a variant name has at most 40 characters (and no NUL)")
    clean = []
    for name, v in zip(names, variants, strict=True):
        strategy = v.get("strategy") or "ranker"
        if strategy not in dict(Variant.STRATEGIES):
            raise ValueError(f"unknown strategy {strategy!r}")
        raw_weight = v.get("weight")
        try:
            weight = int(1 if raw_weight is None else raw_weight)
        except (TypeError, ValueError):
            raise ValueError(f"variant {name}: the weight must be a whole number") from None
        if weight < 1:
            raise ValueError(f"variant {name}: the weight must be a whole number of at least 1")
        if weight > INT32_MAX:
            raise ValueError(f"variant {name}: the weight must be at most {INT32_MAX}")
        diversity = v.get("diversity")
        if diversity in (None, ""):
            diversity = None
        else:
            try:
                diversity = float(diversity)
            except (TypeError, ValueError):
                raise ValueError(f"variant {name}: diversity must be a number") from None
            # The shop setting's range: a variant outside it could never be shipped.
            if not 0 <= diversity <= 1:
                raise ValueError(f"variant {name}: diversity must be between 0 and 1")
        clean.append({"name": name, "strategy": strategy, "diversity": diversity, "weight": weight})
    return clean


@transaction.atomic
def experiment_create(
    *, name: str, description: str = "", variants: list[dict[str, Any]]
) -> Experiment:
    if not name.strip():
        raise ValueError("an experiment needs a name")
    if len(name.strip()) > 120 or "\x00" in name + description:
        raise ValueError("an experiment's name has at most 120 characters (and no NUL)")
    if Experiment.objects.filter(name=name.strip()).exists():
        raise ValueError(f"an experiment named {name.strip()!r} exists")
    clean = variants_clean(variants=variants)
    experiment = Experiment.objects.create(name=name.strip(), description=description)
    for variant in clean:
        Variant.objects.create(experiment=experiment, **variant)
    return experiment


@transaction.atomic
def experiment_start(*, experiment_id: int) -> Experiment:
    """Start a draft; only one experiment runs at a time, so its split is clean."""
    experiment = Experiment.objects.select_for_update().filter(pk=experiment_id).first()
    if experiment is None or experiment.status != Experiment.Status.DRAFT:
        raise ValueError("only a draft experiment can be started")
    running = Experiment.objects.filter(status=Experiment.Status.RUNNING).exclude(pk=experiment_id)
    if running.exists():
        raise ValueError(f"stop {running.first()} first: one experiment runs at a time")
    # A draft edited since it was created must still be a fair split when it goes live.
    stored = experiment.variants.values("name", "strategy", "diversity", "weight")
    variants_clean(variants=[dict(v) for v in stored])
    Experiment.objects.filter(pk=experiment_id, status=Experiment.Status.DRAFT).update(
        status=Experiment.Status.RUNNING, started_at=timezone.now()
    )
    catalog_changed()
    return Experiment.objects.get(pk=experiment_id)


@transaction.atomic
def experiment_stop(*, experiment_id: int) -> Experiment:
    claimed = Experiment.objects.filter(pk=experiment_id, status=Experiment.Status.RUNNING).update(
        status=Experiment.Status.STOPPED, ended_at=timezone.now()
    )
    if not claimed:
        raise ValueError("only a running experiment can be stopped")
    catalog_changed()
    return Experiment.objects.get(pk=experiment_id)


@transaction.atomic
def experiment_ship(*, experiment_id: int, variant: str) -> Experiment:
    """End the experiment and make the winner's strategy the shop's default for everyone."""
    experiment = Experiment.objects.select_for_update().get(pk=experiment_id)
    if experiment.status not in (Experiment.Status.RUNNING, Experiment.Status.STOPPED):
        raise ValueError("only a running or stopped experiment can ship a variant")
    chosen = experiment.variants.filter(name=variant).first() if "\x00" not in variant else None
    if chosen is None:
        raise ValueError(f"{experiment} has no variant {variant!r}")
    experiment.status = Experiment.Status.SHIPPED
    experiment.shipped_variant = chosen.name
    experiment.ended_at = experiment.ended_at or timezone.now()
    experiment.save(update_fields=["status", "shipped_variant", "ended_at"])
    values: dict[str, Any] = {"default_strategy": chosen.strategy}
    if chosen.diversity is not None:
        values["diversity"] = chosen.diversity
    settings_update(values=values)
    return experiment
