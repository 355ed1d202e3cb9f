"""Ends page sessions that were idle or lived too long (``identity.services.sessions``), after Django's
``AuthenticationMiddleware``; the person lands on the login page, told why.

The check runs where the request's user is first looked up (``request.user`` stays lazy): a request that never asks
who is signed in (``/healthz``, static files, a view that fails before) does not read the session for it."""

from django.conf import settings
from django.contrib import messages
from django.utils.functional import SimpleLazyObject
from django.utils.translation import gettext as _

from identity.services.sessions import session_check

ENDED = {
    "idle": lambda: _("You were signed out after %(minutes)s minutes without activity. Sign in again to go on."),
    "absolute": lambda: _("Your session reached its longest allowed time. Sign in again to go on."),
}


class SessionLifetimeMiddleware:
    sync_capable, async_capable = True, False  # in the one synchronous chain (dispatch/runtime/http.py)

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user  # AuthenticationMiddleware's lazy user, not looked up yet
        request.user = SimpleLazyObject(lambda: self._checked(request, user))
        return self.get_response(request)

    @staticmethod
    def _checked(request, user):
        request.user = user  # logout() reads it while the session is checked
        ended = session_check(request)
        if ended is not None:  # shown by the next page, the login page (a page's script found it ended)
            messages.warning(request, ENDED[ended]() % {"minutes": f"{settings.SESSION_IDLE_MINUTES:g}"})
        return request.user
