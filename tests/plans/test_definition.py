"""Pure tests of response plan parsing and validation (no database: what exists is passed in)."""

import copy
from pathlib import Path

import pytest

from plans.definition import DefinitionInvalid, load_yaml, parse_plan

ROOT = Path(__file__).resolve().parents[2]
DEPARTMENTS = {"city_management", "traffic_police", "environment", "transit"}
EVENT_TYPES = {"waterlogging", "traffic_accident", "air_pollution", "road_collapse", "hazmat_spill"}


def in_city(lat: float, lon: float) -> bool:
    """A stand-in for the districts: a box around the demo city."""
    return 31.1 <= lat <= 31.3 and 121.35 <= lon <= 121.6


def parse(raw):
    return parse_plan(raw, departments=DEPARTMENTS, event_types=EVENT_TYPES, in_city=in_city)


GOOD = {
    "code": "storm_drill",
    "name": {"en": "Storm drill", "zh": "暴雨演练"},
    "triggers": [{"events": ["Rainstorm", "暴雨"], "severities": {"Severe": "II", "Moderate": "III"}}],
    "levels": {
        "II": {
            "tasks": [{"department": "traffic_police", "task": {"en": "Close underpasses", "zh": "封闭下立交"},
                       "ack_timeout": "10m"}],
            "overrides": {"ack_timeout": "90s", "priority": "high", "extra_departments": {"waterlogging": ["transit"]}},
            "hazard_points": [{"title": {"en": "Riverside Rd underpass", "zh": "滨江路下立交"},
                               "event_type": "waterlogging", "severity": 3, "lat": 31.21, "lon": 121.43}],
            "major_event": {"title": {"en": "Storm flooding", "zh": "暴雨内涝"}, "event_types": ["waterlogging"]},
        },
        "III": {
            "tasks": [{"department": "city_management", "task": {"en": "Pumps", "zh": "泵车"}, "ack_timeout": "1h"}],
        },
    },
}


def errors_of(raw) -> list[str]:
    with pytest.raises(DefinitionInvalid) as exc:
        parse(raw)
    return exc.value.errors


def test_a_good_plan_parses_to_the_normalized_spec():
    spec = parse(GOOD).to_normalized()
    assert spec == {
        "code": "storm_drill",
        "name": {"en": "Storm drill", "zh": "暴雨演练"},
        "description": {},
        "triggers": [{"events": ["Rainstorm", "暴雨"], "severities": {"Moderate": "III", "Severe": "II"}}],
        "levels": {
            "III": {
                "tasks": [{"department": "city_management", "task": {"en": "Pumps", "zh": "泵车"},
                           "ack_timeout_seconds": 3600}],
                "overrides": None, "hazard_points": [], "major_event": None,
            },
            "II": {
                "tasks": [{"department": "traffic_police", "task": {"en": "Close underpasses", "zh": "封闭下立交"},
                           "ack_timeout_seconds": 600}],
                "overrides": {"ack_timeout_seconds": 90, "priority": "high",
                              "extra_departments": {"waterlogging": ["transit"]}},
                "hazard_points": [{"title": {"en": "Riverside Rd underpass", "zh": "滨江路下立交"},
                                   "event_type": "waterlogging", "severity": 3, "lat": 31.21, "lon": 121.43}],
                "major_event": {"title": {"en": "Storm flooding", "zh": "暴雨内涝"}, "event_types": ["waterlogging"]},
            },
        },
    }
    assert list(spec["levels"]) == ["III", "II"]  # lowest first, whatever the order written


def test_a_manual_only_plan_has_no_triggers():
    assert parse({**GOOD, "triggers": []}).triggers == ()


def test_the_demo_plan_parses():
    spec = parse(load_yaml((ROOT / "plans" / "definitions" / "rainstorm.yaml").read_text("utf-8")))
    assert spec.code == "rainstorm"
    assert list(spec.levels) == ["IV", "III", "II", "I"]
    assert spec.triggers[0].severities == {"Minor": "IV", "Moderate": "III", "Severe": "II", "Extreme": "I"}
    acks = [max(t.ack_timeout_seconds for t in spec.levels[lv].tasks) for lv in ("IV", "III", "II", "I")]
    assert acks == sorted(acks, reverse=True) and acks[-1] == 300
    assert spec.levels["I"].overrides is not None and spec.levels["I"].overrides.priority == "critical"
    assert spec.levels["I"].hazard_points and spec.levels["II"].hazard_points
    assert spec.levels["II"].major_event is not None and spec.levels["I"].major_event is not None
    assert spec.levels["III"].major_event is None and spec.levels["I"].major_event.event_types == ("waterlogging", "road_collapse")


def test_a_bad_plan_lists_every_problem_with_its_path():
    bad = copy.deepcopy(GOOD)
    bad["colour"] = "red"
    bad["name"] = {"en": "Storm drill"}
    bad["triggers"][0]["severities"] = {"Severe": "V", "Huge": "II", "Minor": "I"}
    bad["levels"]["V"] = {"tasks": []}
    level = bad["levels"]["II"]
    level["when"] = "now"
    level["tasks"].append({"department": "traffic_police", "task": {"en": "Again", "zh": "再次"}, "ack_timeout": "soon"})
    level["tasks"].append({"department": "fire_brigade", "task": {"en": "Hoses", "zh": "水带"}, "ack_timeout": "5m"})
    level["overrides"] = {"priority": "urgent", "ack_timeout": "0s",
                          "extra_departments": {"flood": ["transit"], "waterlogging": ["navy"]}}
    level["hazard_points"].append({"title": {"en": "Far away", "zh": "远处"}, "event_type": "waterlogging",
                                   "severity": 9, "lat": 40.0, "lon": 116.4})
    level["major_event"] = {"title": {"en": "Flooding"}, "event_types": ["flood"], "commander": "chief"}
    bad["levels"]["III"]["tasks"] = []
    errors = errors_of(bad)
    assert set(errors) >= {
        "plan: unknown key 'colour'",
        "name.zh: required, a non-empty text",
        "levels.V: unknown level (one of IV, III, II, I)",
        "levels.II: unknown key 'when'",
        "levels.III.tasks: a non-empty list of department tasks",
        "levels.II.tasks[1].department: duplicate department 'traffic_police' in one level",
        "levels.II.tasks[2].department: unknown department 'fire_brigade'",
        "levels.II.overrides.priority: unknown priority 'urgent' (one of low, normal, high, critical)",
        "levels.II.overrides.extra_departments.flood: unknown event type 'flood'",
        "levels.II.overrides.extra_departments.waterlogging[0]: unknown department 'navy'",
        "levels.II.hazard_points[1].severity: a whole number from 1 to 5",
        "levels.II.hazard_points[1]: the point (40.0, 116.4) is outside every district of the city",
        "triggers[0].severities.Severe: unknown level 'V' (one of IV, III, II, I)",
        "triggers[0].severities.Huge: unknown severity (one of Minor, Moderate, Severe, Extreme)",
        "triggers[0].severities.Minor: level I is not defined under levels",
        "levels.II.major_event: unknown key 'commander'",
        "levels.II.major_event.title.zh: required, a non-empty text",
        "levels.II.major_event.event_types[0]: unknown event type 'flood'",
    }
    assert any(e.startswith("levels.II.tasks[1].ack_timeout: bad duration 'soon'") for e in errors)
    assert any(e.startswith("levels.II.overrides.ack_timeout: bad duration '0s'") for e in errors)


@pytest.mark.parametrize(("raw", "expected"), [
    ({}, ["code: required", "name: required, a mapping with en and zh texts",
          "levels: required, a mapping of level (IV, III, II, I) to what it orders",
          "triggers: required, a list (empty for a plan activated by hand only)"]),
    ({**GOOD, "code": "Storm!"}, ["code: bad name 'Storm!' (lower-case letters, digits and _; starts with a letter)"]),
    ({**GOOD, "triggers": [{"events": [], "severities": {}}]},
     ["triggers[0].events: a non-empty list of CAP event names",
      "triggers[0].severities: a non-empty mapping of CAP severity (Minor|Moderate|Severe|Extreme) to level"]),
    ({**GOOD, "levels": {"II": {"tasks": [{"department": "transit", "task": {"en": "x", "zh": "y"}}]}},
      "triggers": []},
     ["levels.II.tasks[0].ack_timeout: required, a duration such as 10m"]),
])
def test_missing_and_malformed_sections(raw, expected):
    assert errors_of(raw) == expected


def test_yaml_that_is_not_a_mapping_is_refused():
    with pytest.raises(DefinitionInvalid) as exc:
        load_yaml("- just a list")
    assert exc.value.errors == ["the definition must be a mapping"]
