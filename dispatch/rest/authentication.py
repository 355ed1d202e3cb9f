"""``Authorization: Token ...`` on /api/: a department system's API key (``ldk_...``) or a person's device token
(``ldt_...``, ``identity.services.tokens``)."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from knox.auth import TokenAuthentication
from rest_framework import authentication, exceptions

from dispatch.models.clients import KEY_PREFIX
from dispatch.services.clients import api_client_for_key, api_client_touch
from identity.services.tokens import token_authenticate

CAP_INBOUND_PATH = "/api/cap/inbound/"  # the one path a ``cap_source`` key is good for

class ApiClientAuthentication(authentication.BaseAuthentication):
    """Accepts a department client's key (keys start with ``ldk_``; anything else is left to
    ``TokenAuthentication``), and a CAP source's key on ``POST /api/cap/inbound/`` only. Unknown or inactive keys,
    Open311 keys (good only on /open311/) and CAP source keys elsewhere -> 401."""

    keyword = "Token"

    def authenticate(self, request):
        parts = authentication.get_authorization_header(request).split()
        if len(parts) != 2 or parts[0].lower() != self.keyword.lower().encode():
            return None
        try:
            key = parts[1].decode()
        except UnicodeError:
            return None
        if not key.startswith(KEY_PREFIX):
            return None
        client = api_client_for_key(key)
        if client is None:
            raise exceptions.AuthenticationFailed(_("Invalid API key."))
        if not client.active or not client.user.is_active:
            raise exceptions.AuthenticationFailed(_("This API key is disabled."))
        if not client.in_force:
            raise exceptions.AuthenticationFailed(_("This API key has expired."))
        if client.kind == client.Kind.CAP_SOURCE:
            if request.path != CAP_INBOUND_PATH:
                raise exceptions.AuthenticationFailed(_("This API key works only on POST /api/cap/inbound/."))
        elif client.kind != client.Kind.DEPARTMENT:
            raise exceptions.AuthenticationFailed(_("This API key works only on the Open311 endpoints."))
        api_client_touch(client)
        return client.user, client

    def authenticate_header(self, request):
        return self.keyword


class ApiClientAuthenticationScheme(OpenApiAuthenticationExtension):
    """The key in the OpenAPI schema (drf-spectacular finds this extension by ``target_class``)."""

    target_class = "dispatch.rest.authentication.ApiClientAuthentication"
    name = "departmentSystemKey"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "Authorization",
                "description": "`Token ldk_...`: a department system's key (manage.py add_api_client)."}


class DeviceTokenAuthentication(TokenAuthentication):
    """knox's header parsing; the lookup is ``token_authenticate`` (knox's own also reads every other token of the
    user on each request to delete the expired ones: beat does that here). An unknown, revoked or expired token, or
    an inactive user's -> 401."""

    def authenticate_credentials(self, token: bytes):
        try:
            text = token.decode()
        except UnicodeError:
            raise exceptions.AuthenticationFailed(_("Invalid token.")) from None
        found = token_authenticate(text)
        if found is None:
            raise exceptions.AuthenticationFailed(_("Invalid or expired token: sign in again."))
        if not found.user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        return found.user, found


class DeviceTokenAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "dispatch.rest.authentication.DeviceTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "Authorization",
                "description": "`Token ldt_...`: a person's token from `POST /api/auth/token/` (it expires: see "
                               "`expires_at`)."}
