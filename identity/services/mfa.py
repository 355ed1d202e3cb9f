"""A second factor at sign-in (issue 21, item 2): a code from an authenticator app (TOTP, RFC 6238) or a recovery code
(each good once), kept by django-otp (``otp_totp``, ``otp_static``). Offline: no SMS, no e-mail, no outside service.

Who is asked: everyone who has turned it on (a confirmed authenticator), and, with ``MFA_REQUIRED``, every user whose
role is in ``MFA_ROLES``; such a user without an authenticator enrols at their next sign-in before getting anywhere.

How the pages use it (``dispatch/web/mfa_views.py``): a right password of a user who is asked does not sign in; it
leaves a *pending* sign-in in the session (the user's id, for ``MFA_PENDING_SECONDS``), and only the second step calls
``login()``. There is never a half-signed-in session, so every other way in (the API's session authentication, the
pages, WebSocket tickets) stays as it was. ``POST /api/auth/token/`` takes the code in ``otp`` (``second_factor_check``).

Guessing: a wrong code makes the next try on that device wait 1, 2, 4, 8 ... seconds (django-otp's ThrottlingMixin) and
counts as a failed sign-in for django-axes' lock (``LOGIN_FAILURE_LIMIT``); a TOTP code is good once (django-otp keeps
the last time step used). Every step is an audit record (``liandong.audit``): ``mfa.enrolled``, ``mfa.code_failed``,
``mfa.recovery_code_used``, ``mfa.recovery_codes_regenerated``, ``mfa.disabled``, and ``mfa.device_removed`` for any
device deleted, by its owner or by an administrator in the admin (a lost phone: identity/receivers.py).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
from base64 import b32encode
from dataclasses import dataclass

import segno
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_login_failed
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from dispatch.core.errors import ServiceError

audit_log = logging.getLogger("liandong.audit")

PENDING = "liandong.mfa_pending"  # the session's pending sign-in: {"user", "backend", "at", "next"}
AUTHENTICATOR = "authenticator"  # the names of a user's devices (one of each kind)
RECOVERY = "recovery codes"


class Need:
    """What a user must give after the password (``second_factor_needed``)."""

    CODE = "code"  # a code from their authenticator, or a recovery code
    ENROL = "enrol"  # their role requires it and they have no authenticator yet: enrol first


class CodeRefused(ServiceError):
    """A missing, wrong or (for now) refused code: 400 naming ``otp``, or 429 with ``retry_after`` while the device
    makes the next try wait."""

    def __init__(self, message: str, retry_after: int = 0):
        super().__init__(message, {"otp": [message]})
        self.retry_after = retry_after
        if retry_after:
            self.status_code = 429


# --- who is asked -------------------------------------------------------------------------------------


def required_by_role(user) -> bool:
    return bool(settings.MFA_REQUIRED) and user.role in settings.MFA_ROLES


def is_enabled(user) -> bool:
    """The user has a confirmed authenticator (then they are asked for a code whatever their role)."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def second_factor_needed(user) -> str | None:
    """``Need.CODE``, ``Need.ENROL``, or None (the password is enough)."""
    if is_enabled(user):
        return Need.CODE
    if required_by_role(user):
        return Need.ENROL
    return None


@dataclass(frozen=True)
class Status:
    enabled: bool
    required: bool
    recovery_codes_left: int


def status(user) -> Status:
    left = StaticToken.objects.filter(device__user=user, device__confirmed=True).count()
    return Status(enabled=is_enabled(user), required=required_by_role(user), recovery_codes_left=left)


# --- the pending sign-in between the password and the code ------------------------------------------------


def pending_start(session, *, user, next_url: str = "") -> None:
    """The password was right and a second factor is needed: remember who, for ``MFA_PENDING_SECONDS``, under a new
    session key (what was in the session before signing in stays, as ``login()`` keeps it)."""
    session.cycle_key()
    session[PENDING] = {"user": user.pk, "backend": getattr(user, "backend", settings.AUTHENTICATION_BACKENDS[-1]),
                        "at": int(timezone.now().timestamp()), "next": next_url}


def pending_user(session):
    """The user whose password was given in this session less than ``MFA_PENDING_SECONDS`` ago (with ``backend`` set
    for ``login()``), or None (nothing pending, expired, or the user since deactivated)."""
    data = session.get(PENDING)
    if not isinstance(data, dict):
        return None
    if timezone.now().timestamp() - data.get("at", 0) > settings.MFA_PENDING_SECONDS:
        pending_clear(session)
        return None
    user = get_user_model().objects.filter(pk=data.get("user"), is_active=True).first()
    if user is None:
        pending_clear(session)
        return None
    user.backend = data.get("backend")
    return user


def pending_next(session) -> str:
    data = session.get(PENDING)
    return data.get("next", "") if isinstance(data, dict) else ""


def pending_clear(session) -> None:
    session.pop(PENDING, None)


# --- checking a code ----------------------------------------------------------------------------------


def _normalised(code: str | None) -> str:
    return "".join((code or "").split()).replace("-", "").lower()[:64]


def recovery_code_stored(code: str) -> str:
    """What the database keeps of a recovery code: a keyed hash (HMAC-SHA256 under a key derived from ``SECRET_KEY``,
    its first 16 hex digits, as django-otp's column is 16 characters), never the code: a copy of the database gives
    no way past the second step. The code itself is shown once, to its owner."""
    key = hashlib.sha256(("liandong-recovery-code:" + settings.SECRET_KEY).encode()).digest()
    return hmac.new(key, _normalised(code).encode(), hashlib.sha256).hexdigest()[:16]


def _refuse_while_throttled(device) -> None:
    """429 naming ``otp`` while the device makes the next try wait (django-otp's ThrottlingMixin: 1, 2, 4 ... s)."""
    allowed, info = device.verify_is_allowed()
    if not allowed:
        wait = max(1, math.ceil(((info or {}).get("locked_until", timezone.now()) - timezone.now()).total_seconds()))
        raise CodeRefused(_("Too many wrong codes: try again in %(seconds)d seconds.") % {"seconds": wait},
                          retry_after=wait)


def _code_failed(user, *, kind: str, address: str | None, request) -> None:
    """A wrong code: an audit record, and one more failed sign-in towards the account's and the address's lock
    (django-axes counts ``user_login_failed``; ``request`` is the Django request it counts by)."""
    audit_log.warning("mfa.code_failed", extra={"event": "mfa.code_failed", "username": user.username,
                                                "address": address, "kind": kind})
    if request is not None:
        user_login_failed.send(sender=__name__, credentials={"username": user.username}, request=request)


def code_check(*, user, code: str | None, request=None, address: str | None = None) -> str:
    """Accept ``code`` for ``user``: a code from their authenticator, or one of their recovery codes (used up by
    this). Returns ``"totp"`` or ``"recovery"``; raises ``CodeRefused`` (``otp``) otherwise. A wrong code is an audit
    record and a failed sign-in for django-axes (``request`` is the Django request it counts by)."""
    code = _normalised(code)
    if not code:
        raise CodeRefused(_("Enter the 6-digit code from your authenticator app, or a recovery code."))
    is_totp = code.isdigit()
    model = TOTPDevice if is_totp else StaticDevice
    with transaction.atomic():
        device = model.objects.select_for_update().filter(user=user, confirmed=True).order_by("pk").first()
        if device is None:
            ok = False
        else:
            _refuse_while_throttled(device)
            ok = device.verify_token(code if is_totp else recovery_code_stored(code))
    if not ok:
        _code_failed(user, kind="totp" if is_totp else "recovery", address=address, request=request)
        raise CodeRefused(_("Wrong code. Enter the current code from your authenticator app, or an unused "
                            "recovery code."))
    if not is_totp:
        left = StaticToken.objects.filter(device=device).count()
        audit_log.warning("mfa.recovery_code_used", extra={"event": "mfa.recovery_code_used",
                                                           "username": user.username, "address": address,
                                                           "codes_left": left})
        return "recovery"
    return "totp"


def second_factor_check(*, user, code: str | None, request=None, address: str | None = None) -> str | None:
    """The API's sign-in (``POST /api/auth/token/``, after the password): None when no second factor is needed, else
    what accepted ``code``; raises ``CodeRefused`` naming ``otp`` when it is missing or wrong, or when the role
    requires an authenticator the user has not enrolled yet (that is done by signing in on the web)."""
    need = second_factor_needed(user)
    if need is None:
        return None
    if need == Need.ENROL:
        raise CodeRefused(_("Your role signs in with a code from an authenticator app, and you have none yet: sign in "
                            "on the web first to set it up."))
    if not _normalised(code):
        raise CodeRefused(_("This account signs in with a second step: send the 6-digit code from your "
                            "authenticator app (or a recovery code) in otp."))
    return code_check(user=user, code=code, request=request, address=address)


# --- enrolment ----------------------------------------------------------------------------------------


def enrolment_device(user) -> TOTPDevice:
    """The authenticator being set up for ``user``: the unconfirmed one they have (so that a page shown again keeps
    the code they scanned), or a new one with a new random secret."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-pk").first()
    return device or TOTPDevice.objects.create(user=user, name=AUTHENTICATOR, confirmed=False)


def qr_code_svg(device: TOTPDevice) -> str:
    """The device's ``otpauth://`` URL as a QR code, an inline SVG drawn here (segno): no image service, no script."""
    return segno.make(device.config_url, error="m").svg_inline(scale=5, dark="#000", light="#fff",
                                                               title=_("QR code for your authenticator app"))


def secret_text(device: TOTPDevice) -> str:
    """The secret for typing into an app by hand: base32 in groups of four."""
    text = b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(text[i:i + 4] for i in range(0, len(text), 4))


def enrol_confirm(*, user, code: str | None, address: str | None = None, request=None) -> list[str]:
    """The first code from the app being set up confirms it: the authenticator is on, a new set of recovery codes is
    made and returned (shown once: only their owner ever sees them). Raises ``CodeRefused`` (``otp``)."""
    code = _normalised(code)
    if not code.isdigit():
        raise CodeRefused(_("Enter the 6-digit code your authenticator app shows for Liandong."))
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=False).order_by("-pk").first()
        if device is None:
            raise CodeRefused(_("Nothing is being set up: start again."))
        _refuse_while_throttled(device)
        ok = device.verify_token(code)
        if ok:
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()  # an older authenticator is replaced
            codes = _recovery_codes_new(user)
    if not ok:
        _code_failed(user, kind="enrolment", address=address, request=request)
        raise CodeRefused(_("Wrong code. Check that the app shows the code for Liandong and that the phone's clock is "
                            "right, then enter the current code."))
    audit_log.info("mfa.enrolled", extra={"event": "mfa.enrolled", "username": user.username, "address": address})
    return codes


def _recovery_codes_new(user) -> list[str]:
    device, _created = StaticDevice.objects.get_or_create(user=user, name=RECOVERY, defaults={"confirmed": True})
    device.token_set.all().delete()
    codes: set[str] = set()
    while len(codes) < settings.MFA_RECOVERY_CODES:
        codes.add(StaticToken.random_token())
    StaticToken.objects.bulk_create([StaticToken(device=device, token=recovery_code_stored(code))
                                     for code in sorted(codes)])
    return sorted(codes)


def recovery_codes_regenerate(*, user, code: str | None, request=None, address: str | None = None) -> list[str]:
    """New recovery codes for a user with an authenticator, after a current code (the old ones stop working)."""
    if not is_enabled(user):
        raise CodeRefused(_("Two-step sign-in is off: there are no recovery codes to renew."))
    code_check(user=user, code=code, request=request, address=address)
    with transaction.atomic():
        codes = _recovery_codes_new(user)
    audit_log.info("mfa.recovery_codes_regenerated", extra={"event": "mfa.recovery_codes_regenerated",
                                                            "username": user.username, "address": address})
    return codes


def mfa_disable(*, user, code: str | None, request=None, address: str | None = None) -> None:
    """Turn the second factor off (after a current code), for a user whose role does not require it."""
    if required_by_role(user):
        raise ServiceError(_("Your role requires two-step sign-in: it cannot be turned off."),
                           {"otp": [_("Your role requires two-step sign-in: it cannot be turned off.")]})
    code_check(user=user, code=code, request=request, address=address)
    with transaction.atomic():
        for model in (TOTPDevice, StaticDevice):
            for device in model.objects.filter(user=user):
                device.delete()  # one by one: each removal is an audit record (identity/receivers.py)
    audit_log.info("mfa.disabled", extra={"event": "mfa.disabled", "username": user.username, "address": address})
