"""A user's tokens are revoked in the transaction that changes the user's password, activity, role or department
(wherever the change is made: the admin, ``manage.py`` commands, services), and the change is an audit record; so
are an account or address locked after repeated failed sign-ins, failures cleared (by a success or an administrator:
django-axes), every action
taken in the admin, and every second-factor device removed (by its owner, or by an administrator for a lost phone)."""

import logging

from axes.models import AccessAttempt
from axes.signals import user_locked_out
from django.conf import settings
from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.auth import SESSION_KEY, get_user_model
from django.contrib.auth.signals import user_logged_in
from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from identity.services.sessions import session_started
from identity.services.tokens import Revocation, tokens_revoke_all

audit_log = logging.getLogger("liandong.audit")

# field -> why a change of it revokes the user's tokens
WATCHED = {"password": Revocation.PASSWORD, "is_active": Revocation.DEACTIVATED, "role": Revocation.ROLE,
           "department_id": Revocation.DEPARTMENT}


@receiver(pre_save, sender=settings.AUTH_USER_MODEL)
def _standing_before(sender, instance, update_fields=None, raw=False, **kwargs):
    instance._identity_changes = []
    if raw or instance.pk is None:
        return
    if update_fields is not None and not {f.removesuffix("_id") for f in WATCHED} & {
            f.removesuffix("_id") for f in update_fields}:
        return  # e.g. last_login on every sign-in: nothing watched can change
    before = sender.objects.filter(pk=instance.pk).values(*WATCHED).first()
    if before is not None:
        instance._identity_changes = [field for field in WATCHED if before[field] != getattr(instance, field)]


@receiver(post_save, sender=settings.AUTH_USER_MODEL)
def _standing_after(sender, instance, created=False, raw=False, **kwargs):
    changes = getattr(instance, "_identity_changes", None)
    instance._identity_changes = []
    if not changes or raw:
        return
    audit_log.info("auth.account_changed", extra={
        "event": "auth.account_changed", "username": instance.username, "changes": changes,
        "role": instance.role, "department": instance.department_id, "active": instance.is_active})
    # activated again: no token to revoke
    reasons = [WATCHED[field] for field in changes if not (field == "is_active" and instance.is_active)]
    if reasons:
        tokens_revoke_all(user=instance, reason=",".join(reasons))


@receiver(user_locked_out)
def _locked_out(sender, request=None, username=None, ip_address=None, **kwargs):
    audit_log.warning("auth.locked_out", extra={"event": "auth.locked_out", "username": username,
                                                "address": ip_address})


@receiver(post_delete, sender=AccessAttempt)
def _failures_cleared(sender, instance, **kwargs):
    audit_log.info("auth.failures_cleared", extra={"event": "auth.failures_cleared", "username": instance.username,
                                                  "address": instance.ip_address,
                                                  "failures": instance.failures_since_start})


ADMIN_ACTIONS = {ADDITION: "added", CHANGE: "changed", DELETION: "deleted"}


@receiver(post_save, sender=LogEntry)
def _admin_action(sender, instance, created=False, raw=False, **kwargs):
    """Every change made in the admin (users, roles, departments, units, clients, tokens ...), as Django's admin
    history records it."""
    if not created or raw:
        return
    audit_log.info("admin.action", extra={
        "event": "admin.action", "username": instance.user.username if instance.user_id else None,
        "action": ADMIN_ACTIONS.get(instance.action_flag, str(instance.action_flag)),
        "model": f"{instance.content_type.app_label}.{instance.content_type.model}" if instance.content_type_id else None,
        "object_id": instance.object_id, "object": instance.object_repr, "change": instance.get_change_message()})


@receiver(user_logged_in)
def _session_started(sender, request=None, user=None, **kwargs):
    """A page sign-in (``login()`` put the user in the session) starts the session's clocks; an API token's sign-in
    has no session and gets none."""
    session = getattr(request, "session", None)
    if session is not None and SESSION_KEY in session:
        session_started(session)


@receiver(post_delete, sender=TOTPDevice)
@receiver(post_delete, sender=StaticDevice)
def _device_removed(sender, instance, **kwargs):
    """A confirmed authenticator or set of recovery codes deleted, wherever (the admin, turning it off, the user
    deleted); an abandoned enrolment (unconfirmed) is not worth a record. Who did it in the admin: ``admin.action``."""
    if not instance.confirmed:
        return
    owner = get_user_model().objects.filter(pk=instance.user_id).values_list("username", flat=True).first()
    audit_log.warning("mfa.device_removed", extra={
        "event": "mfa.device_removed", "username": owner,
        "device": "authenticator" if sender is TOTPDevice else "recovery_codes", "device_name": instance.name})
