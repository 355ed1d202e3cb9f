"""A user's tokens are revoked in the transaction that changes the user's password, activity, role or department
(wherever the change is made: the admin, ``manage.py`` commands, services)."""

from django.conf import settings
from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver

from identity.services.tokens import Revocation, tokens_revoke_all

# field -> why a change of it revokes the user's tokens
WATCHED = {"password": Revocation.PASSWORD, "is_active": Revocation.DEACTIVATED, "role": Revocation.ROLE,
           "department_id": Revocation.DEPARTMENT}


@receiver(pre_save, sender=settings.AUTH_USER_MODEL)
def _standing_before(sender, instance, update_fields=None, raw=False, **kwargs):
    instance._identity_revocations = []
    if raw or instance.pk is None:
        return
    if update_fields is not None and not {f.removesuffix("_id") for f in WATCHED} & {
            f.removesuffix("_id") for f in update_fields}:
        return  # e.g. last_login on every sign-in: nothing watched can change
    before = sender.objects.filter(pk=instance.pk).values(*WATCHED).first()
    if before is not None:
        instance._identity_revocations = [
            reason for field, reason in WATCHED.items() if before[field] != getattr(instance, field)
            and not (field == "is_active" and instance.is_active)  # activated again: nothing to revoke
        ]


@receiver(post_save, sender=settings.AUTH_USER_MODEL)
def _standing_after(sender, instance, created=False, raw=False, **kwargs):
    reasons = getattr(instance, "_identity_revocations", None)
    if reasons and not raw:
        tokens_revoke_all(user=instance, reason=",".join(reasons))
    instance._identity_revocations = []
