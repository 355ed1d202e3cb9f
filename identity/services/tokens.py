"""People's API tokens (django-rest-knox keeps them: issue 21, item 1).

A token is issued per sign-in (per device) and is stored only as its SHA-512 digest and its first characters: a copy
of the database or of a backup holds no usable token. It expires ``API_TOKEN_HOURS`` after its last use and never
later than ``API_TOKEN_MAX_HOURS`` after it was issued. It is revoked when its owner signs out with it or revokes it,
and every token of a user is revoked when that user's password, activity, role or department changes (the user's
standing at sign-in no longer holds). Expired tokens are refused at once and deleted by beat (``tokens_purge``).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from hmac import compare_digest

from django.db.models import QuerySet
from django.utils import timezone
from knox.crypto import hash_token
from knox.settings import CONSTANTS, knox_settings

from identity.models import DeviceToken

audit_log = logging.getLogger("liandong.audit")

MAX_TOKEN_LENGTH = 200  # anything longer is no token of ours: refused before hashing


class Revocation:
    """Why tokens were revoked (the audit record's ``reason``)."""

    LOGOUT = "logout"
    OWNER = "revoked_by_owner"
    PASSWORD = "password_changed"
    DEACTIVATED = "deactivated"
    ROLE = "role_changed"
    DEPARTMENT = "department_changed"


def token_issue(*, user, device: str = "", address: str | None = None) -> tuple[DeviceToken, str]:
    """A new token for ``user`` on ``device``; returns ``(token, the token's text)``: the text exists only here."""
    token, text = DeviceToken.objects.create(user=user, device=(device or "")[:200])
    audit_log.info("auth.token_issued", extra={"event": "auth.token_issued", "username": user.username,
                                               "token": token.token_key, "device": token.device, "address": address})
    return token, text


def token_authenticate(text: str) -> DeviceToken | None:
    """The unexpired token whose text this is (its user loaded), or ``None``. Its expiry slides forward and its last
    use is recorded, at most once a minute per token (``MIN_REFRESH_INTERVAL``: one UPDATE, not one per request)."""
    if not text or len(text) > MAX_TOKEN_LENGTH:
        return None
    now = timezone.now()
    digest = hash_token(text)
    for token in DeviceToken.objects.filter(token_key=text[:CONSTANTS.TOKEN_KEY_LENGTH]).select_related(
            "user", "user__department"):
        if not compare_digest(digest, token.digest):
            continue
        if token.expiry is not None and token.expiry <= now:
            return None
        _renew(token, now)
        return token
    return None


def _renew(token: DeviceToken, now) -> None:
    used = token.last_used_at or token.created
    if (now - used).total_seconds() < knox_settings.MIN_REFRESH_INTERVAL:
        return
    expiry = now + knox_settings.TOKEN_TTL
    if knox_settings.AUTO_REFRESH_MAX_TTL is not None:
        expiry = min(expiry, token.created + knox_settings.AUTO_REFRESH_MAX_TTL)
    DeviceToken.objects.filter(pk=token.pk).update(expiry=expiry, last_used_at=now)
    token.expiry, token.last_used_at = expiry, now


def tokens_live(user) -> QuerySet[DeviceToken]:
    """``user``'s tokens that still work, newest first."""
    return DeviceToken.objects.filter(user=user, expiry__gt=timezone.now())


def token_revoke(*, user, token_key: str, reason: str = Revocation.OWNER) -> int:
    """Revoke ``user``'s token named ``token_key`` (its first characters, as listed); how many were (0 or 1)."""
    return _revoke(user, DeviceToken.objects.filter(user=user, token_key=token_key), reason)


def token_revoke_current(*, token: DeviceToken) -> int:
    """Revoke the token a request came with (signing out)."""
    return _revoke(token.user, DeviceToken.objects.filter(pk=token.pk), Revocation.LOGOUT)


def tokens_revoke_all(*, user, reason: str) -> int:
    """Revoke every token of ``user``; how many were."""
    return _revoke(user, DeviceToken.objects.filter(user=user), reason)


def _revoke(user, tokens: QuerySet[DeviceToken], reason: str) -> int:
    keys = list(tokens.values_list("token_key", flat=True))
    if keys:
        tokens.delete()
        audit_log.info("auth.tokens_revoked", extra={"event": "auth.tokens_revoked", "username": user.username,
                                                     "tokens": keys, "reason": reason})
    return len(keys)


def tokens_purge(*, older_than: timedelta = timedelta(0)) -> int:
    """Delete the tokens that expired (``older_than`` ago or more); how many (beat runs this hourly)."""
    deleted, _ = DeviceToken.objects.filter(expiry__lte=timezone.now() - older_than).delete()
    return deleted
