"""Fixtures for the Open311 tests: API clients and posted service requests."""

import pytest
from django.test import Client


@pytest.fixture
def make_api_client(db):
    """``make_api_client(name, kind="open311", department=None)`` -> ``(client, key)``."""
    from dispatch.services.clients import api_client_add

    def make(name: str, kind: str = "open311", department: str | None = None):
        return api_client_add(name=name, kind=kind, department_code=department)

    return make


@pytest.fixture
def open311_key(make_api_client):
    return make_api_client("citizen-app")[1]


@pytest.fixture
def web(db, django_capture_on_commit_callbacks):
    """A plain HTTP client (no session), with on-commit work (routing) run after each call."""

    class Web:
        client = Client()

        def get(self, path, data=None, **extra):
            with django_capture_on_commit_callbacks(execute=True):
                return self.client.get(path, data, **extra)

        def post(self, path, data=None, **extra):
            with django_capture_on_commit_callbacks(execute=True):
                return self.client.post(path, data, **extra)

    return Web()


@pytest.fixture
def post_request(web, open311_key):
    """``post_request(**fields)`` -> the response of a form-encoded ``POST requests.json``."""

    def do(fmt: str = "json", **fields):
        data = {"api_key": open311_key, "service_code": "waterlogging", "lat": "31.21", "long": "121.43",
                "description": "Underpass flooded\nWater 40 cm deep", "first_name": "San", "last_name": "Zhang",
                "phone": "13812341234", "email": "zhang@example.org", "media_url": "https://example.org/a.jpg",
                **fields}
        data = {k: v for k, v in data.items() if v is not None}
        return web.post(f"/open311/v2/requests.{fmt}", _urlencode(data), content_type="application/x-www-form-urlencoded")

    return do


def _urlencode(data: dict) -> str:
    from urllib.parse import urlencode

    return urlencode(data, doseq=True)
