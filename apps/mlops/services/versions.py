"""Model versions: registering, the per-model policy, promotion through the gate, rollback."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from mlcore.registry import CorruptArtifact, UnknownVersion

from ..aliases import production_alias_reconcile
from ..evaluation import model_version_evaluate_here
from ..kinds import ModelKind, TrainOutcome, kind_get
from ..model_store import registry
from ..models import (
    ModelPolicy,
    ModelVersion,
    PromotionEvent,
)
from .optimisation import model_version_forms_on_promote

log = logging.getLogger(__name__)


@transaction.atomic
def model_version_register(*, name: str, outcome: TrainOutcome) -> ModelVersion:
    """Copy a trained artifact into the registry and mirror it as a `ModelVersion` row."""
    kind = kind_get(name)
    info = registry().register(
        name,
        outcome.artifact_dir,
        metrics=outcome.metrics,
        params=outcome.params,
        data_hash=outcome.data_hash,
        base_model=outcome.base_model,
    )
    version = ModelVersion.objects.create(
        name=name,
        version=info.version,
        metrics=outcome.metrics,
        params=outcome.params,
        data_hash=outcome.data_hash,
        data_size=outcome.data_size,
        label_distribution=outcome.label_distribution,
        base_model=outcome.base_model,
        artifact_path=str(info.path),
        main_metric=kind.main_metric,
    )
    if outcome.after_register:
        outcome.after_register(info.version)
    return version


def model_tolerance(name: str) -> float:
    """The gate's tolerance for `name`: the staff's `ModelPolicy` if set, else the kind's."""
    policy = ModelPolicy.objects.filter(name=name).first()
    return policy.tolerance if policy else kind_get(name).tolerance


@transaction.atomic
def model_policy_set(
    *,
    name: str,
    tolerance: float,
    user: Any = None,
    note: str = "",
    form_tolerance: float | None = None,
) -> ModelPolicy:
    kind_get(name)
    if not 0 <= tolerance <= 1:
        raise ValueError("the tolerance must be between 0 and 1")
    if form_tolerance is not None and not 0 <= form_tolerance <= 1:
        raise ValueError("the serving forms' tolerance must be between 0 and 1")
    defaults: dict[str, Any] = {
        "tolerance": tolerance,
        "note": note[:300],
        "updated_by": _user_or_none(user),
    }
    if form_tolerance is not None:
        defaults["form_tolerance"] = form_tolerance
    policy, _ = ModelPolicy.objects.update_or_create(name=name, defaults=defaults)
    return policy


def _is_acceptable(
    kind: ModelKind, tolerance: float, candidate: float | None, current: float | None
) -> bool:
    if current is None:
        return True
    if candidate is None:
        return False
    if kind.higher_is_better:
        return candidate >= current - tolerance
    return candidate <= current + tolerance


@dataclass(frozen=True)
class PromotionResult:
    promoted: bool
    kind: str
    message: str
    from_version: int | None
    to_version: int


def model_version_promote(
    *,
    name: str,
    version: int,
    user: Any = None,
    override: bool = False,
    reason: str = "",
    rollback: bool = False,
) -> PromotionResult:
    """Make `version` the production one if the gate allows it, or by recorded override/rollback.

    The gate: the main metric may not be worse than production's by more than the model's
    tolerance (`model_tolerance`). Artifacts are verified first; a corrupt version is refused
    whatever the override. An override needs a reason, which is recorded with the user.
    Raises `ModelVersion.DoesNotExist` for an unknown version.
    """
    kind = kind_get(name)
    candidate = ModelVersion.objects.get(name=name, version=version)
    current = ModelVersion.objects.filter(name=name, is_production=True).first()
    from_version = current.version if current else None
    user_id = getattr(user, "pk", None)
    tolerance = model_tolerance(name)

    def refuse(message: str) -> PromotionResult:
        PromotionEvent.objects.create(
            name=name,
            from_version=from_version,
            to_version=version,
            kind=PromotionEvent.Kind.REFUSED,
            reason=message,
            user_id=user_id,
        )
        return PromotionResult(False, PromotionEvent.Kind.REFUSED, message, from_version, version)

    if current and current.version == version:
        return PromotionResult(
            False, "noop", f"v{version} is already in production", from_version, version
        )
    try:
        registry().verify(name, version)
    except (CorruptArtifact, UnknownVersion) as exc:
        return refuse(f"artifact check failed: {exc}")
    unmeasured = False
    if candidate.origin and not rollback:
        # An imported version's own metrics came inside its archive: judge it on this server's
        # held-out data instead, as a version trained here is judged.
        model_version_evaluate_here(row=candidate)
        unmeasured = candidate.main_value is None
        if unmeasured and not override:
            return refuse(
                f"imported v{version} could not be evaluated on this server's held-out data "
                f"(no {kind.main_metric}); promote it by override with a reason if you trust it"
            )
    new_value, old_value = candidate.main_value, current.main_value if current else None
    if rollback:
        event_kind = PromotionEvent.Kind.ROLLBACK
    elif not unmeasured and (
        _is_acceptable(kind, tolerance, new_value, old_value)
        if kind.gate is None
        else kind.gate(candidate.metrics) is None
    ):
        event_kind = PromotionEvent.Kind.PROMOTE
    elif override:
        if not reason.strip():
            raise ValueError("an override needs a reason")
        event_kind = PromotionEvent.Kind.OVERRIDE
    elif kind.gate is not None:
        return refuse(kind.gate(candidate.metrics) or "refused by the kind's gate")
    else:
        return refuse(
            f"{kind.main_metric} {_fmt(new_value)} is worse than production v{from_version}'s "
            f"{_fmt(old_value)} by more than the tolerance {tolerance}"
        )
    message = reason or f"{kind.main_metric} {_fmt(new_value)} vs production {_fmt(old_value)}"
    with transaction.atomic():
        # Lock the model's rows so two promotions of the same model cannot interleave.
        list(ModelVersion.objects.select_for_update().filter(name=name).values_list("pk"))
        ModelVersion.objects.filter(name=name, is_production=True).update(is_production=False)
        ModelVersion.objects.filter(pk=candidate.pk).update(
            is_production=True, promoted_at=timezone.now()
        )
        PromotionEvent.objects.create(
            name=name,
            from_version=from_version,
            to_version=version,
            kind=event_kind,
            reason=message,
            user_id=user_id,
        )
        # The alias file is what every process reads; move it only once the rows are written,
        # to whatever the database then says (a later promotion may have committed meanwhile).
        # A crash before this runs is repaired by the reconcile at worker start and on beat.
        transaction.on_commit(lambda: production_alias_reconcile(name=name))
        hook = kind.on_production
        if hook is not None:
            transaction.on_commit(lambda: hook(version))
    # A classifier promoted without serving forms gets them exported and measured (queued).
    model_version_forms_on_promote(name=name, version=version)
    return PromotionResult(True, event_kind, message, from_version, version)


def model_version_rollback(
    *, name: str, version: int, user: Any = None, reason: str = ""
) -> PromotionResult:
    """Put an earlier version (older than production, or once in production) back in one step.

    Rollback skips the metric gate (the point is to undo a promotion) but not the artifact check.
    """
    # An unknown version is "no such version", not "newer than production".
    ModelVersion.objects.get(name=name, version=version)
    current = ModelVersion.objects.filter(name=name, is_production=True).first()
    was_production = PromotionEvent.objects.filter(
        name=name,
        to_version=version,
        kind__in=[
            PromotionEvent.Kind.PROMOTE,
            PromotionEvent.Kind.OVERRIDE,
            PromotionEvent.Kind.ROLLBACK,
        ],
    ).exists()
    if current and version > current.version and not was_production:
        raise ValueError(
            f"v{version} is newer than production v{current.version} and was never in "
            "production: promote it through the gate instead"
        )
    return model_version_promote(
        name=name,
        version=version,
        user=user,
        rollback=True,
        reason=reason or f"rolled back to v{version}",
    )


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _user_or_none(user: Any) -> Any:
    return user if getattr(user, "pk", None) else None
