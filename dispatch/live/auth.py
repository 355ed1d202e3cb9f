"""WebSocket authentication: the session cookie (browsers) or a short-lived signed ticket (other clients).

Tickets come from ``POST /api/auth/ws-ticket/`` and are passed as ``?ticket=``; they expire after
``WS_TICKET_SECONDS`` so that a URL that ends up in a log is worthless soon after. Long-lived API
tokens are never accepted in a URL.
"""

from urllib.parse import parse_qs, urlsplit

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.core import signing
from django.http.request import split_domain_port, validate_host

SALT = "liandong.ws-ticket"


def ticket_issue(user) -> str:
    return signing.TimestampSigner(salt=SALT).sign(str(user.pk))


def ticket_user(ticket: str):
    """The active user a valid, unexpired ticket names, or ``None``."""
    try:
        user_id = signing.TimestampSigner(salt=SALT).unsign(ticket, max_age=settings.WS_TICKET_SECONDS)
    except signing.BadSignature:
        return None
    return get_user_model().objects.select_related("department").filter(pk=user_id, is_active=True).first()


def query_param(scope, name: str) -> str | None:
    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get(name)
    return values[0] if values else None


def origin_allowed(scope) -> bool:
    """No Origin header (a non-browser client) is fine; a browser's Origin must be one of ALLOWED_HOSTS."""
    origin = dict(scope.get("headers", [])).get(b"origin")
    if origin is None:
        return True
    host = urlsplit(origin.decode("latin-1")).netloc
    domain, _port = split_domain_port(host)
    return bool(domain) and validate_host(domain, settings.ALLOWED_HOSTS)


class TicketAuthMiddleware:
    """Sets ``scope["user"]`` from ``?ticket=`` when given (a bad or expired ticket: anonymous)."""

    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        ticket = query_param(scope, "ticket")
        if ticket is not None:
            user = await database_sync_to_async(ticket_user)(ticket)
            scope = {**scope, "user": user or AnonymousUser(), "auth_method": "ticket"}
        return await self.inner(scope, receive, send)


def LiveAuthStack(inner):  # noqa: N802 - named like Channels' AuthMiddlewareStack
    return AuthMiddlewareStack(TicketAuthMiddleware(inner))
