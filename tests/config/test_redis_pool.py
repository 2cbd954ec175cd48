"""Django's Redis cache keeps one connection pool per process, not one per request context."""

import asyncio
import os

import pytest
import redis
from asgiref.sync import sync_to_async
from django.core.cache.backends.redis import RedisCache

from config.redis_pool import SharedConnectionPool

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
OPTIONS = {"OPTIONS": {"pool_class": "config.redis_pool.SharedConnectionPool"}}


def _clients(name: str) -> int:
    """Connections the Redis server holds from clients named `name`."""
    return sum(c["name"] == name for c in redis.Redis.from_url(REDIS_URL).client_list())


def test_each_new_cache_backend_reuses_the_process_pool_and_its_connection():
    name = f"pool-test-{os.getpid()}"
    options = {"OPTIONS": {**OPTIONS["OPTIONS"], "client_name": name}}

    # What each ASGI request context does: a RedisCache of its own, a throttle read and write.
    for i in range(20):
        cache = RedisCache(REDIS_URL, options)
        cache.set(f"pool-test:{i}", i, 30)
        assert cache.get(f"pool-test:{i}") == i

    assert _clients(name) == 1
    first = RedisCache(REDIS_URL, options)._cache._get_connection_pool(write=True)
    second = RedisCache(REDIS_URL, options)._cache._get_connection_pool(write=True)
    assert first is second and isinstance(first, SharedConnectionPool)


def test_without_the_shared_pool_each_backend_opens_its_own_connection():
    # The defect the shared pool mends: Django's default pool class, one pool per backend.
    name = f"pool-default-{os.getpid()}"
    backends = [RedisCache(REDIS_URL, {"OPTIONS": {"client_name": name}}) for _ in range(3)]
    for i, cache in enumerate(backends):
        cache.set(f"pool-default:{i}", i, 30)

    assert _clients(name) == 3


def test_requests_in_concurrent_contexts_share_the_pool():
    name = f"pool-async-{os.getpid()}"
    options = {"OPTIONS": {**OPTIONS["OPTIONS"], "client_name": name}}

    def request(i: int) -> int:
        cache = RedisCache(REDIS_URL, options)
        cache.set(f"pool-async:{i}", i, 30)
        return cache.get(f"pool-async:{i}")

    async def requests() -> list[int]:
        calls = [sync_to_async(request, thread_sensitive=False)(i) for i in range(16)]
        return await asyncio.gather(*calls)

    assert asyncio.run(requests()) == list(range(16))
    assert asyncio.run(requests()) == list(range(16))

    # Requests running at once each hold a connection, at most one per worker thread; the 32
    # requests made no more (one pool per backend would hold 32).
    assert 1 <= _clients(name) <= min(32, (os.cpu_count() or 1) + 4)


@pytest.fixture(autouse=True)
def _forget_pools():
    yield
    for pool in SharedConnectionPool._shared.values():
        pool.disconnect()
    SharedConnectionPool._shared.clear()
