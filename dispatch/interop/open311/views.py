"""GeoReport v2 endpoints. Public reads (no key, as the spec has it; reporter data is never in them);
posting needs an Open311 client's ``api_key``. Sessions and /api/ tokens play no part here."""

from __future__ import annotations

from django.utils.dateparse import parse_datetime
from django.utils.decorators import method_decorator
from django.utils.timezone import get_current_timezone, is_naive, make_aware
from django.utils.translation import gettext as _
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from rest_framework.exceptions import ValidationError

from attachments.services.uploads import attachment_image
from dispatch.core.errors import Forbidden, Invalid, ServiceError
from dispatch.core.idempotency import idempotency_key_check
from dispatch.interop.open311 import services as service
from dispatch.interop.open311.serializers import (
    ServiceRequestForm,
    error_list,
    intake_from,
    render,
    render_errors,
    request_fields,
)
from dispatch.runtime.throttling import client_address, hit
from public.tokens import tracking_token_for


class _Throttled(Exception):
    def __init__(self, wait: float):
        self.wait = wait


@method_decorator(csrf_exempt, name="dispatch")  # no cookies are read here: the api_key authenticates a POST
class Open311View(View):
    fmt = "json"

    def dispatch(self, request, *args, **kwargs):
        try:
            return super().dispatch(request, *args, **kwargs)
        except _Throttled as exc:
            response = render_errors(
                [{"code": 429, "description": _("Too many requests. Try again in %(s)d seconds.") % {"s": exc.wait}}],
                fmt=self.fmt, status=429,
            )
            response["Retry-After"] = str(int(exc.wait) + 1)
            return response
        except ValidationError as exc:
            return render_errors(error_list(exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}),
                                 fmt=self.fmt, status=400)
        except ServiceError as exc:
            errors = error_list(exc.errors, code=exc.status_code) if exc.errors else [
                {"code": exc.status_code, "description": exc.detail}]
            return render_errors(errors, fmt=self.fmt, status=exc.status_code)

    def http_method_not_allowed(self, request, *args, **kwargs):
        """405 in the spec's error format too (the spec: HTTP error codes, with an ``errors`` body)."""
        response = render_errors([{"code": 405, "description": _("Method %(m)s not allowed.") % {"m": request.method}}],
                                 fmt=self.fmt, status=405)
        response["Allow"] = ", ".join(m.upper() for m in self._allowed_methods())
        return response

    def throttle(self, scope: str = "anon", ident: str | None = None) -> None:
        allowed, wait = hit(scope, ident or client_address(self.request))
        if not allowed:
            raise _Throttled(wait)


class ServiceListView(Open311View):
    """``GET services.[format]``: one service per active event type."""

    def get(self, request):
        self.throttle()
        return render(service.open311_services(), fmt=self.fmt, root="services")


class ServiceDefinitionView(Open311View):
    """``GET services/[service_code].[format]``: the attributes a service asks for."""

    def get(self, request, code):
        self.throttle()
        return render(service.open311_service_definition(service_code=code), fmt=self.fmt, root="service_definition")


def _when(params, name: str):
    raw = params.get(name)
    if not raw:
        return None
    value = parse_datetime(raw.strip().replace(" ", "+"))  # a "+" offset arrives as a space when not encoded
    if value is None:
        raise Invalid(_("Invalid input."), {name: [_("Not a W3C date-time (2010-01-01T00:00:00Z).")]})
    return make_aware(value, get_current_timezone()) if is_naive(value) else value


def _csv(params, name: str) -> list[str]:
    """A comma-delimited argument (the spec's form), also accepted when declared more than once."""
    return [part.strip() for raw in params.getlist(name) for part in raw.split(",") if part.strip()]


class ServiceRequestsView(Open311View):
    """``GET requests.[format]`` (public; filters per the spec) and ``POST requests.[format]`` (api_key)."""

    def get(self, request):
        self.throttle()
        params = request.GET
        ids = _csv(params, "service_request_id")
        if ids:  # "This overrides all other arguments": the others are not even read
            incidents = service.open311_requests_query(ids=ids)
        else:
            statuses = [s.lower() for s in _csv(params, "status")]
            if any(s not in (service.OPEN, service.CLOSED) for s in statuses):
                raise Invalid(_("Invalid input."), {"status": [_("open or closed.")]})
            incidents = service.open311_requests_query(
                service_codes=_csv(params, "service_code"), start=_when(params, "start_date"),
                end=_when(params, "end_date"), statuses=statuses,
            )
        return render([_linked(request, service.open311_request_view(i)) for i in incidents], fmt=self.fmt,
                      root="service_requests")

    def post(self, request):
        raw, attributes = request_fields(request)
        key = str(raw.get("api_key") or "")
        client = service.open311_client(api_key=key)
        # A known client is limited per client (an aggregator posts from one address); others per address.
        if client is not None:
            self.throttle("user", f"open311:{client.pk}")
        else:
            self.throttle()
        # The spec: "403 for errors because of wrong or missing api_key" ("403 - Missing or Invalid API Key").
        if not key:
            raise Forbidden(_("Missing api_key -- can't proceed with create_request."))
        if client is None:
            raise Forbidden(_("Invalid api_key received -- can't proceed with create_request."))
        form = ServiceRequestForm(data=raw)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        name = service.open311_service_name(service_code=data["service_code"])  # 404 for an unknown service
        # A photo posted as multipart ``media`` is checked before anything is created (a bad one: 400, nothing made).
        upload = request.FILES.get("media")
        media = _media(upload) if upload is not None else None
        incident = service.open311_request_submit(
            client=client, intake=intake_from(data, service_name=name), service_code=data["service_code"],
            media_url=data["media_url"], attributes=attributes,
            idempotency_key=idempotency_key_check(request.headers.get("Idempotency-Key")),
            media=media, media_name=(upload.name or "") if upload is not None else "",
        )
        # Every service is "realtime": the service_request_id, never a token (the spec: not both).
        # GeoReport's fields only (clients check them): possible duplicates are said in service_notice.
        body = [{"service_request_id": incident.number, "service_notice": service.open311_duplicates_notice(incident),
                 "account_id": None}]
        # Issue 19: the reporter's tracking token (GET /track/<token>/), an extension of GeoReport's answer.
        body[0]["tracking_token"] = tracking_token_for(incident.tracking_salt) or None
        if media is not None:  # an extension of GeoReport's answer, only when a photo came with the request
            body[0]["media_url"] = _absolute(request, service.open311_media_url(incident))
        return render(body, fmt=self.fmt, root="service_requests", status=201)


class ServiceRequestView(Open311View):
    """``GET requests/[service_request_id].[format]``: one request, in a list as the spec has it."""

    def get(self, request, number):
        self.throttle()
        incident = service.open311_request(service_request_id=number)
        return render([_linked(request, service.open311_request_view(incident))], fmt=self.fmt, root="service_requests")


def _media(upload):
    """The posted photo, checked; a refusal names ``media`` (the GeoReport field), not the API's ``file``."""
    try:
        return attachment_image(upload)
    except Invalid as exc:
        raise Invalid(exc.detail, {"media": exc.errors.get("file", [exc.detail])}) from None


def _absolute(request, path: str | None) -> str | None:
    return request.build_absolute_uri(path) if path else None


def _linked(request, view: dict) -> dict:
    """A request's ``media_url`` as an absolute link when it is this server's (a photo posted as ``media``)."""
    if str(view.get("media_url") or "").startswith("/"):
        view["media_url"] = request.build_absolute_uri(view["media_url"])
    return view
