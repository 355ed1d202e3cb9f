"""The login page, with rate limits per address and username, and audit records (API tokens: identity/api/); the
answer to a sign-in whose account or address is locked (django-axes, ``AXES_LOCKOUT_CALLABLE``). A right password of
someone who signs in with a second factor signs nobody in yet: the code comes next (``mfa_views``)."""

import logging
import math

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _

from dispatch.runtime.throttling import client_address, hit
from identity.services import mfa

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

    def form_valid(self, form):
        user = form.get_user()
        need = mfa.second_factor_needed(user)
        if need is None:
            return super().form_valid(form)  # login(), then where the person was going
        mfa.pending_start(self.request.session, user=user, next_url=self.get_redirect_url())
        return HttpResponseRedirect(reverse("login-code" if need == mfa.Need.CODE else "login-enrol"))


def lockout_response(request, original_response=None, credentials=None):
    """429 for a sign-in refused because the account or the address is locked after repeated failures: the error
    shape on /api/ (naming ``username``), the login page with the message elsewhere; ``Retry-After`` either way."""
    minutes = math.ceil(settings.AXES_COOLOFF_TIME.total_seconds() / 60)
    message = _("Too many failed sign-ins: this account or this address is locked for %(minutes)d minutes after the "
                "last attempt. An administrator can unlock it sooner.") % {"minutes": minutes}
    if request.path.startswith("/api/"):
        response = JsonResponse({"detail": message, "errors": {"username": [message]}}, status=429)
    else:
        response = render(request, "registration/login.html", {"throttled": message}, status=429)
    response["Retry-After"] = str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
    return response
