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

from identity.services.credentials import USER, Credential

SALT = "liandong.ws-ticket"


def ticket_issue(user, credential: Credential | None = None) -> str:
    """A ticket for ``user``, naming the credential it was asked with (``credential_of_request``): the socket it opens
    is closed when that credential ends (``dispatch.live.warden``)."""
    credential = credential or Credential(user.pk, USER)
    return signing.TimestampSigner(salt=SALT).sign_object(credential.as_list(), compress=True)


def ticket_user(ticket: str):
    """``(the active user, the credential)`` a valid, unexpired ticket names, or ``(None, None)``."""
    try:
        credential = Credential.from_list(
            signing.TimestampSigner(salt=SALT).unsign_object(ticket, max_age=settings.WS_TICKET_SECONDS))
    except (signing.BadSignature, ValueError):
        return None, None
    if credential is None:
        return None, None
    user = get_user_model().objects.select_related("department").filter(pk=credential.user_id, is_active=True).first()
    return (user, credential) if user is not None else (None, None)


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
            user, credential = await database_sync_to_async(ticket_user)(ticket)
            scope = {**scope, "user": user or AnonymousUser(), "auth_method": "ticket", "credential": credential}
        return await self.inner(scope, receive, send)


def LiveAuthStack(inner):  # noqa: N802 - named like Channels' AuthMiddlewareStack
    return AuthMiddlewareStack(TicketAuthMiddleware(inner))
