"""Rate limits that concurrent requests cannot bypass: a fixed-window counter incremented atomically in
the cache (Redis INCR on the services profile; DRF's own throttles read, then write, and race)."""

import logging
import time

from django.conf import settings
from django.core.cache import caches
from rest_framework.throttling import BaseThrottle

log = logging.getLogger(__name__)
_warned_at = 0.0

UNITS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hour": 3600, "d": 86400, "day": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    count, _, unit = rate.partition("/")
    return int(count), UNITS[unit]


def hit(scope: str, ident: str) -> tuple[bool, float]:
    """Count one request of ``ident`` in ``scope``; returns (allowed, seconds until the window resets)."""
    limit, window = parse_rate(settings.RATE_LIMITS[scope])
    now = time.time()
    key = f"rate:{scope}:{ident}:{int(now // window)}"
    try:
        count = _count(caches["default"], key, window)
    except Exception as exc:  # noqa: BLE001 - Redis unreachable: limit per process rather than refuse incidents
        global _warned_at
        if now - _warned_at > 10:  # one line per 10 s, not one per request
            _warned_at = now
            log.warning("rate limit: shared cache unreachable (%s); counting in this process", exc)
        count = _count(caches["local"], key, window)
    return count <= limit, window - now % window


def _count(cache, key: str, window: int) -> int:
    cache.add(key, 0, timeout=window + 1)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=window + 1)
        return 1


def client_address(request) -> str:
    """The client's address: the peer, or with ``TRUSTED_PROXY_COUNT`` = N the N-th entry from the right of
    ``X-Forwarded-For`` (entries further left are the client's own claims and are never used)."""
    peer = request.META.get("REMOTE_ADDR") or "unknown"
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies <= 0:
        return peer
    chain = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    return chain[-proxies] if len(chain) >= proxies else peer


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
