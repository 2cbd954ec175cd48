"""The shop management page in a real browser (daphne, PostgreSQL, Chromium): the recommender
settings form saves the stored settings as they are.

No worker and no model.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.conftest import Stack, db_query, sign_in

pytestmark = [pytest.mark.integration]

SETUP = """
from apps.accounts.models import Role
from apps.accounts.services import user_create
from django.contrib.auth import get_user_model
if not get_user_model().objects.filter(username="settings-merch").exists():
    user_create(username="settings-merch", password="settings-merch-pw", roles=[Role.MERCHANDISER])
print("setup")
"""


def test_the_settings_form_saves_the_stored_values(running: Stack, chromium: Any) -> None:
    setup = running.manage("shell", "-c", SETUP, timeout=300)
    assert "setup" in setup.stdout, setup.stdout + setup.stderr
    base = running.start_web()
    page = chromium.new_page()
    sign_in(page, base, "settings-merch", "settings-merch-pw", "/shop/manage/")
    page.wait_for_url("**/shop/manage/", timeout=30_000)

    # Only a weight changes; the other fields go back as the page showed them (half-life 3.0).
    page.fill("input[name=w_purchase]", "8")
    page.get_by_role("button", name="Save settings").click()
    page.wait_for_load_state()
    saved = db_query(
        running.database_url,
        "SELECT feedback_weights->>'purchase', trending_half_life_days "
        "FROM recommender_recommendersettings",
    )

    assert page.get_by_text("Settings saved.").count() == 1
    assert saved == [("8.0", 3.0)]
    page.close()
