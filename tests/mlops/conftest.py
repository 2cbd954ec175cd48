from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.contrib.messages import get_messages
from rest_framework.test import APIClient

import tests.mlops.kinds  # noqa: F401  (registers the test kinds)
from apps.accounts.models import Role, User
from apps.mlops import monitoring, services


@pytest.fixture(autouse=True)
def _fresh_registry(model_dirs: Any) -> Any:
    """Every lifecycle test gets its own model folder and nothing loaded in this process."""
    services.models_forget()
    monitoring.monitoring_reset()
    yield model_dirs
    services.models_forget()


@pytest.fixture(autouse=True)
def _eager_celery(settings: Any) -> Any:
    """Run queued tasks in the test's own thread.

    tests/conftest.py sets CELERY_TASK_ALWAYS_EAGER in the environment, but pytest-django has
    already imported the settings by then, so the Celery app is configured here as well.
    """
    from config.celery import app

    before = (app.conf.task_always_eager, app.conf.task_eager_propagates)
    settings.CELERY_TASK_ALWAYS_EAGER = True
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = before


@pytest.fixture
def ml_admin(db: Any) -> User:
    user = User.objects.create_user("mladmin-test", password="pw-123456")
    user.groups.add(Group.objects.get_or_create(name=Role.ML_ADMIN)[0])
    return user


@pytest.fixture
def analyst(db: Any) -> User:
    user = User.objects.create_user("analyst-test", password="pw-123456")
    user.groups.add(Group.objects.get_or_create(name=Role.ANALYST)[0])
    return user


@pytest.fixture
def admin_client(client: Any, ml_admin: User) -> Any:
    """Django's test client signed in as the ML admin (the pages' forms)."""
    client.force_login(ml_admin)
    return client


def messages_shown(response: Any) -> list[str]:
    """The messages (django.contrib.messages) the request of `response` left for the user."""
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.fixture
def api(ml_admin: User) -> APIClient:
    client = APIClient()
    client.force_authenticate(ml_admin)
    return client


def lookup_version(quality: float, answer: str = "a", *, promote: bool = False) -> Any:
    """Train and register a `test-lookup` version of the given quality."""
    version, _ = services.version_train_and_register(
        name="test-lookup",
        params={"quality": quality, "answer": answer, "steps": 1},
        promote=False,
        log=lambda _line: None,
    )
    if promote:
        services.model_version_promote(name="test-lookup", version=version.version)
    return version


@pytest.fixture
def two_versions(django_capture_on_commit_callbacks: Any) -> Any:
    """Two `test-lookup` versions: v1 (quality 0.80) in production, v2 (0.60) returned."""
    with django_capture_on_commit_callbacks(execute=True):
        lookup_version(0.80, "a", promote=True)
    return lookup_version(0.60, "b")
