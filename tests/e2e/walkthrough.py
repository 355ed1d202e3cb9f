"""The README walk-through, over real HTTP: report, route, accept..complete, resolve, close, audit."""

from __future__ import annotations

import time

import httpx

PASSWORD = "e2e-password-1"

# A workflow with short timers for the deadline tests: acknowledgement 2 s, two offers, SLA 6 s.
DRILL = """
code: drill
name: {en: Timer drill, zh: 计时演练}
initial_state: responding
states:
  responding:
    label: {en: Responding, zh: 处置中}
    sla: 6s
    dispatch:
      - {department: city_management, priority: high, ack_timeout: 2s, max_attempts: 2}
  closed: {label: {en: Closed, zh: 已关闭}, final: true}
transitions:
  - {name: close, label: {en: Close, zh: 关闭}, from: [responding], to: closed, roles: [dispatcher]}
"""


def token(base: str, username: str) -> str:
    response = httpx.post(f"{base}/api/auth/token/", json={"username": username, "password": PASSWORD}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["token"]


def client(base: str, username: str) -> httpx.Client:
    return httpx.Client(base_url=base, headers={"Authorization": f"Token {token(base, username)}"}, timeout=15)


def wait_for_orders(api: httpx.Client, incident_id: int, count: int, timeout: float = 60) -> tuple[list[dict], float]:
    """Poll until the incident has ``count`` offered work orders; returns them and the seconds it took."""
    start = time.monotonic()
    while True:
        orders = api.get(f"/api/incidents/{incident_id}/").json()["work_orders"]
        if len(orders) >= count:
            return orders, time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise AssertionError(f"incident {incident_id} has {len(orders)} work orders after {timeout}s")
        time.sleep(0.05)


def order_of(api: httpx.Client, incident_id: int, department: str, timeout: float = 30) -> dict:
    """The incident's work order for ``department``, once routing has made it."""
    deadline = time.monotonic() + timeout
    while True:
        found = api.get("/api/work-orders/", params={"incident": incident_id, "department": department}).json()[
            "results"
        ]
        if found:
            return found[0]
        assert time.monotonic() < deadline, f"incident {incident_id}: no {department} order after {timeout}s"
        time.sleep(0.1)


def report_waterlogging(api: httpx.Client, title: str = "Underpass flooded") -> dict:
    response = api.post(
        "/api/incidents/",
        json={"event_type": "waterlogging", "title": title, "severity": 3,
              "location": {"lat": 31.21, "lon": 121.43}, "address": "Riverside Rd underpass",
              "reporter": {"name": "张三", "phone": "13812341234"}},
    )
    assert response.status_code == 201, response.text
    return response.json()


def run_walkthrough(base: str) -> dict:
    """Returns figures (routing latency) for the test to print."""
    dispatcher = client(base, "dispatcher")
    staff = client(base, "city_management_staff")

    incident = report_waterlogging(dispatcher)
    orders, routed_after = wait_for_orders(dispatcher, incident["id"], 3)
    assert {o["department"] for o in orders} == {"city_management", "traffic_police", "transit"}
    assert all(o["state"] == "offered" and o["unit"] for o in orders)

    mine = staff.get("/api/work-orders/", params={"incident": incident["id"]}).json()["results"]
    assert [o["department"] for o in mine] == ["city_management"]  # scoped to the caller's department
    order_id = mine[0]["id"]
    for action, state in (("accept", "accepted"), ("depart", "en_route"), ("arrive", "on_scene"), ("complete", "completed")):
        response = staff.post(f"/api/work-orders/{order_id}/actions/", json={"action": action, "note": f"{action} via e2e"})
        assert response.status_code == 200, response.text
        assert response.json()["state"] == state

    for transition, state in (("resolve", "verifying"), ("close", "closed")):
        response = dispatcher.post(
            f"/api/incidents/{incident['id']}/transitions/", json={"transition": transition, "note": f"{transition} via e2e"}
        )
        assert response.status_code == 200, response.text
        assert response.json()["state"] == state

    timeline = dispatcher.get(f"/api/incidents/{incident['id']}/timeline/").json()
    kinds = [row["kind"] for row in timeline]
    assert [row["seq"] for row in timeline] == list(range(1, len(timeline) + 1))
    assert kinds[0] == "incident.created"
    assert kinds.count("work_order.offered") == 3
    for kind in ("work_order.accepted", "work_order.departed", "work_order.arrived", "work_order.completed"):
        assert kind in kinds
    transitions = [row["data"]["transition"] for row in timeline if row["kind"] == "incident.transitioned"]
    assert transitions == ["resolve", "close"]
    assert {row["actor"] for row in timeline} >= {"dispatcher", "city_management_staff", "system"}
    offered = [row for row in timeline if row["kind"] == "work_order.offered"]
    assert all(" km, " in row["data"]["reason"] for row in offered)
    return {"routed_after_s": routed_after, "timeline_rows": len(timeline)}
