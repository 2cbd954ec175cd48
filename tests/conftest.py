"""Test profile: the embedded settings with eager Celery and throw-away data folders.

TEST_DATABASE_URL runs the Django tests on PostgreSQL (CI does); integration tests start real
processes against TEST_DATABASE_URL / TEST_REDIS_URL themselves (see tests/integration).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

_DATA = Path(tempfile.mkdtemp(prefix="textsuite-test-"))
os.environ["DATA_DIR"] = str(_DATA)
os.environ["ML_MODEL_DIR"] = str(_DATA / "models")
os.environ["ML_INDEX_DIR"] = str(_DATA / "indices")
os.environ["CELERY_TASK_ALWAYS_EAGER"] = "1"
os.environ["CELERY_EMBEDDED_WORKER"] = "0"
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
for name in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "EMAIL_URL", "DJANGO_ENV"):
    os.environ.pop(name, None)
if os.environ.get("TEST_DATABASE_URL"):
    os.environ["DATABASE_URL"] = os.environ["TEST_DATABASE_URL"]

SHARED_DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


@pytest.fixture(autouse=True)
def _isolated_email(settings) -> None:  # type: ignore[no-untyped-def]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture(scope="session")
def embedder():  # type: ignore[no-untyped-def]
    """The real packaged MiniLM, loaded once for the whole run."""
    from mlcore.embedder import shared_embedder

    return shared_embedder(device="cpu")


@pytest.fixture
def model_dirs(settings, tmp_path) -> Iterator[Path]:  # type: ignore[no-untyped-def]
    """Fresh registry and index folders for one test."""
    from apps.mlops import services, vectors

    settings.ML_MODEL_DIR = tmp_path / "models"
    settings.ML_INDEX_DIR = tmp_path / "indices"
    services.registry.cache_clear()
    vectors._indices.clear()
    yield tmp_path
    services.registry.cache_clear()
    vectors._indices.clear()
