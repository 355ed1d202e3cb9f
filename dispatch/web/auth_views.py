"""The login page, with rate limits per address and username, and audit records (API tokens: identity/api/)."""

import logging

from django.contrib.auth import views as auth_views
from django.utils.translation import gettext as _

from dispatch.runtime.throttling import client_address, hit

audit_log = logging.getLogger("liandong.audit")


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
