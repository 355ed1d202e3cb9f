from django.contrib.auth.models import AnonymousUser
from django.db import transaction
from django.utils.translation import gettext as _

from departments.models import Unit
from dispatch import access
from dispatch.core.errors import Forbidden, NotFound
from dispatch.models import User


def unit_status_set(*, actor: User | AnonymousUser, unit_id: int, status: str) -> Unit:
    with transaction.atomic():
        unit = access.units_visible_to(actor).select_for_update().filter(pk=unit_id).first()
        if unit is None:
            raise NotFound(_("No such unit."))
        if not access.may_set_unit_status(actor, unit):
            raise Forbidden(_("You may not change this unit's status."))
        unit.status = status
        unit.save(update_fields=["status", "updated_at"])
    return unit
