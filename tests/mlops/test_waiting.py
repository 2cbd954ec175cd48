"""Requests that wait for a model: at most ML_MAX_WAITING_REQUESTS hold a place in a process,
and the database connection goes back only where that is safe (a pool, no transaction)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection, transaction

from apps.mlops.waiting import (
    RETRY_AFTER_S,
    ModelsBusy,
    db_connection_release,
    model_request_admit,
    model_requests_admitted,
)


def test_requests_past_the_bound_are_refused_until_a_place_is_free(settings: Any) -> None:
    settings.ML_MAX_WAITING_REQUESTS = 2

    with model_request_admit(), model_request_admit():
        with pytest.raises(ModelsBusy) as refused, model_request_admit():
            pass
        held_while_refused = model_requests_admitted()
    with model_request_admit():
        admitted_after = model_requests_admitted()

    assert refused.value.retry_after == RETRY_AFTER_S
    assert "busy" in str(refused.value)
    assert held_while_refused == 2  # the refused request took no place
    assert admitted_after == 1
    assert model_requests_admitted() == 0


def test_a_failing_request_gives_its_place_back(settings: Any) -> None:
    settings.ML_MAX_WAITING_REQUESTS = 1

    with pytest.raises(RuntimeError), model_request_admit():
        raise RuntimeError("the model broke")

    with model_request_admit():
        assert model_requests_admitted() == 1


def test_a_bound_of_zero_refuses_nothing(settings: Any) -> None:
    settings.ML_MAX_WAITING_REQUESTS = 0

    with model_request_admit(), model_request_admit(), model_request_admit():
        assert model_requests_admitted() == 3


@pytest.mark.django_db
def test_a_connection_inside_a_transaction_is_kept(settings: Any) -> None:
    settings.DATABASE_POOL_RELEASE_ON_WAIT = True
    with transaction.atomic():
        connection.ensure_connection()
        held = connection.connection

        released = db_connection_release()

        assert released is False
        assert connection.connection is held


@pytest.mark.django_db(transaction=True)
def test_a_connection_without_a_pool_is_kept(settings: Any) -> None:
    # Released only from a pool: a thread's own persistent connection blocks no one.
    settings.DATABASE_POOL_RELEASE_ON_WAIT = True
    connection.ensure_connection()
    held = connection.connection

    released = db_connection_release()

    assert released is False
    assert connection.connection is held
