"""``manage.py check`` (and every start) refuses an ``MFA_ROLES`` naming no role: a typo would silently exempt a role
from the second factor."""

from django.conf import settings
from django.core.checks import Error


def mfa_roles_check(app_configs, **kwargs) -> list[Error]:
    from dispatch.models import Role

    unknown = sorted(set(settings.MFA_ROLES) - set(Role.values))
    if not unknown:
        return []
    return [Error(f"MFA_ROLES names no role: {', '.join(unknown)}", hint=f"roles: {', '.join(Role.values)}",
                  id="identity.E001")]
