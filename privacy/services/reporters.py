"""A report's reporter, as supervisors act on it: revealing the contact data (with a reason the timeline keeps) and
erasing it on the request of the person concerned (PIPL art. 47). Who sees it masked or in clear is
``dispatch.access.can_see_reporter``; the retention policy's erasure is ``privacy.services.retention``."""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from dispatch import access
from dispatch.core.changes import record_change
from dispatch.core.errors import Conflict, Forbidden, Invalid
from dispatch.models import Erasure, Incident
from dispatch.services.incidents import incident_lock_visible
from privacy.services.erasure import incident_pii_erase

audit_log = logging.getLogger("liandong.audit")


def reporter_reveal(*, actor, incident_id: int, reason: str) -> dict:
    """A supervisor sees the reporter's contact data in clear, for a stated reason that the timeline keeps; 409 once
    it was erased (when, and why)."""
    with transaction.atomic():
        incident = incident_lock_visible(actor=actor, incident_id=incident_id)  # 404 first, as everywhere
        if not access.may_reveal_reporter(actor):
            raise Forbidden(_("Only supervisors may reveal reporter data."))
        if not reason.strip():
            raise Invalid(_("Say why you need the reporter's contact data."), {"reason": [_("This field is required.")]})
        if incident.pii_erased_at is not None:
            raise erased_conflict(incident)
        record_change(  # not pushed: the console learns of a reveal from the timeline
            incident=incident, kind="pii.revealed", actor=actor,
            data={"reason": reason, "fields": ["name", "phone"], "confidential": incident.reporter_confidential},
        )
    audit_log.info(
        "pii.revealed", extra={"event": "pii.revealed", "username": actor.username, "incident": incident.number,
                               "reason": reason},
    )
    return {"name": incident.reporter_name, "phone": incident.reporter_phone}


def erased_conflict(incident: Incident) -> Conflict:
    """409 for asking to see or erase personal data that is gone: when, and why."""
    when = date_format(timezone.localtime(incident.pii_erased_at), "DATE_FORMAT")
    why = Erasure(incident.pii_erasure).label if incident.pii_erasure else ""
    return Conflict(
        _("The reporter's personal data was erased on %(date)s (%(why)s); it cannot be shown any more.")
        % {"date": when, "why": why},
        {"erased_at": [timezone.localtime(incident.pii_erased_at).isoformat()], "erasure": [incident.pii_erasure]},
    )




def reporter_erase(*, actor, incident_id: int, reason: str) -> Incident:
    """A supervisor erases a report's personal data because the person concerned asked (PIPL art. 47), with the
    reason (never the person's data: the timeline keeps it). 409 when it is erased already."""
    with transaction.atomic():
        incident = incident_lock_visible(actor=actor, incident_id=incident_id)  # 404 first, as everywhere
        if not access.may_erase_reporter(actor):
            raise Forbidden(_("Only supervisors may erase reporter data."))
        if not reason.strip():
            raise Invalid(_("Say who asked and how (not their personal data)."),
                          {"reason": [_("This field is required.")]})
        if incident.pii_erased_at is not None:
            raise erased_conflict(incident)
        erased = incident_pii_erase(
            incident=incident, erasure=Erasure.REQUEST, now=timezone.now(), actor=actor, reason=reason.strip(),
        )
    audit_log.info("pii.erased", extra={"event": "pii.erased", "username": actor.username, "incident": incident.number,
                                        "reason": reason.strip(), "erased": erased})
    return incident


