"""Errors in the contract's shape: ``{"detail": "...", "errors": {field: [messages]}}``."""

import logging

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from dispatch.core.errors import ServiceError, database_unavailable

audit_log = logging.getLogger("liandong.audit")
log = logging.getLogger(__name__)


def _flatten(detail) -> dict:
    if isinstance(detail, dict):
        out = {}
        for key, value in detail.items():
            if isinstance(value, dict):
                for sub, msgs in _flatten(value).items():
                    out[f"{key}.{sub}"] = msgs
            else:
                out[key] = [str(v) for v in (value if isinstance(value, list) else [value])]
        return out
    return {"non_field_errors": [str(v) for v in (detail if isinstance(detail, list) else [detail])]}


def exception_handler(exc, context):
    response = _handle(exc, context)
    if response is not None and response.status_code in (401, 403, 404) and context.get("request") is not None:
        request = context["request"]
        user = getattr(request, "user", None)
        audit_log.info("auth.denied", extra={
            "event": "auth.denied", "status": response.status_code, "method": request.method, "path": request.path,
            "username": user.username if user is not None and user.is_authenticated else None,
        })
    return response


def _handle(exc, context):
    if database_unavailable(exc):
        # No database connection within DB_POOL_TIMEOUT (overload), or the database is unreachable (stopped,
        # restarting: tests/faults): the request changed nothing; say so and when to retry, rather than a bare 500.
        diag = getattr(exc.__cause__, "diag", None)  # psycopg's: a deadlock names the locks and processes here
        log.warning("database unavailable: %s %s", exc, getattr(diag, "message_detail", "") or "",
                    extra={"event": "db.unavailable", "sqlstate": getattr(diag, "sqlstate", None)})
        return Response({"detail": _("The service is overloaded or its database is unreachable; retry shortly."),
                         "errors": {}}, status=status.HTTP_503_SERVICE_UNAVAILABLE, headers={"Retry-After": "2"})
    if isinstance(exc, ServiceError):
        return Response({"detail": exc.detail, "errors": exc.errors}, status=exc.status_code)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        errors = _flatten(exc.detail)
        response.data = {"detail": _("Invalid input."), "errors": errors}
    elif isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        response.status_code = status.HTTP_401_UNAUTHORIZED
        response.data = {"detail": str(exc.detail), "errors": {}}
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        response.data = {"detail": str(detail), "errors": {}}
    return response
