"""Rate limits hold under concurrency: a request's slot is taken in one atomic step, on the
Redis cache (a Lua script) and on the local-memory cache (one lock of the process)."""

from __future__ import annotations

import os
import threading
import uuid
from typing import Any

import pytest
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache
from django.test import RequestFactory

from apps.accounts.rate_limit import AtomicRateThrottle, window_take
from apps.support.api.chat import AskThrottle, ChatStartThrottle

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _redis() -> RedisCache:
    options = {"OPTIONS": {"pool_class": "config.redis_pool.SharedConnectionPool"}}
    return RedisCache(REDIS_URL, options)


def _locmem() -> LocMemCache:
    return LocMemCache(f"rate-{uuid.uuid4().hex}", {})


CACHES = {"redis": _redis, "locmem": _locmem}


def _burst(cache: Any, key: str, callers: int, limit: int, now: float) -> list[bool]:
    """`callers` threads, released together, each taking one slot of `limit`."""
    start = threading.Barrier(callers)
    taken: list[bool] = []
    lock = threading.Lock()

    def one() -> None:
        start.wait()
        result, _ = window_take(cache, key, now, limit, 60)
        with lock:
            taken.append(result)

    threads = [threading.Thread(target=one) for _ in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return taken


@pytest.mark.parametrize("kind", sorted(CACHES))
def test_a_burst_of_parallel_requests_gets_exactly_the_limit(kind: str):
    cache = CACHES[kind]()
    key = f"rate-burst-{uuid.uuid4().hex}"

    taken = _burst(cache, key, callers=40, limit=10, now=1000.0)

    assert taken.count(True) == 10
    assert taken.count(False) == 30


@pytest.mark.parametrize("kind", sorted(CACHES))
def test_the_window_slides_and_a_full_one_names_its_oldest_request(kind: str):
    cache = CACHES[kind]()
    key = f"rate-window-{uuid.uuid4().hex}"

    assert window_take(cache, key, 100.0, 2, 60) == (True, 0.0)
    assert window_take(cache, key, 130.0, 2, 60) == (True, 0.0)
    # Full: the oldest request (t=100) is named, so a caller knows when a slot frees.
    assert window_take(cache, key, 150.0, 2, 60) == (False, 100.0)
    # t=100 has left the window at t=161; t=130 is still in it.
    assert window_take(cache, key, 161.0, 2, 60) == (True, 0.0)
    assert window_take(cache, key, 162.0, 2, 60) == (False, 130.0)


def test_redis_window_expires_with_its_last_request():
    cache = _redis()
    key = f"rate-expiry-{uuid.uuid4().hex}"
    window_take(cache, key, 100.0, 5, 60)

    client = cache._cache.get_client(cache.make_and_validate_key(key), write=False)
    ttl_ms = client.pttl(cache.make_and_validate_key(key))

    assert 0 < ttl_ms <= 60_000


class _Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _throttle(cls: type[AtomicRateThrottle], cache: Any, clock: _Clock) -> AtomicRateThrottle:
    throttle = cls()
    throttle.cache = cache
    throttle.timer = clock
    return throttle


@pytest.mark.parametrize("kind", sorted(CACHES))
def test_the_project_throttles_refuse_past_their_rate_and_say_when_to_retry(kind: str):
    cache, clock = CACHES[kind](), _Clock(5000.0)
    address = f"192.0.2.{os.getpid() % 250}"
    request = RequestFactory().post("/api/support/chat/", REMOTE_ADDR=address)
    request.user = None  # anonymous: keyed by the client's address
    limit = ChatStartThrottle().num_requests

    passed = []
    for _ in range(limit + 3):
        passed.append(_throttle(ChatStartThrottle, cache, clock).allow_request(request, None))
        clock.now += 1.0
    refused = _throttle(ChatStartThrottle, cache, clock)

    assert passed == [True] * limit + [False] * 3
    assert refused.allow_request(request, None) is False
    # The first request was at t=5000 in a 60 s window; it is now 5000 + limit + 3.
    assert refused.wait() == pytest.approx(60.0 - (limit + 3))


def test_every_project_throttle_of_an_anonymous_client_is_atomic():
    assert issubclass(AskThrottle, AtomicRateThrottle)
    assert issubclass(ChatStartThrottle, AtomicRateThrottle)
