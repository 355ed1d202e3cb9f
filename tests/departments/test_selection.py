"""Pure tests of unit selection, dispatch planning and the geometry behind them (no database)."""

import math
import random
from pathlib import Path

import pytest
import yaml

from departments.services.geo import haversine_km, point_in_polygon
from departments.services.selection import (
    DEFAULT_ACK_TIMEOUT_SECONDS,
    Candidate,
    DispatchTarget,
    Rule,
    plan_dispatch,
    select_unit,
)

CITY_FILE = Path(__file__).resolve().parents[2] / "departments" / "demo" / "city.yaml"

RIVERSIDE, OLDTOWN = 1, 2
INCIDENT = {"lat": 31.21, "lon": 121.43}


def unit(unit_id, callsign, *, lat, lon, districts=(RIVERSIDE,), status="available", open_orders=0):
    return Candidate(
        unit_id=unit_id, callsign=callsign, status=status, district_ids=frozenset(districts),
        open_orders=open_orders, lat=lat, lon=lon,
    )


def km_from_incident(c: Candidate) -> float:
    return haversine_km(INCIDENT["lat"], INCIDENT["lon"], c.lat, c.lon)


def select(candidates, district_id=RIVERSIDE, **kwargs):
    return select_unit(candidates, district_id=district_id, **{**INCIDENT, **kwargs})


# Points at increasing distance from the incident.
NEAR = {"lat": 31.211, "lon": 121.431}
MIDDLE = {"lat": 31.22, "lon": 121.44}
FAR = {"lat": 31.25, "lon": 121.47}


# --- select_unit ----------------------------------------------------------------------------------


def test_unit_outside_the_district_is_excluded_even_if_nearest():
    outsider = unit(1, "TP-01", **NEAR, districts=(OLDTOWN,))
    insider = unit(2, "TP-02", **FAR)
    assert select([outsider, insider]).unit_id == 2


def test_no_unit_covers_the_district():
    choice = select([unit(1, "TP-01", **NEAR, districts=(OLDTOWN,))])
    assert (choice.unit_id, choice.callsign) == (None, None)
    assert choice.reason == "no unit of the department covers the incident's district; waiting in the department queue"


@pytest.mark.parametrize("status", ["busy", "off_duty"])
def test_unavailable_units_are_excluded(status):
    candidates = [unit(1, "TP-01", **NEAR, status=status), unit(2, "TP-02", **FAR)]
    assert select(candidates).unit_id == 2


def test_fewest_open_orders_beats_nearer():
    near_busy = unit(1, "TP-01", **NEAR, open_orders=2)
    far_idle = unit(2, "TP-02", **FAR, open_orders=1)
    choice = select([near_busy, far_idle])
    assert choice.unit_id == 2
    assert choice.reason == f"TP-02: available, {km_from_incident(far_idle):.1f} km, 1 open order"


def test_nearest_breaks_ties_on_open_orders():
    candidates = [unit(1, "TP-01", **FAR, open_orders=1), unit(2, "TP-02", **NEAR, open_orders=1),
                  unit(3, "TP-03", **MIDDLE, open_orders=1)]
    choice = select(candidates)
    assert choice.unit_id == 2
    assert choice.distance_km == pytest.approx(km_from_incident(candidates[1]))


def test_callsign_breaks_exact_ties():
    candidates = [unit(7, "TP-07", **MIDDLE), unit(3, "TP-03", **MIDDLE), unit(5, "TP-05", **MIDDLE)]
    assert select(candidates).callsign == "TP-03"
    assert select(list(reversed(candidates))).callsign == "TP-03"


def test_excluded_units_are_skipped():
    candidates = [unit(1, "TP-01", **NEAR), unit(2, "TP-02", **MIDDLE), unit(3, "TP-03", **FAR)]
    assert select(candidates, exclude_unit_ids={1}).unit_id == 2
    assert select(candidates, exclude_unit_ids={1, 2}).unit_id == 3


def test_rest_unavailable_after_exclusion_goes_to_the_queue():
    choice = select([unit(1, "TP-01", **NEAR), unit(2, "TP-02", **FAR, status="busy")], exclude_unit_ids={1})
    assert choice.unit_id is None
    assert choice.reason == (
        "no available unit in jurisdiction (after excluding units already tried); waiting in the department queue"
    )


def test_every_unit_in_jurisdiction_tried_goes_to_the_queue():
    """After both riverside units declined, the timeline must not say that nobody covers riverside."""
    candidates = [unit(1, "TP-01", **NEAR), unit(2, "TP-02", **FAR), unit(3, "TP-03", **NEAR, districts=(OLDTOWN,))]
    choice = select(candidates, exclude_unit_ids={1, 2})
    assert choice.unit_id is None
    assert choice.reason == (
        "no available unit in jurisdiction (after excluding units already tried); waiting in the department queue"
    )


def test_no_district_means_any_available_unit():
    candidates = [unit(1, "TP-01", **FAR, districts=(OLDTOWN,)), unit(2, "TP-02", **NEAR, districts=()),
                  unit(3, "TP-03", **MIDDLE, districts=(RIVERSIDE,), status="busy")]
    assert select(candidates, district_id=None).unit_id == 2


def test_no_location_ranks_on_open_orders_alone():
    candidates = [unit(1, "TP-01", **NEAR, open_orders=3), unit(2, "TP-02", **FAR, open_orders=1),
                  unit(3, "TP-03", **MIDDLE, open_orders=1)]
    choice = select_unit(candidates, district_id=RIVERSIDE, lat=None, lon=None)
    assert choice.unit_id == 2  # TP-02 and TP-03 tie on orders; the callsign decides
    assert choice.distance_km is None
    assert "distance unknown" in choice.reason
    assert choice.reason == "TP-02: available, distance unknown, 1 open order"


def test_unit_without_location_ranks_after_located_units():
    nowhere = Candidate(unit_id=1, callsign="TP-01", status="available", district_ids=frozenset({RIVERSIDE}),
                        open_orders=0)
    located = unit(2, "TP-02", **FAR)
    assert select([nowhere, located]).unit_id == 2
    choice = select([nowhere])
    assert choice.unit_id == 1 and choice.reason == "TP-01: available, distance unknown, 0 open orders"


@pytest.mark.parametrize("statuses", [("busy", "off_duty"), ("busy",), ()], ids=["busy+off", "busy", "none"])
def test_nobody_available_waits_in_the_queue(statuses):
    candidates = [unit(i, f"TP-0{i}", **NEAR, status=s) for i, s in enumerate(statuses, start=1)]
    choice = select(candidates, district_id=None)
    assert choice.unit_id is None and choice.callsign is None and choice.distance_km is None
    assert "queue" in choice.reason
    assert choice.reason == "no available unit in jurisdiction; waiting in the department queue"


def test_reason_format():
    tp03 = unit(3, "TP-03", lat=31.215, lon=121.418)
    choice = select([tp03])
    expected_km = km_from_incident(tp03)
    assert 1.0 < expected_km < 1.5  # sanity: the example is about a kilometre away
    assert choice.reason == f"TP-03: available, {expected_km:.1f} km, 0 open orders"
    assert choice.reason == "TP-03: available, 1.3 km, 0 open orders"
    assert choice.distance_km == pytest.approx(expected_km)


@pytest.mark.parametrize("count, words", [(0, "0 open orders"), (1, "1 open order"), (2, "2 open orders")])
def test_reason_pluralizes_open_orders(count, words):
    choice = select([unit(1, "TP-01", **NEAR, open_orders=count)])
    assert choice.reason.endswith(f", {words}")


# --- plan_dispatch --------------------------------------------------------------------------------

BASELINE = [
    DispatchTarget("city_management", "high", 180),
    DispatchTarget("traffic_police", "normal", 300),
    DispatchTarget("transit", "normal", 300),
]


def rule(rule_id, department, action="dispatch", *, event_type="waterlogging", state="", min_severity=1,
         max_severity=5, districts=(), priority="", ack=None):
    return Rule(
        id=rule_id, event_type=event_type, state=state, min_severity=min_severity, max_severity=max_severity,
        district_ids=frozenset(districts), department=department, action=action, priority=priority,
        ack_timeout_seconds=ack,
    )


def plan(rules, *, event_type="waterlogging", state="responding", severity=3, district_id=RIVERSIDE):
    return plan_dispatch(BASELINE, rules, event_type=event_type, state=state, severity=severity,
                         district_id=district_id)


def test_no_rules_keeps_the_baseline():
    assert plan([]) == BASELINE


def test_skip_removes_a_department():
    assert [t.department for t in plan([rule(1, "transit", "skip")])] == ["city_management", "traffic_police"]


def test_first_matching_rule_per_department_wins():
    rules = [
        rule(1, "transit", "dispatch", min_severity=4),       # does not match severity 3
        rule(2, "transit", "skip"),                           # first match: wins
        rule(3, "transit", "dispatch", priority="critical"),  # later match: ignored
        rule(4, "traffic_police", "dispatch", priority="high"),
    ]
    result = plan(rules)
    assert [t.department for t in result] == ["city_management", "traffic_police"]
    assert result[1] == DispatchTarget("traffic_police", "high", 300, rule_id=4)


def test_dispatch_adds_a_department_with_the_rules_priority_and_ack():
    result = plan([rule(9, "environment", priority="critical", ack=600)])
    assert result[:3] == BASELINE
    assert result[3] == DispatchTarget("environment", "critical", 600, rule_id=9)


def test_added_department_without_priority_or_ack_gets_defaults():
    assert plan([rule(9, "environment")])[3] == DispatchTarget(
        "environment", "normal", DEFAULT_ACK_TIMEOUT_SECONDS, rule_id=9
    )


def test_rule_overriding_priority_only_keeps_baseline_ack():
    result = plan([rule(5, "city_management", priority="critical")])
    assert result[0] == DispatchTarget("city_management", "critical", 180, rule_id=5)
    assert result[1:] == BASELINE[1:]


def test_rule_overriding_ack_only_keeps_baseline_priority():
    assert plan([rule(5, "city_management", ack=60)])[0] == DispatchTarget("city_management", "high", 60, rule_id=5)


def test_baseline_order_is_kept_and_added_departments_follow_in_rule_order():
    rules = [rule(1, "water_board"), rule(2, "transit", priority="low"), rule(3, "environment")]
    assert [t.department for t in plan(rules)] == [
        "city_management", "traffic_police", "transit", "water_board", "environment"
    ]


@pytest.mark.parametrize(
    "kwargs, matches",
    [
        ({"severity": 3}, False),
        ({"severity": 4}, True),
        ({"severity": 5}, True),
        ({"event_type": "air_pollution", "severity": 4}, False),
        ({"state": "repairing", "severity": 4}, True),  # a blank rule state means every state
    ],
)
def test_severity_and_event_type_matching(kwargs, matches):
    rules = [rule(1, "environment", min_severity=4, max_severity=5)]
    assert ("environment" in [t.department for t in plan(rules, **kwargs)]) is matches


def test_severity_range_is_inclusive_at_both_ends():
    rules = [rule(1, "transit", "skip", min_severity=2, max_severity=3)]
    kept = {s: "transit" in [t.department for t in plan(rules, severity=s)] for s in range(1, 6)}
    assert kept == {1: True, 2: False, 3: False, 4: True, 5: True}


def test_rule_for_any_event_type():
    rules = [rule(1, "environment", event_type=None)]
    assert "environment" in [t.department for t in plan(rules, event_type="hazmat_spill")]


@pytest.mark.parametrize("district_id, matches", [(RIVERSIDE, True), (OLDTOWN, False), (None, False)])
def test_district_matching(district_id, matches):
    rules = [rule(1, "environment", districts=(RIVERSIDE, 5))]
    assert ("environment" in [t.department for t in plan(rules, district_id=district_id)]) is matches


def test_rule_without_districts_matches_an_incident_with_no_district():
    assert "environment" in [t.department for t in plan([rule(1, "environment")], district_id=None)]


@pytest.mark.parametrize("state, matches", [("responding", True), ("repairing", False)])
def test_state_matching(state, matches):
    rules = [rule(1, "environment", state="responding")]
    assert ("environment" in [t.department for t in plan(rules, state=state)]) is matches


def test_rule_id_is_carried_and_baseline_entries_have_none():
    result = plan([rule(42, "traffic_police", priority="low"), rule(43, "environment")])
    assert {t.department: t.rule_id for t in result} == {
        "city_management": None, "traffic_police": 42, "transit": None, "environment": 43
    }


def test_skip_for_a_department_not_in_baseline_adds_nothing():
    assert plan([rule(1, "environment", "skip")]) == BASELINE


# --- geo ------------------------------------------------------------------------------------------


def test_haversine_one_degree_of_latitude():
    assert haversine_km(31.0, 121.0, 32.0, 121.0) == pytest.approx(111.2, abs=0.5)
    assert haversine_km(0.0, 0.0, 1.0, 0.0) == pytest.approx(111.2, abs=0.5)


def test_haversine_one_degree_of_longitude_shrinks_with_latitude():
    assert haversine_km(0.0, 0.0, 0.0, 1.0) == pytest.approx(111.2, abs=0.5)
    assert haversine_km(60.0, 0.0, 60.0, 1.0) == pytest.approx(111.2 / 2, abs=0.5)


def test_haversine_is_symmetric_and_zero_for_the_same_point():
    a, b = (31.21, 121.43), (31.26, 121.52)
    assert haversine_km(*a, *a) == 0.0
    assert haversine_km(*a, *b) == pytest.approx(haversine_km(*b, *a))


def test_haversine_antipodes():
    assert haversine_km(0.0, 0.0, 0.0, 180.0) == pytest.approx(math.pi * 6371.0088)


SQUARE = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]
# An L shape: the unit square [1, 2] x [1, 2] is cut out of [0, 2] x [0, 2].
L_SHAPE = [[0.0, 0.0], [2.0, 0.0], [2.0, 1.0], [1.0, 1.0], [1.0, 2.0], [0.0, 2.0]]


@pytest.mark.parametrize(
    "ring, lon, lat, inside",
    [
        (SQUARE, 0.5, 0.5, True),
        (SQUARE, 1.5, 0.5, False),
        (SQUARE, -0.5, 0.5, False),
        (SQUARE, 0.5, 1.5, False),
        (SQUARE, 0.5, -0.5, False),
        (SQUARE + [SQUARE[0]], 0.5, 0.5, True),  # a closed ring
        (SQUARE + [SQUARE[0]], 1.5, 0.5, False),
        (L_SHAPE, 0.5, 1.5, True),
        (L_SHAPE, 1.5, 0.5, True),
        (L_SHAPE, 1.5, 1.5, False),  # the notch
        (L_SHAPE, 0.5, 0.5, True),
    ],
)
def test_point_in_polygon(ring, lon, lat, inside):
    assert point_in_polygon(lon, lat, ring) is inside


def _distance_to_segment(px, py, a, b) -> float:
    (ax, ay), (bx, by) = a, b
    dx, dy = bx - ax, by - ay
    t = max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)))
    return math.hypot(px - (ax + t * dx), py - (ay + t * dy))


def _near_a_border(lon, lat, rings, eps=1e-9) -> bool:
    return any(
        _distance_to_segment(lon, lat, ring[i], ring[(i + 1) % len(ring)]) < eps
        for ring in rings for i in range(len(ring))
    )


def test_demo_districts_tile_the_city():
    """Every point of the demo city's rectangle is in exactly one district (borders are shared exactly)."""
    districts = {d["code"]: d["polygon"] for d in yaml.safe_load(CITY_FILE.read_text(encoding="utf-8"))["districts"]}
    assert len(districts) == 6
    rng = random.Random(20240611)
    checked, hits = 0, dict.fromkeys(districts, 0)
    for _ in range(2000):
        lon, lat = rng.uniform(121.40, 121.55), rng.uniform(31.18, 31.28)
        if _near_a_border(lon, lat, districts.values()):
            continue
        inside = [code for code, ring in districts.items() if point_in_polygon(lon, lat, ring)]
        assert len(inside) == 1, (lon, lat, inside)
        hits[inside[0]] += 1
        checked += 1
    assert checked >= 1990
    assert all(hits.values()), hits  # every district got some points


@pytest.mark.parametrize(
    "lon, lat, expected",
    [(121.43, 31.21, "riverside"), (121.47, 31.20, "oldtown"), (121.52, 31.20, "harbor"),
     (121.42, 31.26, "northgate"), (121.47, 31.26, "hightech"), (121.52, 31.26, "lakeside")],
)
def test_demo_district_centres(lon, lat, expected):
    districts = yaml.safe_load(CITY_FILE.read_text(encoding="utf-8"))["districts"]
    assert [d["code"] for d in districts if point_in_polygon(lon, lat, d["polygon"])] == [expected]


def test_points_outside_the_demo_city_are_in_no_district():
    districts = yaml.safe_load(CITY_FILE.read_text(encoding="utf-8"))["districts"]
    for lon, lat in [(121.39, 31.23), (121.56, 31.23), (121.47, 31.17), (121.47, 31.29)]:
        assert not any(point_in_polygon(lon, lat, d["polygon"]) for d in districts)
