"""Erasing a report's personal data for good (PIPL art. 47), by the retention policy or on request.

What a report holds about its reporter: the name and phone (under the incident's own data key,
``dispatch.core.crypto``), an Open311 request's extra fields and the URL its app sent, the citizen's feedback text
(``public.Feedback``), and the photos sent with the report (``attachments``, kind ``evidence``). Erasure, in ONE
transaction: the wrapped data key is destroyed and the values blanked (so a copy of the values taken earlier, from
a backup or a replica, can no longer be read once the key's copies are gone too), the extra fields and the feedback
text blanked, the photos marked erased (their files are deleted by an outbox job recorded in the same transaction),
the request's fingerprint (``intake_hash``, a hash of a body that held the phone) blanked, ``pii_erased_at`` set,
and a ``pii.erased`` row on the timeline saying what was erased, why and under which rule, never the data itself.
The timeline stays verifiable: it never held the personal data. Work orders' before/after photos are the
departments' record of the work and stay.
"""

from __future__ import annotations

from datetime import datetime

from attachments.models import Attachment
from attachments.services.uploads import attachment_storage
from dispatch.core.changes import record_change
from dispatch.core.outbox import outbox_enqueue, outbox_handler
from dispatch.models import Incident, Open311Request
from public.models import Feedback

FILES_DELETE = "privacy.files_delete"


def incident_pii_erase(
    *, incident: Incident, erasure: str, now: datetime, actor=None, reason: str = "", rule: dict | None = None,
) -> dict:
    """Erase what ``incident`` (locked, in the caller's transaction, not erased yet) holds about its reporter; returns
    what was erased (``{"fields", "attributes", "feedback", "photos"}``). The timeline row is written only when
    something was held: an incident whose period is over with nothing to erase is just marked."""
    had_key = bool(incident.pii_key)
    fields = [name for name, value in (("name", incident.reporter_name_sealed), ("phone", incident.reporter_phone_sealed))
              if value]
    attributes = Open311Request.objects.filter(incident=incident).exclude(attributes={}, media_url="").update(
        attributes={}, media_url=""
    )
    feedback = Feedback.objects.filter(incident=incident).exclude(text="").update(text="")
    photos = list(Attachment.objects.filter(
        incident=incident, kind=Attachment.Kind.EVIDENCE, erased_at__isnull=True,
    ).values_list("pk", "file_name", "thumbnail_name"))
    if photos:
        Attachment.objects.filter(pk__in=[pk for pk, _f, _t in photos]).update(erased_at=now)
        outbox_enqueue(kind=FILES_DELETE, payload={"files": [name for _pk, *names in photos for name in names]})
    Incident.objects.filter(pk=incident.pk).update(
        pii_key="", reporter_name_sealed="", reporter_phone_sealed="", intake_hash="",
        pii_erased_at=now, pii_erasure=erasure,
    )
    incident.pii_key = incident.reporter_name_sealed = incident.reporter_phone_sealed = incident.intake_hash = ""
    incident.pii_erased_at, incident.pii_erasure = now, erasure
    erased = {"fields": fields, "attributes": attributes, "feedback": feedback, "photos": len(photos)}
    if had_key or fields or attributes or feedback or photos:
        data = {"erasure": erasure, "erased": erased}
        if reason:
            data["reason"] = reason
        if rule is not None:
            data["rule"] = rule
        record_change(incident=incident, kind="pii.erased", actor=actor, data=data)
    return erased


@outbox_handler(FILES_DELETE)
def files_delete(*, files: list[str]) -> None:
    """Delete erased photos' stored files (again is harmless: a missing file is no error)."""
    storage = attachment_storage()
    for name in files:
        storage.delete(name)
