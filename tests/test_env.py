"""The test profile (tests/_env.py): each xdist worker's integration stack has a Redis database
of its own, since each flushes its database."""

from tests._env import worker_redis_url


def test_each_worker_gets_its_own_redis_database():
    url = "redis://127.0.0.1:6379/15"
    assert worker_redis_url(url, "") == url
    assert worker_redis_url(url, "gw0") == url
    assert worker_redis_url(url, "gw1") == "redis://127.0.0.1:6379/14"
    assert worker_redis_url("redis://127.0.0.1:6379/0", "gw1") == "redis://127.0.0.1:6379/15"
