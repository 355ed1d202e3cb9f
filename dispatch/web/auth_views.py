"""Login (API token and page) with rate limits per address and username, and audit records."""

import logging

from django.contrib.auth import views as auth_views
from django.utils.translation import gettext as _
from rest_framework.authtoken.views import ObtainAuthToken

from dispatch.runtime.throttling import LoginRateLimit, UserRateLimit, client_address, hit

audit_log = logging.getLogger("liandong.audit")


class TokenLoginView(ObtainAuthToken):
    """``POST /api/auth/token/`` {"username", "password"} -> {"token"}; 400 bad credentials; 429 too many tries."""

    throttle_classes = [LoginRateLimit, UserRateLimit]

    def post(self, request, *args, **kwargs):
        response = super().post(request, *args, **kwargs)
        audit_log.info("auth.token_issued", extra={"event": "auth.token_issued",
                                                   "username": request.data.get("username"),
                                                   "address": client_address(request)})
        return response


class LoginView(auth_views.LoginView):
    redirect_authenticated_user = True

    def post(self, request, *args, **kwargs):
        username = request.POST.get("username", "")[:150].lower()
        allowed, wait = hit("login", f"{client_address(request)}:{username}")
        if not allowed:
            audit_log.warning("auth.throttled", extra={"event": "auth.throttled", "username": username,
                                                       "address": client_address(request)})
            message = _("Too many attempts. Try again in %(seconds)d seconds.") % {"seconds": wait}
            response = self.render_to_response(self.get_context_data(throttled=message))
            response.status_code = 429
            return response
        return super().post(request, *args, **kwargs)
