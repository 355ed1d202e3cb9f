"""API clients: creating one (its key is shown once, stored only hashed) and recognising its key."""

from __future__ import annotations

import hmac
import re
import secrets
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from departments.models import Department
from dispatch.core.errors import Invalid
from dispatch.models import ApiClient, Role, User
from dispatch.models.clients import KEY_PREFIX, LOOKUP_CHARS, key_hash

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
SERVICE_USER_PREFIX = "api."
LAST_USED_GRANULARITY = timedelta(minutes=1)  # at most one write per client and minute


def api_client_add(*, name: str, kind: str, department_code: str | None = None,
                   expires_at=None) -> tuple[ApiClient, str]:
    """Create a client and its service account; returns ``(client, key)``. The key exists only in the
    return value: the database keeps its SHA-256 and a short prefix."""

    errors = {}
    if not NAME_RE.match(name or ""):
        errors["name"] = [_("Letters, digits, '.', '-' and '_', at most 64 characters.")]
    if kind not in ApiClient.Kind.values:
        errors["kind"] = [_("One of: %(kinds)s.") % {"kinds": ", ".join(ApiClient.Kind.values)}]
    department = None
    if kind == ApiClient.Kind.DEPARTMENT:
        if not department_code:
            errors["department"] = [_("A department client needs --department CODE.")]
        else:
            department = Department.objects.filter(code=department_code).first()
            if department is None:
                errors["department"] = [_("Unknown department %(code)r.") % {"code": department_code}]
    elif department_code:
        errors["department"] = [_("Only department clients belong to a department.")]
    if not errors and ApiClient.objects.filter(name=name).exists():
        errors["name"] = [_("A client named %(name)r exists.") % {"name": name}]
    username = SERVICE_USER_PREFIX + name
    if not errors and User.objects.filter(username=username).exists():
        errors["name"] = [_("The user %(username)r exists already.") % {"username": username}]
    if errors:
        raise Invalid(_("Invalid input."), errors)

    key = KEY_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        # The service account: a department system is that department's staff, so every rule in
        # dispatch.access applies to it unchanged; an Open311 client's account belongs to no department
        # and so may see and do nothing on /api/ (its key is refused there anyway).
        user = User(username=username, role=Role.STAFF, department=department, first_name=name[:150])
        user.set_unusable_password()
        user.save()
        client = ApiClient.objects.create(
            name=name, kind=kind, department=department, user=user,
            key_prefix=key[:LOOKUP_CHARS], key_hash=key_hash(key), expires_at=expires_at,
        )
    return client, key


def api_client_for_key(key: str) -> ApiClient | None:
    """The client whose key this is (active or not), or None. Compares hashes in constant time."""
    if not key or not key.startswith(KEY_PREFIX) or len(key) > 200:
        return None
    digest = key_hash(key)
    found = None
    for client in ApiClient.objects.filter(key_prefix=key[:LOOKUP_CHARS]).select_related("user", "department"):
        if hmac.compare_digest(client.key_hash, digest):
            found = client
    return found


def api_client_touch(client: ApiClient) -> None:
    """Record use (coarsely: one write per minute at most)."""
    now = timezone.now()
    if client.last_used_at is None or now - client.last_used_at >= LAST_USED_GRANULARITY:
        ApiClient.objects.filter(pk=client.pk).update(last_used_at=now)
        client.last_used_at = now
