"""``/attachments/<id>/`` and ``/attachments/<id>/thumbnail/``: the files, access checked on every request
(included by ``dispatch/urls.py``)."""

from django.urls import path

from attachments.api.views import AttachmentFileView, AttachmentThumbnailView

urlpatterns = [
    path("<int:pk>/", AttachmentFileView.as_view(), name="attachment-file"),
    path("<int:pk>/thumbnail/", AttachmentThumbnailView.as_view(), name="attachment-thumbnail"),
]
