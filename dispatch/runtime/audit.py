"""Authentication events as structured audit records (logger ``liandong.audit``)."""

import logging

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from dispatch.runtime.throttling import client_address

audit_log = logging.getLogger("liandong.audit")


def _address(request) -> str | None:
    return client_address(request) if request is not None else None


@receiver(user_logged_in)
def _logged_in(sender, request, user, **kwargs):
    audit_log.info("auth.login", extra={"event": "auth.login", "username": user.username, "address": _address(request)})


@receiver(user_logged_out)
def _logged_out(sender, request, user, **kwargs):
    audit_log.info("auth.logout", extra={"event": "auth.logout", "username": getattr(user, "username", None),
                                         "address": _address(request)})


@receiver(user_login_failed)
def _login_failed(sender, credentials, request=None, **kwargs):
    audit_log.warning("auth.login_failed", extra={"event": "auth.login_failed",
                                                  "username": credentials.get("username"), "address": _address(request)})
