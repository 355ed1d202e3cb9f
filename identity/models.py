from django.db import models
from django.utils.translation import gettext_lazy as _
from knox.models import AbstractAuthToken


class DeviceToken(AbstractAuthToken):
    """A person's API token for one device (one per sign-in through ``POST /api/auth/token/``), as django-rest-knox
    keeps it: only the SHA-512 ``digest`` of the token and its first characters (``token_key``, for lookup and for
    the owner to tell tokens apart); the token itself exists only in the answer that issued it. ``expiry`` slides
    forward on use (``API_TOKEN_HOURS``), never past ``created`` + ``API_TOKEN_MAX_HOURS``."""

    device = models.CharField(_("device"), max_length=200, blank=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        ordering = ["-created"]
        indexes = [models.Index(fields=["user", "-created"], name="device_token_user_created")]

    def __str__(self) -> str:
        return f"{self.user} · {self.token_key}…"
