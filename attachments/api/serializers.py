"""The attachment endpoints' request and answer shapes (``attachments.api.views``)."""

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from attachments.models import Attachment


class AttachmentUploadSerializer(serializers.Serializer):
    """A multipart upload: the photo in ``file``; ``kind`` evidence (default), before or after (a work order's job)."""

    file = serializers.FileField(allow_empty_file=False, help_text=_("A JPEG, PNG or WebP photo."))
    kind = serializers.ChoiceField(choices=Attachment.Kind.choices, default=Attachment.Kind.EVIDENCE)


class AttachmentSerializer(serializers.ModelSerializer):
    """An attachment as the API answers it: ``url`` and ``thumbnail_url`` serve the files (access checked)."""

    url = serializers.SerializerMethodField()
    thumbnail_url = serializers.SerializerMethodField()
    work_order = serializers.IntegerField(source="work_order_id", allow_null=True, read_only=True)

    class Meta:
        model = Attachment
        fields = [
            "id",
            "url",
            "thumbnail_url",
            "sha256",
            "content_type",
            "size",
            "width",
            "height",
            "kind",
            "work_order",
            "created_at",
            "erased_at",
        ]
        read_only_fields = fields

    def get_url(self, obj: Attachment) -> str | None:
        return None if obj.erased_at else reverse("attachment-file", args=[obj.pk])

    def get_thumbnail_url(self, obj: Attachment) -> str | None:
        return None if obj.erased_at else reverse("attachment-thumbnail", args=[obj.pk])
