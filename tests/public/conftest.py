"""Helpers for the public side's tests: a report with its tracking token, walked to closed."""

import pytest

from tests.api.conftest import complete_order, order_for, transition  # noqa: F401 - fixtures and helpers
from tests.conftest import WATERLOGGING  # noqa: F401 - re-exported


@pytest.fixture
def tracked(dispatcher, waterlogging_payload):
    """``tracked(**overrides)`` -> (incident body as the dispatcher sees it, its tracking token)."""

    def make(**overrides) -> tuple[dict, str]:
        response = dispatcher.post("/api/incidents/", {**waterlogging_payload, **overrides})
        assert response.status_code == 201, response.content
        token = response.json()["tracking_token"]
        return dispatcher.get(f"/api/incidents/{response.json()['id']}/").json(), token

    return make


@pytest.fixture
def closed(complete_order, transition):  # noqa: F811 - fixtures imported above
    """``closed(incident)``: city management does the work, the dispatcher resolves and closes it."""

    def do(incident: dict) -> None:
        complete_order("city_management_staff", order_for(incident, "city_management")["id"])
        for name in ("resolve", "close"):
            response = transition("dispatcher", incident["id"], name)
            assert response.status_code == 200, (name, response.content)

    return do
