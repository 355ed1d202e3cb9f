"""One Redis connection pool per process for Django's cache.

Django builds a cache object per thread, and under ASGI per request (each request's synchronous code runs
on a thread of its own), and each object opened a connection pool of its own: every API request made a
new TCP connection to Redis for its rate-limit counter, and redis-py reads its package metadata for each
new connection (measured: a fifth of the ASGI server's CPU per incident). Every cache object now draws from
one pool per (URL, options, process); redis-py's pools are thread-safe and reset themselves after a fork.
"""

import os
import threading

import redis

_pools: dict = {}
_lock = threading.Lock()


class SharedConnectionPool(redis.ConnectionPool):
    @classmethod
    def from_url(cls, url, **kwargs):
        key = (url, os.getpid(), tuple(sorted((name, repr(value)) for name, value in kwargs.items())))
        with _lock:
            pool = _pools.get(key)
            if pool is None:
                pool = _pools[key] = super().from_url(url, **kwargs)
        return pool
