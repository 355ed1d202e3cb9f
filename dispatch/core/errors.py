"""Domain errors raised by services; the API layer maps them to HTTP status codes."""


class ServiceError(Exception):
    status_code = 400

    def __init__(self, detail: str, errors: dict | None = None):
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or {}


class Invalid(ServiceError):
    status_code = 400


class Forbidden(ServiceError):
    status_code = 403


class NotFound(ServiceError):
    status_code = 404


class Conflict(ServiceError):
    status_code = 409


class Gone(ServiceError):
    """It existed and was deleted for good (a photo erased with a report's personal data)."""

    status_code = 410


def database_unavailable(exc: BaseException | None) -> bool:
    """Whether ``exc`` says the database cannot be used right now (unreachable, restarting, no pooled connection
    within the pool's timeout, a connection cut): the request changed nothing and may be sent again shortly. The
    API answers 503 with ``Retry-After`` (dispatch.rest.errors), a page the 503 page (dispatch.urls.handler500), a
    live socket closes with 4503 (dispatch.runtime.unavailable)."""
    from django.db import InterfaceError, OperationalError

    if isinstance(exc, OperationalError | InterfaceError):
        return True
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a requirement; SQLite's errors are Django's
        return False
    return isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError)  # psycopg-pool's PoolTimeout too
