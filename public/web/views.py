"""``/track/<token>/``: the citizen's page of a report (no account: the token is the key), and its feedback form;
``/public/``: the figures of the last days for everyone (and ``/public/figures.json``).

The page's content comes from ``public.services.tracking.tracking_view`` only (nothing personal can reach the
template). An unknown token is the site's 404 page. The feedback form posts here too and works without JS:
it calls the same service as ``POST /api/public/feedback/`` and redirects back (post/redirect/get).
"""

from __future__ import annotations

import math

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from dispatch.core.errors import ServiceError
from dispatch.runtime.throttling import client_address, hit
from dispatch.services.maps import map_config
from public.models import Feedback
from public.services.feedback import feedback_given, feedback_submit
from public.services.figures import public_figures_cached, public_figures_display, public_map_data
from public.services.tracking import tracking_incident, tracking_view
from public.tokens import tracking_hash

MAX_TOKEN = 100


def _incident(token: str):
    incident = tracking_incident(token_hash=tracking_hash(token)) if len(token) <= MAX_TOKEN else None
    if incident is None:
        raise Http404
    return incident


def _too_many(request) -> HttpResponse | None:
    """The public pages' limit per address (``RATE_LIMIT_PUBLIC_PAGE``), counted before any lookup: guessing
    tracking tokens is slowed down as much as reading pages. None: go on."""
    allowed, wait = hit("public_page", client_address(request))
    if allowed:
        return None
    response = HttpResponse(
        _("Too many requests from your address: please try again in a minute."),
        status=429,
        content_type="text/plain; charset=utf-8",
    )
    response["Retry-After"] = str(max(1, math.ceil(wait)))
    return response


@require_http_methods(["GET", "HEAD"])
def track(request, token: str):
    if (refused := _too_many(request)) is not None:
        return refused
    incident = _incident(token)
    return _page(request, incident, token=token)


@require_http_methods(["POST"])
def track_feedback(request, token: str):
    incident = _incident(token)
    allowed, _wait = hit("public_feedback", client_address(request))
    if not allowed:
        return _page(request, incident, token=token, error=True, status=429)
    try:
        feedback_submit(
            token=token,
            satisfied={"yes": True, "no": False}.get(request.POST.get("satisfied", "")),
            reasons=request.POST.getlist("reasons"),
            text=request.POST.get("text", ""),
        )
    except ServiceError as exc:
        return _page(request, incident, token=token, error=True, status=exc.status_code)
    return redirect("public-track", token=token)


def _page(request, incident, *, token: str, error: bool = False, status: int = 200):
    view = tracking_view(incident)
    context = {
        "view": view,
        "token": token,
        "error": error,
        "feedback_given": feedback_given(incident),
        "feedback_open": view["closed"],  # the work of the incident it follows (its survivor when merged) is verified
        "reasons": Feedback.Reason.choices,
    }
    return render(request, "public/track.html", context, status=status)


def _kept(response, *, shared: bool):
    """The visitor may keep the answer for the time the figures are cached; it is in the visitor's language.
    ``shared``: proxies may keep it too: only the JSON, since the page's language form sets the CSRF cookie, and one
    visitor's cookie must never be handed to another by a shared cache."""
    patch_cache_control(response, **{"public" if shared else "private": True}, max_age=settings.PUBLIC_CACHE_SECONDS)
    patch_vary_headers(response, ("Accept-Language", "Cookie"))
    return response


@require_http_methods(["GET", "HEAD"])
def figures(request):
    """The public page: tables and a coarse map, from the cached figures (no query when they are cached)."""
    if (refused := _too_many(request)) is not None:
        return refused
    cached = public_figures_cached()
    context = {"figures": public_figures_display(cached), "map": {**public_map_data(cached), "config": map_config()}}
    return _kept(render(request, "public/figures.html", context), shared=False)


@require_http_methods(["GET", "HEAD"])
def figures_json(request):
    """The same figures as JSON (names in the visitor's language)."""
    if (refused := _too_many(request)) is not None:
        return refused
    return _kept(JsonResponse(public_figures_display(public_figures_cached()), encoder=DjangoJSONEncoder), shared=True)
