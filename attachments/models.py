"""Photos kept as evidence on incidents and work orders (issue 19).

Written only by ``attachments.services.uploads``: a row exists only for bytes that passed
``attachments.services.images`` and are stored (the cleaned image and its thumbnail) in the ``attachments``
storage under random names; ``sha256`` is the stored file's, and the timeline's ``attachment.added`` row repeats it.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Attachment(models.Model):
    """One photo: on an incident (``evidence``), or on one of its work orders (``before`` / ``after`` a job).

    ``file_name`` and ``thumbnail_name`` are names in the ``attachments`` storage (random, never the upload's);
    ``original_name`` is the uploader's file name, trimmed, shown only, never used as a path.
    """

    class Kind(models.TextChoices):
        EVIDENCE = "evidence", _("Evidence")
        BEFORE = "before", _("Before")
        AFTER = "after", _("After")

    incident = models.ForeignKey("dispatch.Incident", on_delete=models.PROTECT, related_name="attachments")
    work_order = models.ForeignKey(
        "departments.WorkOrder", null=True, blank=True, on_delete=models.PROTECT, related_name="attachments"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.EVIDENCE)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )  # None: an Open311 client's report (its service account is on the timeline row)
    created_at = models.DateTimeField(auto_now_add=True)
    content_type = models.CharField(max_length=32)
    size = models.PositiveIntegerField()
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    file_name = models.CharField(max_length=200)
    thumbnail_name = models.CharField(max_length=200)
    original_name = models.CharField(max_length=120, blank=True)
    # The files were deleted with the report's personal data (``privacy``: retention policy or request); the row
    # stays, as the timeline's ``attachment.added`` row names it.
    erased_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["incident", "created_at"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.pk} ({self.content_type})"
