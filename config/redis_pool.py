"""One Redis connection pool per process and URL for Django's Redis cache.

Under ASGI, Django builds its cache backends per request context (`django.core.cache.caches`
is an asgiref Local), and each `RedisCache` built a connection pool of its own. So every
request that touched the cache, as every throttled API call does, opened a new Redis
connection: a TCP connect, redis-py's handshake and health check, and a read of redis-py's
package metadata for the client name. Profiled under 50 customers asking through daphne, that
was 14% of the web process's CPU (bench/RESULTS.md, "Redis connections per request").

`SharedConnectionPool` is named as the cache's `pool_class` (config/settings.py): the backend
asks it for a pool for its URL and gets the process's one. redis-py's pools are thread-safe and
reset themselves in a forked child, so web threads and forked workers may share the class.
"""

from __future__ import annotations

import threading
from typing import Any, ClassVar

import redis


class SharedConnectionPool(redis.ConnectionPool):
    _shared: ClassVar[dict[tuple[str, str], redis.ConnectionPool]] = {}
    _shared_lock: ClassVar[threading.Lock] = threading.Lock()

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> Any:
        """The process's pool for `url` and these options, made on first use."""
        key = (url, repr(sorted(kwargs.items(), key=lambda kv: kv[0])))
        with cls._shared_lock:
            pool = cls._shared.get(key)
            if pool is None:
                pool = cls._shared[key] = super().from_url(url, **kwargs)
            return pool
