"""Rate limits that concurrent requests cannot bypass: a fixed-window counter incremented atomically in
the cache (Redis INCR on the services profile; DRF's own throttles read, then write, and race)."""

import time

from django.conf import settings
from django.core.cache import cache
from rest_framework.throttling import BaseThrottle

UNITS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hour": 3600, "d": 86400, "day": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    count, _, unit = rate.partition("/")
    return int(count), UNITS[unit]


def hit(scope: str, ident: str) -> tuple[bool, float]:
    """Count one request of ``ident`` in ``scope``; returns (allowed, seconds until the window resets)."""
    limit, window = parse_rate(settings.RATE_LIMITS[scope])
    now = time.time()
    key = f"rate:{scope}:{ident}:{int(now // window)}"
    cache.add(key, 0, timeout=window + 1)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=window + 1)
        count = 1
    return count <= limit, window - now % window


def client_address(request) -> str:
    """The peer address (proxy headers are not trusted here; configure the proxy to set REMOTE_ADDR)."""
    return request.META.get("REMOTE_ADDR") or "unknown"


class _Limit(BaseThrottle):
    scope = ""

    def allow_request(self, request, view):
        allowed, self._wait = hit(self.scope, self.ident(request))
        return allowed

    def wait(self):
        return self._wait

    def ident(self, request) -> str:
        raise NotImplementedError


class UserRateLimit(_Limit):
    """Per authenticated user (token or session); anonymous callers per address."""

    def allow_request(self, request, view):
        self.scope = "user" if request.user and request.user.is_authenticated else "anon"
        return super().allow_request(request, view)

    def ident(self, request) -> str:
        return str(request.user.pk) if self.scope == "user" else client_address(request)


class LoginRateLimit(_Limit):
    """Per address and username, so guessing one account's password is slow from anywhere."""

    scope = "login"

    def ident(self, request) -> str:
        data = getattr(request, "data", None)
        username = str(data.get("username", ""))[:150] if isinstance(data, dict) else ""
        return f"{client_address(request)}:{username.lower()}"
