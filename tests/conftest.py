"""Shared fixtures. The test environment itself is set in tests/_env.py (loaded with -p)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.test import override_settings

SHARED_DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


@pytest.fixture(autouse=True, scope="session")
def _fast_password_hashing() -> Iterator[None]:
    """Passwords hashed with MD5 in the test process instead of PBKDF2's million rounds.

    Every user a test creates with a password, and every password sign-in, hashed once at 0.28
    CPU-seconds each: minutes of the suite, spent on a cost that only matters against stolen
    hashes. Sign-in, refusal of wrong passwords and the throttle (which counts hashes with a
    hasher of its own, tests/accounts/test_login_throttle.py) behave the same with any hasher;
    the processes of the integration tests keep the production hashers.
    """
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


@pytest.fixture(autouse=True, scope="session")
def _embedder_forms_exported() -> None:
    """The packaged MiniLM's serving forms, exported and measured before any test embeds (once
    per machine; later runs find them in the cache). tests/_env.py defers every other model's
    export, so every embedder of the packaged model, in this process and in those the integration
    tests start, serves the form production chooses from the first text on."""
    from mlcore.embedder import Embedder, forms_exported

    if not forms_exported():
        Embedder(device="cpu", form="fp32").forms_export()


@pytest.fixture(autouse=True)
def _isolated_email(settings) -> None:  # type: ignore[no-untyped-def]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture(autouse=True)
def _fresh_sign_in_throttle() -> Iterator[None]:
    """Failed sign-ins of one test never lock out another (apps.accounts.login_throttle)."""
    from django.core.cache import caches

    caches["throttle"].clear()
    yield
    caches["throttle"].clear()


@pytest.fixture
def memory_channel_layer(settings) -> None:  # type: ignore[no-untyped-def]
    """Consumers under test talk through an in-process channel layer (channels resets on change)."""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


@pytest.fixture(scope="session")
def embedder():  # type: ignore[no-untyped-def]
    """The real packaged MiniLM, loaded once for the whole run, in the form production serves."""
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
