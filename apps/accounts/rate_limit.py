"""Rate limits that hold under concurrency: one atomic step per request.

DRF's `SimpleRateThrottle` reads a request's history from the cache, checks it and writes it
back: two cache round trips with a gap between them. Concurrent requests from one client all
read the same history and each writes its own, so increments are lost and a burst of parallel
requests passes a limit that the same requests sent one by one would meet. `AtomicRateThrottle`
keeps DRF's rule (a sliding window of `num_requests` per `duration`) but takes a request's slot
in one step:

- on a Redis cache, a Lua script on a sorted set of the window's request times (one round trip,
  run by Redis as one command);
- on any other cache (the local-memory cache of a single-process install), the history's read
  and write under one lock of the process, which is what such a cache is shared by.

`wait()` is the time until the window's oldest request leaves it: the first moment a retry can
pass (DRF's estimate spreads the remaining time over the slots instead).
"""

from __future__ import annotations

import itertools
import os
import threading
from typing import Any

from django.core.cache.backends.redis import RedisCache
from rest_framework.throttling import SimpleRateThrottle

# KEYS[1]: the window's sorted set. ARGV: now (s), window (s), limit, a unique member.
# Returns {1, 0} when the request takes a slot, {0, oldest request time} when the window is full.
WINDOW_TAKE = """
local key = KEYS[1]
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
if redis.call('ZCARD', key) >= tonumber(ARGV[3]) then
  local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  return {0, oldest[2]}
end
redis.call('ZADD', key, now, ARGV[4])
redis.call('PEXPIRE', key, math.ceil(window * 1000))
return {1, '0'}
"""

_local_lock = threading.Lock()
_members = itertools.count()


def _member(now: float) -> str:
    # Unique per request even for two requests of one instant, across processes and threads.
    return f"{now!r}:{os.getpid()}:{next(_members)}"


def window_take(cache: Any, key: str, now: float, limit: int, window: int) -> tuple[bool, float]:
    """Take a slot of `limit` per `window` seconds under `key` at time `now`, atomically.

    (True, 0.0) when taken; (False, time of the oldest request in the window) when full."""
    backend = _backend(cache)
    if isinstance(backend, RedisCache):
        full_key = backend.make_and_validate_key(key)
        client = backend._cache.get_client(full_key, write=True)
        taken, oldest = client.eval(WINDOW_TAKE, 1, full_key, now, window, limit, _member(now))
        return bool(int(taken)), float(oldest)
    with _local_lock:
        history = [t for t in cache.get(key, []) if t > now - window]
        if len(history) >= limit:
            return False, min(history)
        history.append(now)
        cache.set(key, history, window)
        return True, 0.0


def _backend(cache: Any) -> Any:
    """The backend behind `cache`: django.core.cache.cache is a proxy to this context's one."""
    connections = getattr(cache, "_connections", None)
    return connections[cache._alias] if connections is not None else cache


class AtomicRateThrottle(SimpleRateThrottle):
    """DRF's sliding-window throttle, with the window's check and update as one atomic step."""

    num_requests: int  # set by SimpleRateThrottle from `rate`
    duration: int
    now: float
    _oldest: float

    def allow_request(self, request: Any, view: Any) -> bool:
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.now = self.timer()
        taken, self._oldest = window_take(
            self.cache, self.key, self.now, self.num_requests, self.duration
        )
        return taken

    def wait(self) -> float | None:
        """Seconds until the window's oldest request leaves it (the first retry that passes)."""
        return max(0.0, self.duration - (self.now - self._oldest))
