"""Helpers for the API tests (fixtures from tests/conftest.py: api_as, dispatcher, waterlogging_payload,
reported_incident)."""

import pytest

from tests.conftest import PASSWORD, WATERLOGGING  # noqa: F401 - re-exported for the test modules


def order_for(incident: dict, department: str, *, dispatch_round: int | None = None) -> dict:
    """The (latest round's) work order of ``department`` in an incident body."""
    orders = [wo for wo in incident["work_orders"] if wo["department"] == department]
    if dispatch_round is not None:
        orders = [wo for wo in orders if wo["dispatch_round"] == dispatch_round]
    assert orders, f"no {department} order in {incident['work_orders']}"
    return max(orders, key=lambda wo: wo["id"])


@pytest.fixture
def complete_order(act):
    """Walk a work order offered -> completed as ``username``."""

    def do(username: str, work_order_id: int) -> dict:
        body = None
        for action in ("accept", "depart", "arrive", "complete"):
            response = act(username, work_order_id, action)
            assert response.status_code == 200, (action, response.content)
            body = response.json()
        return body

    return do


@pytest.fixture
def transition(api_as):
    """``transition(username, incident_id, name, **body)`` -> the response."""

    def do(username: str, incident_id: int, name: str, **body):
        return api_as(username).post(f"/api/incidents/{incident_id}/transitions/", {"transition": name, **body})

    return do
