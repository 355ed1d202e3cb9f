"""Tracking tokens (issue 19): every report gets one at intake, shown to the reporter, looked up by its hash.

The token is derived, not stored: ``HMAC-SHA256(SECRET_KEY, per-incident random salt)``, base64url (43
characters, 256 bits). The incident keeps the salt and ``sha256(token)`` (unique, the lookup key). Why derived
rather than stored encrypted: an idempotent replay of an intake must answer the same token, and a derivation
gives that without decrypting a column on every load of an incident (the board loads many); a database dump
alone yields no token (the key is not in it), and the lookup needs no constant-time compare since it is by hash.
This module imports nothing of the apps: ``dispatch.services.incidents`` calls it on the intake hot path (no
query: the two values are set on the instance before its one insert).
"""

import base64
import hashlib
import secrets

from django.utils.crypto import salted_hmac

_PURPOSE = "liandong.public.tracking"


def tracking_token_for(salt: str) -> str:
    """The token of an incident with this salt ("" when it has none: reported before tokens existed)."""
    if not salt:
        return ""
    digest = salted_hmac(_PURPOSE, salt, algorithm="sha256").digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def tracking_hash(token: str) -> str:
    """The stored lookup key of a token: sha256 hex."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def tracking_token_assign(incident) -> None:
    """Give a new (unsaved) incident its salt and token hash; no query."""
    incident.tracking_salt = secrets.token_hex(16)
    incident.tracking_token_hash = tracking_hash(tracking_token_for(incident.tracking_salt))
