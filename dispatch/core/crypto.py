"""Personal data encrypted at rest (reporter name and phone), each incident's under its own data key.

Two layers (envelope encryption, issue 21):
- a **data key** per incident (a Fernet key, ``data_key_new``), which encrypts that incident's values
  (``enc2:``). It is stored only wrapped, encrypted by the master keys (``Incident.pii_key``). Destroying the
  wrapped key makes the incident's personal data unreadable for good, whatever copies of the values remain
  (crypto-shredding, ``privacy.services.erasure``);
- the **master keys**, ``PII_KEYS`` (environment): comma-separated Fernet keys, newest first. New data keys are
  wrapped with the first; any of them unwraps, so a key can be rotated in: put the new key first, run
  ``manage.py rotate_pii_keys`` (re-wraps every data key with it), then drop the old key. Without ``PII_KEYS`` a
  key is derived from ``SECRET_KEY`` (fine for the demo, not for a city); that key always stays readable, so data
  written before ``PII_KEYS`` was set can be rotated into it.

Values written before data keys existed (``enc1:``, under the master keys directly) still read;
``rotate_pii_keys`` and migration ``dispatch.0052`` move them under data keys.
"""

import base64
import hashlib
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import models

PREFIX = "enc1:"  # a value under the master keys (before data keys)
SEALED = "enc2:"  # a value under its incident's data key


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


def data_key_new() -> tuple[Fernet, str]:
    """A new data key: ``(its Fernet, the key wrapped by the master keys, to store)``."""
    key = Fernet.generate_key()
    return Fernet(key), _fernet().encrypt(key).decode()


def data_key_open(wrapped: str) -> Fernet:
    """The data key a stored ``wrapped`` key holds."""
    try:
        return Fernet(_fernet().decrypt(wrapped.encode()))
    except InvalidToken as exc:
        raise ValueError("personal data cannot be decrypted with the configured PII_KEYS") from exc


def data_key_rewrap(wrapped: str) -> str:
    """The same data key wrapped with the newest master key."""
    return _fernet().rotate(wrapped.encode()).decode()


def seal(key: Fernet, value: str) -> str:
    """``value`` encrypted under a data key (empty stays empty)."""
    return SEALED + key.encrypt(value.encode()).decode() if value else ""


def unseal(key: Fernet | None, value: str) -> str:
    """A stored value in clear: under the data key (``enc2:``), the master keys (``enc1:``), or plain text left from
    before encryption."""
    if not value:
        return ""
    if value.startswith(SEALED):
        if key is None:
            raise ValueError("this value's data key is gone")
        try:
            return key.decrypt(value[len(SEALED):].encode()).decode()
        except InvalidToken as exc:
            raise ValueError("personal data cannot be decrypted with its data key") from exc
    return decrypt(value)


class EncryptedTextField(models.TextField):
    """A text field stored encrypted; Python code sees plaintext. Not searchable, by design."""

    def from_db_value(self, value, expression, connection):
        return decrypt(value) if value is not None else value

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        return encrypt(value) if value else (value or "")
