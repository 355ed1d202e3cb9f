"""Signing in and out with API tokens, and a user's own tokens (``identity.services.tokens``)."""

from django.contrib.auth import logout
from django.contrib.auth.signals import user_logged_in
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from dispatch.runtime.throttling import LoginRateLimit, UserRateLimit, client_address
from identity.api.serializers import (
    DeviceTokenSerializer,
    IssuedTokenSerializer,
    SessionSerializer,
    TokenLoginSerializer,
)
from identity.models import DeviceToken
from identity.services import mfa
from identity.services.sessions import lifetime
from identity.services.tokens import (
    Revocation,
    token_issue,
    token_revoke,
    token_revoke_current,
    tokens_live,
    tokens_revoke_all,
)


class TokenLoginView(APIView):
    """``POST /api/auth/token/`` {"username", "password", "device"?, "otp"?} -> {"token", "expires_at"}; 400 bad
    credentials, or naming ``otp`` for an account with two-step sign-in whose code is missing or wrong; 429 too many
    tries."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [LoginRateLimit, UserRateLimit]

    @extend_schema(request=TokenLoginSerializer, responses={200: IssuedTokenSerializer})
    def post(self, request):
        # Django's request, not DRF's: django-axes marks it when this failure locks the account (AxesMiddleware)
        serializer = TokenLoginSerializer(data=request.data, context={"request": request._request})
        serializer.is_valid(raise_exception=True)
        user = serializer.validated_data["user"]
        try:
            mfa.second_factor_check(user=user, code=serializer.validated_data.get("otp"), request=request._request,
                                    address=client_address(request))
        except mfa.CodeRefused as refused:
            headers = {"Retry-After": str(refused.retry_after)} if refused.retry_after else None
            return Response({"detail": refused.detail, "errors": refused.errors}, status=refused.status_code,
                            headers=headers)
        device = serializer.validated_data.get("device") or request.headers.get("User-Agent", "")
        token, text = token_issue(user=user, device=device, address=client_address(request))
        # a sign-in like the login page's: last_login, the audit record, and django-axes clears the failures
        user_logged_in.send(sender=user.__class__, request=request._request, user=user)
        return Response(IssuedTokenSerializer({"token": text, "expires_at": token.expiry}).data)


class LogoutView(APIView):
    """``POST /api/auth/logout/``: the token this request came with is revoked (and a session ended) -> 204."""

    @extend_schema(request=None, responses={204: None})
    def post(self, request):
        if isinstance(request.auth, DeviceToken):
            token_revoke_current(token=request.auth)
        else:
            logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TokenListView(APIView):
    """``GET /api/auth/tokens/``: the caller's tokens that still work; ``DELETE``: revoke them all (sign out
    everywhere) -> 204."""

    @extend_schema(responses={200: DeviceTokenSerializer(many=True)})
    def get(self, request):
        tokens = tokens_live(request.user)
        return Response(DeviceTokenSerializer(tokens, many=True, context={"request": request}).data)

    @extend_schema(operation_id="api_auth_tokens_revoke_all", responses={204: None})
    def delete(self, request):
        tokens_revoke_all(user=request.user, reason=Revocation.OWNER)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TokenDetailView(APIView):
    """``DELETE /api/auth/tokens/<id>/``: revoke one of the caller's tokens -> 204; someone else's or unknown -> 404."""

    @extend_schema(operation_id="api_auth_tokens_revoke", responses={204: None})
    def delete(self, request, token_id: str):
        if not token_revoke(user=request.user, token_key=token_id):
            raise NotFound()
        return Response(status=status.HTTP_204_NO_CONTENT)


class SessionView(APIView):
    """``GET /api/auth/session/``: when the caller's page session ends (``idle_expires_at``, ``expires_at``, and the
    policy's ``idle_seconds``, ``warn_seconds``); ``POST``: the same, after counting a person's activity (the pages
    send it when someone clicks or types). 404 for a caller without a page session (a token)."""

    @extend_schema(responses={200: SessionSerializer})
    def get(self, request):
        return self._answer(request)

    @extend_schema(request=None, responses={200: SessionSerializer})
    def post(self, request):
        return self._answer(request)  # counted as activity by the middleware already

    @staticmethod
    def _answer(request):
        found = lifetime(request.session) if hasattr(request, "session") else None
        if isinstance(request.auth, DeviceToken) or found is None:
            raise NotFound(_("No page session: this request came with a token."))
        return Response(SessionSerializer(found.as_json()).data)
