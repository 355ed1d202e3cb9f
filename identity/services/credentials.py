"""What a live connection was opened with, and whether it still holds (issue 21: a socket is closed with 4401 within
a minute of its session or token ending).

A WebSocket is authenticated once, when it opens: by the browser's session, or by a ticket that a client got with its
token or key (``POST /api/auth/ws-ticket/``). The ticket names that credential, so the socket can be held to it: when
the session ends (sign-out, expiry, a password change), the token is revoked or expires, the key is switched off or
expires, or the user is deactivated, the socket's credential has ended. ``credentials_ended`` checks any number of
them with one query per kind (the live warden asks for all of a process's sockets at once)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from dispatch.models import ApiClient
from identity.models import DeviceToken
from identity.services.sessions import lifetime

SESSION, TOKEN, CLIENT, USER = "session", "token", "client", "user"


@dataclass(frozen=True)
class Credential:
    user_id: int
    kind: str  # SESSION (ref: the session key), TOKEN (the token's digest), CLIENT (the API client's id), USER (none)
    ref: str = ""

    def as_list(self) -> list:
        return [self.user_id, self.kind, self.ref]

    @classmethod
    def from_list(cls, value) -> Credential | None:
        try:
            user_id, kind, ref = value
            return cls(int(user_id), str(kind), str(ref))
        except (TypeError, ValueError):
            return None


def credential_of_request(request) -> Credential | None:
    """The credential a DRF request came with: its token, its API key or its session."""
    user = request.user
    if not user.is_authenticated:
        return None
    if isinstance(request.auth, DeviceToken):
        return Credential(user.pk, TOKEN, request.auth.digest)
    if isinstance(request.auth, ApiClient):
        return Credential(user.pk, CLIENT, str(request.auth.pk))
    session_key = getattr(getattr(request, "session", None), "session_key", None)
    return Credential(user.pk, SESSION, session_key) if session_key else Credential(user.pk, USER)


def credential_of_scope(scope) -> Credential | None:
    """The credential of a socket authenticated by the session cookie (Channels' ``AuthMiddlewareStack``)."""
    user = scope.get("user")
    if user is None or not user.is_authenticated:
        return None
    session_key = getattr(scope.get("session"), "session_key", None)
    return Credential(user.pk, SESSION, session_key) if session_key else Credential(user.pk, USER)


def credentials_ended(credentials: Iterable[Credential]) -> set[Credential]:
    """Those of ``credentials`` that no longer hold (one query per kind, and one for the users)."""
    credentials = set(credentials)
    if not credentials:
        return set()
    now = timezone.now()
    users = {user.pk: user for user in get_user_model().objects.filter(
        pk__in={c.user_id for c in credentials}, is_active=True)}
    by_kind = defaultdict(set)
    for credential in credentials:
        by_kind[credential.kind].add(credential.ref)
    live_tokens = set(DeviceToken.objects.filter(digest__in=by_kind[TOKEN], expiry__gt=now)
                      .values_list("digest", "user_id")) if by_kind[TOKEN] else set()
    live_clients = {(str(client.pk), client.user_id) for client in ApiClient.objects.filter(
        pk__in=[int(ref) for ref in by_kind[CLIENT] if ref.isdigit()])
        if client.in_force} if by_kind[CLIENT] else set()
    live_sessions = _sessions_holding(by_kind[SESSION], users, now) if by_kind[SESSION] else set()
    ended = set()
    for credential in credentials:
        key = (credential.ref, credential.user_id)
        if credential.user_id not in users or (
                credential.kind == TOKEN and key not in live_tokens
                or credential.kind == CLIENT and key not in live_clients
                or credential.kind == SESSION and key not in live_sessions):
            ended.add(credential)
    return ended


def _sessions_holding(keys: set[str], users: dict, now) -> set[tuple[str, int]]:
    """(session key, user id) of the sessions that exist, have not expired (nor been idle too long), and still sign
    in their user (Django's session hash: a password change ends every session of the user)."""
    held = set()
    store = SessionStore()
    for key, data in Session.objects.filter(session_key__in=keys, expire_date__gt=now).values_list(
            "session_key", "session_data"):
        session = store.decode(data)
        try:
            user = users.get(int(session.get(SESSION_KEY)))
        except (TypeError, ValueError):
            continue
        if user is None or not constant_time_compare(session.get(HASH_SESSION_KEY, ""), user.get_session_auth_hash()):
            continue
        deadlines = lifetime(session)
        if deadlines is not None and deadlines.ended(now):
            continue  # idle too long, or at its longest (identity.services.sessions)
        held.add((key, user.pk))
    return held
