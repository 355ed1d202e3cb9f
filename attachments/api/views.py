"""``/api/incidents/<id>/attachments/``, ``/api/work-orders/<id>/attachments/`` (list, upload) and
``/attachments/<id>/`` (+ ``thumbnail/``, the files): thin; the rules are ``attachments.services.uploads``'.

Files are served with the row's content type, ``nosniff``, ``Content-Security-Policy: default-src 'none'`` and an
inline disposition named after the id (never the upload's name), privately cacheable only.
"""

from django.http import FileResponse
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import NotAuthenticated
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from attachments.api.serializers import AttachmentSerializer, AttachmentUploadSerializer
from attachments.services.images import EXTENSIONS
from attachments.services.uploads import (
    attachment_add,
    attachment_for_viewer,
    attachment_storage,
    attachments_visible,
)

CACHE_SECONDS = 300


class _AttachmentsView(APIView):
    parser_classes = [MultiPartParser]
    target = "incident_id"

    @extend_schema(responses={200: AttachmentSerializer(many=True)})
    def get(self, request, pk: int):
        rows = attachments_visible(actor=request.user, **{self.target: pk})
        return Response(AttachmentSerializer(rows, many=True).data)

    @extend_schema(request={"multipart/form-data": AttachmentUploadSerializer}, responses={201: AttachmentSerializer})
    def post(self, request, pk: int):
        body = AttachmentUploadSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        upload = body.validated_data["file"]
        attachment = attachment_add(
            actor=request.user,
            upload=upload,
            kind=body.validated_data["kind"],
            original_name=upload.name or "",
            **{self.target: pk},
        )
        return Response(AttachmentSerializer(attachment).data, status=status.HTTP_201_CREATED)


class IncidentAttachmentsView(_AttachmentsView):
    """An incident's photos: who sees the incident lists them; command roles and its departments' members add."""

    target = "incident_id"


class WorkOrderAttachmentsView(_AttachmentsView):
    """A work order's photos (before / after the job): its department and the command roles."""

    target = "work_order_id"


class AttachmentFileView(APIView):
    """The stored file (or its thumbnail): a signed link (``?sig=``), or a signed-in user who may see it."""

    permission_classes = [AllowAny]  # the signature or the user's access decides, in the service
    thumbnail = False

    # Not in the OpenAPI document: a file, not a JSON resource (an id that is no number is a page's 404);
    # tests/attachments and the permission matrix cover it.
    @extend_schema(exclude=True)
    def get(self, request, pk: int):
        signature = request.query_params.get("sig") or None
        if signature is None and not request.user.is_authenticated:
            raise NotAuthenticated()
        attachment = attachment_for_viewer(actor=request.user, attachment_id=pk, signature=signature)
        name = attachment.thumbnail_name if self.thumbnail else attachment.file_name
        content_type = "image/jpeg" if self.thumbnail else attachment.content_type
        extension = EXTENSIONS.get(content_type, "bin")
        response = FileResponse(attachment_storage().open(name, "rb"), content_type=content_type)
        response["X-Content-Type-Options"] = "nosniff"
        response["Content-Disposition"] = f'inline; filename="{attachment.pk}.{extension}"'
        response["Cache-Control"] = f"private, max-age={CACHE_SECONDS}"
        response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
        return response


class AttachmentThumbnailView(AttachmentFileView):
    thumbnail = True
