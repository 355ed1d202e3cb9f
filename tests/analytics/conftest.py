"""The deadline tests' travelled clock and sweep, and helpers to walk incidents through known timelines."""

from datetime import timedelta

import pytest

from tests.deadlines.conftest import START, clock, sweep  # noqa: F401 - fixtures and the clock's start

SECOND = timedelta(seconds=1)


def order_id(incident: dict, department: str) -> int:
    """The (latest) work order of ``department`` in an incident body."""
    ids = [wo["id"] for wo in incident["work_orders"] if wo["department"] == department]
    assert ids, f"no {department} order in {incident['work_orders']}"
    return max(ids)


@pytest.fixture
def walk(clock, act, api_as):  # noqa: F811 - the clock fixture
    """``walk(order_id, department, accept=s, depart=s, arrive=s, complete=s)``: each step given, in that order, after
    that many seconds, by the department's staff."""

    def do(work_order_id: int, department: str, **steps: float) -> None:
        for action in ("accept", "depart", "arrive", "complete"):
            if action not in steps:
                continue
            clock.shift(timedelta(seconds=steps[action]))
            response = act(f"{department}_staff", work_order_id, action)
            assert response.status_code == 200, (action, response.content)

    return do


@pytest.fixture
def close(clock, api_as):  # noqa: F811 - the clock fixture
    """``close(incident_id, resolve=s, close=s)``: resolve, then close (verification passed), each after that many
    seconds, as the dispatcher."""

    def do(incident_id: int, *, resolve: float = 0, close: float = 0) -> None:
        for name, wait in (("resolve", resolve), ("close", close)):
            clock.shift(timedelta(seconds=wait))
            response = api_as("dispatcher").post(f"/api/incidents/{incident_id}/transitions/", {"transition": name})
            assert response.status_code == 200, (name, response.content)

    return do
