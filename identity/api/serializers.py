from django.utils.translation import gettext_lazy as _
from rest_framework import serializers
from rest_framework.authtoken.serializers import AuthTokenSerializer

from identity.models import DeviceToken


class TokenLoginSerializer(AuthTokenSerializer):
    """``{"username", "password"}`` as before; ``device`` optional (else the User-Agent names it in the list); ``otp``
    the second factor, for an account that signs in with one (identity.services.mfa): checked in the view, after the
    password, so that a wrong password is answered as such whatever the account."""

    device = serializers.CharField(label=_("Device"), required=False, allow_blank=True, max_length=200)
    otp = serializers.CharField(
        label=_("Code"), required=False, allow_blank=True, max_length=64, trim_whitespace=True,
        help_text="The 6-digit code of the user's authenticator app, or one of their recovery codes (each works once). "
                  "Required for an account with two-step sign-in (MFA_REQUIRED and a role in MFA_ROLES, or turned on "
                  "by the user): 400 naming `otp` when missing or wrong, 429 naming `otp` while wrong codes must "
                  "wait.")


class IssuedTokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="`Authorization: Token <token>`; shown only in this answer.")
    expires_at = serializers.DateTimeField(help_text="When it stops working unless used (each use renews it, "
                                                     "within a maximum lifetime).")


class DeviceTokenSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="token_key", help_text="The token's first characters: revoke it by this.")
    expires_at = serializers.DateTimeField(source="expiry")
    created_at = serializers.DateTimeField(source="created")
    current = serializers.SerializerMethodField(help_text="The token this request came with.")

    class Meta:
        model = DeviceToken
        fields = ["id", "device", "created_at", "last_used_at", "expires_at", "current"]

    def get_current(self, token) -> bool:
        return getattr(self.context["request"], "auth", None) == token


class SessionSerializer(serializers.Serializer):
    idle_expires_at = serializers.DateTimeField(help_text="Signed out then unless there is activity before.")
    expires_at = serializers.DateTimeField(help_text="Signed out then whatever the activity (the longest session).")
    idle_seconds = serializers.IntegerField(help_text="How long without activity ends a session.")
    warn_seconds = serializers.IntegerField(help_text="How long before its end the pages warn.")
