"""/metrics, /api/schema/ and /api/docs/: open in development, guarded in production."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.accounts.models import Role
from apps.accounts.services import token_get_or_create, user_create

ROOT = Path(__file__).resolve().parents[2]
OPS_PATHS = ["/metrics", "/api/schema/", "/api/docs/"]


@pytest.fixture
def production(settings: Any) -> Any:
    settings.OPS_ENDPOINTS_PUBLIC = False
    settings.METRICS_ALLOW_NETWORKS = ["10.20.0.0/16", "2001:db8::/32"]
    settings.TRUSTED_PROXY_COUNT = 0
    return settings


@pytest.mark.django_db
def test_development_leaves_the_operations_endpoints_open(client, settings):
    settings.OPS_ENDPOINTS_PUBLIC = True

    assert client.get("/metrics").status_code == 200
    assert client.get("/api/docs/").status_code == 200


@pytest.mark.django_db
def test_production_refuses_strangers(client, production):
    assert client.get("/metrics").status_code == 403
    assert client.get("/api/schema/").status_code == 403
    docs = client.get("/api/docs/")
    assert docs.status_code == 302 and docs["Location"].startswith("/accounts/login/")


@pytest.mark.django_db
def test_production_refuses_signed_in_users_without_the_ml_admin_role(client, production):
    client.force_login(user_create(username="ana", password="pw-long-12345", roles=[Role.ANALYST]))

    for path in OPS_PATHS:
        assert client.get(path).status_code == 403, path


@pytest.mark.django_db
def test_production_lets_ml_admins_in_by_session_or_token(client, production):
    admin = user_create(username="ml", password="pw-long-12345", roles=[Role.ML_ADMIN])
    client.force_login(admin)

    assert client.get("/metrics").status_code == 200
    assert client.get("/api/docs/").status_code == 200
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token_get_or_create(user=admin)}")
    schema = api.get("/api/schema/")
    assert schema.status_code == 200 and b"openapi" in schema.content


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("remote", "forwarded", "status"),
    [
        ("10.20.3.4", "", 200),
        ("2001:db8::5", "", 200),
        ("10.21.0.1", "", 403),
        ("192.0.2.1", "10.20.3.4", 403),  # a forged header is not the scraper's address
    ],
)
def test_production_lets_allowed_networks_scrape_metrics(
    client, production, remote, forwarded, status
):
    extra = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded else {}

    assert client.get("/metrics", REMOTE_ADDR=remote, **extra).status_code == status


def test_the_production_profile_guards_metrics_by_default(tmp_path):
    script = textwrap.dedent(
        """
        import django
        django.setup()
        from django.conf import settings
        from django.test import Client
        from django.test.utils import setup_test_environment
        setup_test_environment()
        print(settings.OPS_ENDPOINTS_PUBLIC, settings.REST_FRAMEWORK["NUM_PROXIES"])
        print(Client().get("/metrics", secure=True).status_code)
        """
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "DJANGO_ENV")
    }
    env.update(
        DJANGO_ENV="production",
        DJANGO_SETTINGS_MODULE="config.settings",
        SECRET_KEY="x" * 20 + "-a-long-random-production-key-9f8e7d",
        ALLOWED_HOSTS="testserver",
        DATA_DIR=str(tmp_path),
    )

    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "0", "403"]
