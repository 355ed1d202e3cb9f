"""Personal data encrypted at rest (reporter name and phone), with rotatable keys.

``PII_KEYS`` (environment): comma-separated Fernet keys, newest first. New values are encrypted with the
first; any of them decrypts, so a key can be rotated in: put the new key first, run
``manage.py rotate_pii_keys`` (re-encrypts every value with it), then drop the old key. Without
``PII_KEYS`` a key is derived from ``SECRET_KEY`` (fine for the demo, not for a city); that key always
stays readable, so data written before ``PII_KEYS`` was set can be rotated into it.
"""

import base64
import hashlib
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import models

PREFIX = "enc1:"


@lru_cache(maxsize=1)
def _fernet() -> MultiFernet:
    keys = [k.strip() for k in settings.PII_KEYS if k.strip()]
    # The key derived from SECRET_KEY comes last: the demo's key when no PII_KEYS are set, and afterwards
    # still able to read what was written before PII_KEYS existed (until rotate_pii_keys re-encrypts it).
    derived = hashlib.sha256(("liandong-pii:" + settings.SECRET_KEY).encode()).digest()
    keys.append(base64.urlsafe_b64encode(derived).decode())
    return MultiFernet([Fernet(k.encode()) for k in keys])


def reset_keys() -> None:
    _fernet.cache_clear()


def encrypt(value: str) -> str:
    if not value:
        return ""
    return PREFIX + _fernet().encrypt(value.encode()).decode()


def decrypt(value: str) -> str:
    if not value or not value.startswith(PREFIX):
        return value or ""
    try:
        return _fernet().decrypt(value[len(PREFIX):].encode()).decode()
    except InvalidToken as exc:
        raise ValueError("personal data cannot be decrypted with the configured PII_KEYS") from exc


def rotate(value: str) -> str:
    """Re-encrypt with the newest key (plaintext left over from before encryption is encrypted too)."""
    if not value:
        return ""
    if not value.startswith(PREFIX):
        return encrypt(value)
    return PREFIX + _fernet().rotate(value[len(PREFIX):].encode()).decode()


class EncryptedTextField(models.TextField):
    """A text field stored encrypted; Python code sees plaintext. Not searchable, by design."""

    def from_db_value(self, value, expression, connection):
        return decrypt(value) if value is not None else value

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        return encrypt(value) if value else (value or "")
