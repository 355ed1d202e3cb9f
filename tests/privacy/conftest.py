"""Helpers for the privacy tests: reports walked to closed at a chosen time."""

from datetime import datetime

import pytest
import time_machine

from tests.api.conftest import complete_order, order_for, transition  # noqa: F401 - fixtures and helpers
from tests.attachments.conftest import attachments_dir  # noqa: F401 - each test's own photo storage


@pytest.fixture
def closed_at(complete_order, transition):  # noqa: F811 - fixtures imported above
    """``closed_at(incident, when)``: city management does the work, the dispatcher resolves and closes it, at
    ``when`` (the closing is what starts the retention period)."""

    def do(incident: dict, when: datetime) -> None:
        with time_machine.travel(when, tick=False):
            complete_order("city_management_staff", order_for(incident, "city_management")["id"])
            for name in ("resolve", "close"):
                response = transition("dispatcher", incident["id"], name)
                assert response.status_code == 200, (name, response.content)

    return do
