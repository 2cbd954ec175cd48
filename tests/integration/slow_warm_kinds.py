"""A model kind that takes longer to load than Celery gives a new pool process to report up.

Set ML_KIND_MODULES to this module (with a registered production version) and every worker
process warms it at start-up: SLOW_LOAD_S is past Celery's 4 s worker_proc_alive_timeout, as
loading the real models is on a busy server.
"""

from __future__ import annotations

import time
from pathlib import Path

from apps.mlops.kinds import ModelKind, kind_register
from tests.mlops.kinds import LookupModel, lookup_train

SLOW_LOAD_S = 8.0
NAME = "test-slow-warm"


def slow_load(path: Path) -> LookupModel:
    time.sleep(SLOW_LOAD_S)
    return LookupModel(path)


kind_register(
    ModelKind(
        name=NAME,
        title="Test slow warm-up",
        loader=slow_load,
        main_metric="accuracy",
        train=lookup_train,
        warm=True,
    )
)
