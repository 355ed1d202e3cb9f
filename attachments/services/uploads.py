"""Adding a photo to an incident or a work order, listing them, and the signed links that serve them.

Order of an upload: who may (404 for what the actor cannot see, 403 for what they see but may not attach to), the
bytes checked and cleaned (``attachments.services.images``; nothing is stored for a refused file), both files
stored in the ``attachments`` storage under random names, then ONE transaction re-checks access and the count
limit with the incident locked, creates the row and records ``attachment.added`` on the timeline (its sha256 is the
stored file's). When that transaction fails the stored files are deleted: never a file without its row.

The files are served only through ``attachments.api.views.AttachmentFileView``: to a signed-in user who may see
the attachment (``dispatch.access.may_see_attachment``) or to whoever holds a signed link (``attachment_signed_url``,
expiring after ``ATTACHMENT_SIGNED_URL_SECONDS``), which is what an Open311 reporter gets as ``media_url``.
"""

from __future__ import annotations

import secrets
from typing import IO, Any

from django.conf import settings
from django.core import signing
from django.core.files.base import ContentFile
from django.core.files.storage import Storage, storages
from django.db import transaction
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from attachments.models import Attachment
from attachments.services.images import CleanImage, image_clean, image_read
from departments.models import WorkOrder
from dispatch import access
from dispatch.core.changes import record_change
from dispatch.core.errors import Conflict, Forbidden, Gone, NotFound
from dispatch.models import Incident

SIGNING_SALT = "attachments.file"


def attachment_storage() -> Storage:
    """The ``attachments`` storage alias (settings.STORAGES): the file system by default, S3 through django-storages."""
    return storages["attachments"]


def _limit(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


def _target(
    *, actor: Any, incident_id: int | None, work_order_id: int | None, lock: bool
) -> tuple[Incident, WorkOrder | None]:
    """The incident (and work order) ``actor`` names, if they may see it: 404 otherwise. ``lock``: the incident row
    is locked for the caller's transaction (the count limit is checked under it)."""
    work_order = None
    if work_order_id is not None:
        work_order = access.work_orders_visible_to(actor).filter(pk=work_order_id).first()
        if work_order is None:
            raise NotFound(_("No such work order."))
        incident_id = work_order.incident_id
    incidents = access.incidents_visible_to(actor) if work_order is None else Incident.objects.all()
    if lock:
        incidents = incidents.select_for_update(no_key=True, of=("self",))
    incident = incidents.filter(pk=incident_id).first()
    if incident is None:
        raise NotFound(_("No such incident."))
    return incident, work_order


def _check_may_attach(actor: Any, incident: Incident, work_order: WorkOrder | None) -> None:
    if not access.may_attach(actor, incident, work_order):
        raise Forbidden(_("You may not attach photos here."))


def _check_count(incident: Incident, work_order: WorkOrder | None) -> None:
    if work_order is not None:
        limit = _limit("ATTACHMENTS_PER_WORK_ORDER", 10)
        if Attachment.objects.filter(work_order=work_order).count() >= limit:
            raise Conflict(
                _("Too many photos."), {"file": [_("A work order holds at most %(n)d photos.") % {"n": limit}]}
            )
    limit = _limit("ATTACHMENTS_PER_INCIDENT", 20)
    if Attachment.objects.filter(incident=incident).count() >= limit:
        raise Conflict(_("Too many photos."), {"file": [_("An incident holds at most %(n)d photos.") % {"n": limit}]})


def _store(image: CleanImage) -> tuple[str, str]:
    """Both files under random names (the date for the folder only); returns the names the storage chose."""
    storage = attachment_storage()
    stem = f"{timezone.now():%Y/%m}/{secrets.token_hex(16)}"
    file_name = storage.save(f"{stem}.{image.extension}", ContentFile(image.data))
    try:
        thumbnail_name = storage.save(f"{stem}-thumb.jpg", ContentFile(image.thumbnail))
    except BaseException:
        storage.delete(file_name)
        raise
    return file_name, thumbnail_name


def attachment_record(
    *,
    actor: Any,
    incident: Incident,
    work_order: WorkOrder | None,
    image: CleanImage,
    kind: str,
    original_name: str,
) -> Attachment:
    """Store ``image`` and record it, in the caller's transaction (the incident already locked and access checked):
    the files are deleted again if that transaction does not commit."""
    file_name, thumbnail_name = _store(image)
    storage = attachment_storage()

    def _discard() -> None:
        storage.delete(file_name)
        storage.delete(thumbnail_name)

    try:
        attachment = Attachment.objects.create(
            incident=incident,
            work_order=work_order,
            kind=kind,
            uploaded_by=actor if actor is not None else None,
            content_type=image.content_type,
            size=len(image.data),
            width=image.width,
            height=image.height,
            sha256=image.sha256,
            file_name=file_name,
            thumbnail_name=thumbnail_name,
            original_name=(original_name or "")[-120:].strip(),
        )
        data: dict[str, Any] = {
            "attachment": attachment.pk,
            "sha256": image.sha256,
            "content_type": image.content_type,
            "size": len(image.data),
            "kind": kind,
        }
        if work_order is not None:
            data["work_order"] = work_order.pk
        record_change(
            incident=incident,
            kind="attachment.added",
            actor=actor,
            data=data,
            work_order=work_order,
            live="incident.attachment_added",
        )
        Incident.objects.filter(pk=incident.pk).update(updated_at=timezone.now())
    except BaseException:
        _discard()
        raise
    return attachment


def attachment_add(
    *,
    actor: Any,
    incident_id: int | None = None,
    work_order_id: int | None = None,
    upload: IO[bytes],
    kind: str,
    original_name: str = "",
) -> Attachment:
    """A photo on an incident (``incident_id``) or on a work order (``work_order_id``); see the module."""
    incident, work_order = _target(actor=actor, incident_id=incident_id, work_order_id=work_order_id, lock=False)
    _check_may_attach(actor, incident, work_order)  # refused before the bytes are even read
    image = image_clean(image_read(upload))
    stored: list[str] = []
    try:
        with transaction.atomic():
            incident, work_order = _target(
                actor=actor,
                incident_id=incident.pk if work_order is None else None,
                work_order_id=work_order_id,
                lock=True,
            )
            _check_may_attach(actor, incident, work_order)
            _check_count(incident, work_order)
            attachment = attachment_record(
                actor=actor,
                incident=incident,
                work_order=work_order,
                image=image,
                kind=kind,
                original_name=original_name,
            )
            stored = [attachment.file_name, attachment.thumbnail_name]
    except BaseException:
        for name in stored:  # the row's transaction failed after the files were written (at commit)
            attachment_storage().delete(name)
        raise
    return attachment


def attachments_visible(*, actor: Any, incident_id: int | None = None, work_order_id: int | None = None) -> QuerySet:
    """The attachments of an incident or a work order that ``actor`` may see (404 for what they cannot see)."""
    incident, work_order = _target(actor=actor, incident_id=incident_id, work_order_id=work_order_id, lock=False)
    rows = Attachment.objects.filter(incident=incident).select_related("work_order")
    if work_order is not None:
        return rows.filter(work_order=work_order)
    if access.is_command(actor):
        return rows
    # A department member sees the incident's own photos and their department's orders', not other departments'.
    return rows.filter(work_order__isnull=True) | rows.filter(work_order__department_id=actor.department_id)


def attachment_for_viewer(*, actor: Any, attachment_id: int, signature: str | None) -> Attachment:
    """The attachment to serve: a valid, unexpired signed link for this id, or a user who may see it (404)."""
    attachment = Attachment.objects.select_related("work_order").filter(pk=attachment_id).first()
    if attachment is None:
        raise NotFound(_("No such attachment."))
    if signature:
        try:
            signed_id, expires = signing.Signer(salt=SIGNING_SALT).unsign(signature).split(".")
        except (signing.BadSignature, ValueError):
            raise NotFound(_("No such attachment.")) from None
        if signed_id != str(attachment.pk) or int(expires) <= timezone.now().timestamp() or attachment.erased_at:
            raise NotFound(_("No such attachment."))
        return attachment
    if not access.may_see_attachment(actor, attachment):
        raise NotFound(_("No such attachment."))
    if attachment.erased_at is not None:
        raise Gone(_("This photo was erased with the report's personal data on %(date)s.")
                   % {"date": date_format(timezone.localtime(attachment.erased_at), "DATE_FORMAT")})
    return attachment


def attachment_signed_url(attachment: Attachment, *, thumbnail: bool = False) -> str | None:
    """A link to the file that works without signing in until ``ATTACHMENT_SIGNED_URL_SECONDS`` after the upload
    (a reporter's ``media_url``), or None once that time has passed. The expiry is the upload's, not the reading's:
    the same link every time, so reading the public request list does not mint ever-new links."""
    expires = int(attachment.created_at.timestamp()) + _limit("ATTACHMENT_SIGNED_URL_SECONDS", 7 * 24 * 3600)
    if expires <= timezone.now().timestamp():
        return None
    name = "attachment-thumbnail" if thumbnail else "attachment-file"
    signature = signing.Signer(salt=SIGNING_SALT).sign(f"{attachment.pk}.{expires}")
    return f"{reverse(name, args=[attachment.pk])}?sig={signature}"


def attachment_files_delete(attachment: Attachment) -> None:
    """Remove an attachment's stored files (its row's transaction did not commit)."""
    attachment_storage().delete(attachment.file_name)
    attachment_storage().delete(attachment.thumbnail_name)


def attachment_image(upload: IO[bytes]) -> CleanImage:
    """An upload checked and cleaned before anything else is created (Open311's ``media``): 400 naming ``file``."""
    return image_clean(image_read(upload))
