"""Public warnings (CAP 1.2): issue, update and cancel, recorded as timeline rows (``dispatch.interop.cap.documents``)."""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from dispatch import access
from dispatch.core.changes import record_change
from dispatch.core.errors import Conflict, Forbidden, NotFound
from dispatch.interop.cap.documents import CAP_KINDS, cap_identifier, cap_time
from dispatch.models import Incident, Role, TimelineEvent

ACTIONS = {"issue": "cap.issued", "update": "cap.updated", "cancel": "cap.cancelled"}
ISSUER_ROLES = {Role.DISPATCHER, Role.SUPERVISOR}


def may_issue_public_warning(user) -> bool:
    return user.is_authenticated and user.role in ISSUER_ROLES


def incident_public_warning(*, actor, incident_id: int, action: str, headline: str, instruction: str = "",
                            area: str = "", radius_km: float | None = None, headline_zh: str = "",
                            instruction_zh: str = "") -> TimelineEvent:
    """Issue, update or cancel the incident's public warning. 404 unseen, 403 role, 409 wrong moment."""
    with transaction.atomic():
        if not access.incidents_visible_to(actor).filter(pk=incident_id).exists():
            raise NotFound(_("No such incident."))
        if not may_issue_public_warning(actor):
            raise Forbidden(_("Only dispatchers and supervisors may issue public warnings."))
        incident = Incident.objects.select_for_update(no_key=True, of=("self",)).select_related("event_type").get(pk=incident_id)
        last = (
            TimelineEvent.objects.filter(incident=incident, kind__in=CAP_KINDS).order_by("-seq")
            .values_list("kind", flat=True).first()
        )
        active = last in ("cap.issued", "cap.updated")
        if action == "issue" and active:
            raise Conflict(_("A public warning is already active; update or cancel it."), {"action": [_("Not available now.")]})
        if action in ("update", "cancel") and not active:
            raise Conflict(_("There is no active public warning to %(action)s.") % {"action": action},
                           {"action": [_("Not available now.")]})
        seq = (TimelineEvent.objects.filter(incident=incident).order_by("-seq").values_list("seq", flat=True).first() or 0) + 1
        kind = ACTIONS[action]
        data = {
            "identifier": cap_identifier(incident, seq), "sent": cap_time(timezone.now()), "msgType": CAP_KINDS[kind],
            "headline": headline, "instruction": instruction, "area": area,
            **({"radius_km": radius_km} if radius_km else {}),
            **({"headline_zh": headline_zh} if headline_zh else {}),
            **({"instruction_zh": instruction_zh} if instruction_zh else {}),
        }
        event = record_change(incident=incident, kind=kind, actor=actor, data=data, live=kind)
    return event
