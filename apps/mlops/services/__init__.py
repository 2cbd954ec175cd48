"""Model lifecycle services, one module per sub-domain; this package re-exports the public verbs.

Sub-modules import one way: versions <- training (registers and promotes what it trains) <-
trainer (runs a training in this process);
serving and optimisation stand alone. Export and import live in ../archives.py, the alias
reconcile in ../aliases.py, the registry in ../model_store.py.
"""

from __future__ import annotations

from ..model_store import registry
from .optimisation import (
    INT8_MAX_ACCURACY_LOSS,
    form_tolerance,
    model_version_forms_on_promote,
    model_version_optimise,
    model_version_serving_form_set,
)
from .serving import (
    model_available,
    model_load,
    model_load_versioned,
    model_loaded_version,
    models_forget,
    models_warm,
)
from .trainer import TrainingFailed, model_train_here
from .training import (
    retrain_schedule_set,
    retrain_schedules_run_due,
    training_run_cancel,
    training_run_execute,
    training_run_fail_stale,
    training_run_start,
    version_train_and_register,
)
from .versions import (
    PromotionResult,
    model_policy_set,
    model_tolerance,
    model_version_promote,
    model_version_register,
    model_version_rollback,
)

__all__ = [
    "INT8_MAX_ACCURACY_LOSS",
    "PromotionResult",
    "TrainingFailed",
    "form_tolerance",
    "model_available",
    "model_load",
    "model_load_versioned",
    "model_loaded_version",
    "model_policy_set",
    "model_tolerance",
    "model_train_here",
    "model_version_forms_on_promote",
    "model_version_optimise",
    "model_version_promote",
    "model_version_register",
    "model_version_rollback",
    "model_version_serving_form_set",
    "models_forget",
    "models_warm",
    "registry",
    "retrain_schedule_set",
    "retrain_schedules_run_due",
    "training_run_cancel",
    "training_run_execute",
    "training_run_fail_stale",
    "training_run_start",
    "version_train_and_register",
]
