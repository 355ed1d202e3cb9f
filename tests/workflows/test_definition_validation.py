"""Pure tests of workflow definition parsing and validation (no database)."""

import copy
import json
from pathlib import Path

import pytest
import yaml

from workflows.definition import (
    MAX_DURATION_SECONDS,
    Definition,
    DefinitionInvalid,
    load_yaml,
    parse_definition,
    parse_duration,
)

ROOT = Path(__file__).resolve().parents[2]
DEFINITIONS_DIR = ROOT / "workflows" / "definitions"
CITY_FILE = ROOT / "departments" / "demo" / "city.yaml"

DEPARTMENTS = {"city_management", "traffic_police"}
NAME_HINT = "(lower-case letters, digits and _; starts with a letter)"

VALID = {
    "code": "pothole",
    "name": {"en": "Pothole", "zh": "路面坑槽"},
    "description": "A hole in the road.",
    "initial_state": "reported",
    "initial_state_by_source": {"console": "responding"},
    "states": {
        "reported": {"label": "Reported", "sla": "2m"},
        "responding": {
            "label": {"en": "Responding", "zh": "处置中"},
            "sla": "1h",
            "dispatch": [
                {"department": "city_management", "priority": "high", "ack_timeout": "3m"},
                {"department": "traffic_police"},
            ],
        },
        "verifying": {"sla": 1800, "stand_down": True},
        "closed": {"final": True},
        "cancelled": {"final": True},
    },
    "transitions": [
        {"name": "triage", "from": ["reported"], "to": "responding", "roles": ["dispatcher"]},
        {
            "name": "resolve", "from": "responding", "to": "verifying",
            "roles": ["dispatcher", "lead@city_management"], "guard": "work_orders_done",
        },
        {"name": "close", "from": ["verifying"], "to": "closed", "roles": ["dispatcher", "supervisor"]},
        {"name": "rework", "from": ["verifying"], "to": "responding", "roles": ["supervisor"], "guard": "note_required"},
        {"name": "cancel", "from": ["reported", "responding"], "to": "cancelled", "roles": ["dispatcher"]},
    ],
}


def valid() -> dict:
    return copy.deepcopy(VALID)


def transition(raw: dict, name: str) -> dict:
    return next(t for t in raw["transitions"] if t["name"] == name)


def errors_of(raw, departments=DEPARTMENTS) -> list[str]:
    with pytest.raises(DefinitionInvalid) as exc:
        parse_definition(raw, departments=departments)
    assert str(exc.value) == "; ".join(exc.value.errors)
    return exc.value.errors


def has_error(errors: list[str], prefix: str) -> bool:
    return any(e.startswith(prefix) for e in errors)


# --- the valid definition -----------------------------------------------------------------------


def test_valid_definition_is_normalized():
    d = parse_definition(valid(), departments=DEPARTMENTS)

    assert d.code == "pothole"
    assert d.name == {"en": "Pothole", "zh": "路面坑槽"}
    assert d.description == {"en": "A hole in the road."}
    assert list(d.states) == ["reported", "responding", "verifying", "closed", "cancelled"]
    assert d.states["reported"].label == {"en": "Reported"}
    assert d.states["reported"].sla_seconds == 120
    assert d.states["verifying"].label == {"en": "verifying"}  # defaults to the state's name
    assert d.states["verifying"].sla_seconds == 1800 and d.states["verifying"].stand_down
    assert d.states["closed"].final and d.states["closed"].sla_seconds is None
    cm, tp = d.states["responding"].dispatch
    assert (cm.department, cm.priority, cm.ack_timeout_seconds) == ("city_management", "high", 180)
    assert (tp.department, tp.priority, tp.ack_timeout_seconds) == ("traffic_police", "normal", 300)
    assert d.transition("resolve").sources == ("responding",)  # a single "from" string becomes a tuple
    assert d.transition("resolve").guard == "work_orders_done"
    assert d.transition("nope") is None
    assert [t.name for t in d.transitions_from("verifying")] == ["close", "rework"]
    assert d.initial_state_for("console") == "responding"
    assert d.initial_state_for("open311") == "reported"


def test_list_form_of_states_parses_like_the_mapping_form():
    raw = valid()
    raw["states"] = [{"name": name, **body} for name, body in raw["states"].items()]
    assert parse_definition(raw, departments=DEPARTMENTS) == parse_definition(valid(), departments=DEPARTMENTS)


def test_round_trip_through_normalized_form():
    d = parse_definition(valid(), departments=DEPARTMENTS)
    assert Definition.from_normalized(d.to_normalized()) == d
    # Stored in a JSONField: tuples come back as lists.
    assert Definition.from_normalized(json.loads(json.dumps(d.to_normalized()))) == d


# --- one test per kind of problem ---------------------------------------------------------------


@pytest.mark.parametrize(
    "mutate, expected",
    [
        (lambda r: transition(r, "triage").update({"from": ["nope"]}), "transitions.triage.from: unknown state 'nope'"),
        (lambda r: transition(r, "triage").update({"to": "nope"}), "transitions.triage.to: unknown state 'nope'"),
        (lambda r: r.update({"initial_state": "nope"}), "initial_state: unknown state 'nope'"),
        (
            lambda r: r.update({"initial_state_by_source": {"console": "nope"}}),
            "initial_state_by_source.console: unknown state 'nope'",
        ),
    ],
    ids=["from", "to", "initial_state", "initial_state_by_source"],
)
def test_unknown_state(mutate, expected):
    raw = valid()
    mutate(raw)
    assert expected in errors_of(raw)


def test_unknown_source_in_initial_state_by_source():
    raw = valid()
    raw["initial_state_by_source"] = {"telegram": "responding"}
    assert has_error(errors_of(raw), "initial_state_by_source.telegram: unknown source")


def test_missing_required_parts():
    errors = errors_of({"states": {}})
    assert "code: required" in errors
    assert "initial_state: required" in errors
    assert "transitions: required, a non-empty list" in errors


def test_unknown_role():
    raw = valid()
    transition(raw, "close")["roles"] = ["dispatcher", "janitor"]
    assert errors_of(raw) == [
        "transitions.close.roles: unknown role 'janitor' (one of dispatcher, supervisor, admin, staff, lead)"
    ]


def test_role_qualified_by_unknown_department():
    raw = valid()
    transition(raw, "close")["roles"] = ["lead@nowhere"]
    assert errors_of(raw) == ["transitions.close.roles: unknown department 'nowhere' in role 'lead@nowhere'"]


def test_only_staff_and_lead_can_be_department_qualified():
    raw = valid()
    transition(raw, "close")["roles"] = ["dispatcher@traffic_police"]
    assert errors_of(raw) == [
        "transitions.close.roles: only staff and lead can be qualified by a department ('dispatcher@traffic_police')"
    ]


def test_empty_roles():
    raw = valid()
    transition(raw, "close")["roles"] = []
    assert errors_of(raw) == ["transitions.close.roles: a non-empty list of roles"]


def test_unknown_department_in_dispatch():
    raw = valid()
    raw["states"]["responding"]["dispatch"][1]["department"] = "fire_brigade"
    assert errors_of(raw) == ["states.responding.dispatch[1].department: unknown department 'fire_brigade'"]


def test_duplicate_department_in_one_state():
    raw = valid()
    raw["states"]["responding"]["dispatch"][1]["department"] = "city_management"
    assert errors_of(raw) == ["states.responding.dispatch[1].department: duplicate department 'city_management' in one state"]


def test_unknown_priority():
    raw = valid()
    raw["states"]["responding"]["dispatch"][0]["priority"] = "urgent"
    assert errors_of(raw) == [
        "states.responding.dispatch[0].priority: unknown priority 'urgent' (one of low, normal, high, critical)"
    ]


def test_handling_targets_per_department_and_priority():
    raw = valid()
    dispatch = raw["states"]["responding"]["dispatch"]
    dispatch[0]["handling"] = {"default": "1h", "high": "30m", "critical": 900}
    dispatch[1]["handling"] = "45m"
    raw["sla_composition"] = "any"
    spec = parse_definition(raw, departments=DEPARTMENTS)
    cm, tp = spec.states["responding"].dispatch
    assert cm.handling == {"default": 3600, "high": 1800, "critical": 900} and tp.handling == {"default": 2700}
    assert (cm.handling_seconds("high"), cm.handling_seconds("low"), tp.handling_seconds("critical")) == (1800, 3600, 2700)
    assert spec.sla_composition == "any"
    assert Definition.from_normalized(json.loads(json.dumps(spec.to_normalized()))) == spec


def test_a_definition_without_targets_keeps_its_normalized_form():
    """Definitions from before handling targets and composition normalize as they did (same checksum)."""
    normalized = parse_definition(valid(), departments=DEPARTMENTS).to_normalized()
    assert "sla_composition" not in normalized
    assert all("handling" not in d for s in normalized["states"] for d in s["dispatch"])


@pytest.mark.parametrize(("handling", "expected"), [
    ({"urgent": "1h", "default": "2h"}, "states.responding.dispatch[0].handling.urgent: unknown priority"),
    ({"high": "1h"}, "states.responding.dispatch[0].handling.default: required beside the priorities"),
    ("soon", "states.responding.dispatch[0].handling: bad duration 'soon'"),
    ({"default": "2x"}, "states.responding.dispatch[0].handling.default: bad duration '2x'"),
])
def test_bad_handling_targets(handling, expected):
    raw = valid()
    raw["states"]["responding"]["dispatch"][0]["handling"] = handling
    assert has_error(errors_of(raw), expected)


def test_unknown_sla_composition():
    raw = valid()
    raw["sla_composition"] = "most"
    assert errors_of(raw) == ["sla_composition: one of all, any"]


def test_unknown_guard():
    raw = valid()
    transition(raw, "resolve")["guard"] = "all_done"
    assert errors_of(raw) == [
        "transitions.resolve.guard: unknown guard 'all_done' (one of no_open_work_orders, note_required, work_orders_done)"
    ]


def test_unreachable_state():
    raw = valid()
    raw["states"]["limbo"] = {}
    raw["transitions"].append({"name": "leave_limbo", "from": ["limbo"], "to": "closed", "roles": ["dispatcher"]})
    assert errors_of(raw) == ["states.limbo: unreachable from the initial state"]


def test_state_reachable_only_through_initial_state_by_source_is_reachable():
    raw = valid()
    transition(raw, "triage")["to"] = "cancelled"  # responding is now entered only by console reports
    parse_definition(raw, departments=DEPARTMENTS)
    raw["initial_state_by_source"] = {}
    assert "states.responding: unreachable from the initial state" in errors_of(raw)


def test_no_final_state():
    raw = valid()
    raw["states"]["closed"]["final"] = False
    raw["states"]["cancelled"]["final"] = False
    assert "states: no final state" in errors_of(raw)


def test_non_final_state_with_no_way_out():
    raw = valid()
    raw["states"]["stuck"] = {"sla": "1h"}
    raw["transitions"].append({"name": "park", "from": ["verifying"], "to": "stuck", "roles": ["dispatcher"]})
    assert errors_of(raw) == ["states.stuck: not final and no transition leaves it"]


def test_final_state_with_outgoing_transition():
    raw = valid()
    raw["transitions"].append({"name": "undo", "from": ["closed"], "to": "responding", "roles": ["supervisor"]})
    assert errors_of(raw) == [
        "transitions.undo.from: final state 'closed' has no way out (only a transition with reopens: true)"
    ]


def test_a_transition_that_reopens_leaves_a_final_state_for_a_working_one():
    raw = valid()
    raw["transitions"].append(
        {"name": "undo", "from": ["closed"], "to": "responding", "roles": ["supervisor"], "reopens": True}
    )
    spec = parse_definition(raw, departments=DEPARTMENTS)
    assert spec.transition("undo").reopens is True
    assert Definition.from_normalized(spec.to_normalized()).transition("undo").reopens is True
    assert "reopens" not in spec.to_normalized()["transitions"][0]  # written only when true (checksums unchanged)


def test_a_transition_that_reopens_must_leave_final_states_only_and_not_end_in_one():
    raw = valid()
    raw["transitions"] += [
        {"name": "undo", "from": ["closed", "verifying"], "to": "cancelled", "roles": ["supervisor"], "reopens": True},
        {"name": "odd", "from": ["closed"], "to": "responding", "roles": ["supervisor"], "reopens": "yes"},
    ]
    assert errors_of(raw) == [
        "transitions.undo.from: a transition that reopens leaves final states only, not 'verifying'",
        "transitions.undo.to: a transition that reopens goes back to a working state, not final 'cancelled'",
        "transitions.odd.reopens: must be true or false",
        "transitions.odd.from: final state 'closed' has no way out (only a transition with reopens: true)",
    ]


def test_final_state_has_no_sla_and_dispatches_nothing():
    raw = valid()
    raw["states"]["closed"].update({"sla": "1h", "dispatch": [{"department": "traffic_police"}]})
    assert errors_of(raw) == [
        "states.closed.sla: a final state has no SLA",
        "states.closed.dispatch: a final state dispatches nothing",
    ]


BAD_DURATIONS = ["2x", 0, -5, "", True, 31 * 24 * 3600, "-5", 1.5]


@pytest.mark.parametrize("value", BAD_DURATIONS, ids=repr)
def test_bad_sla(value):
    raw = valid()
    raw["states"]["reported"]["sla"] = value
    errors = errors_of(raw)
    assert len(errors) == 1
    assert errors[0].startswith(f"states.reported.sla: bad duration {value!r}")


@pytest.mark.parametrize("value", BAD_DURATIONS, ids=repr)
def test_bad_ack_timeout(value):
    raw = valid()
    raw["states"]["responding"]["dispatch"][0]["ack_timeout"] = value
    errors = errors_of(raw)
    assert len(errors) == 1
    assert errors[0].startswith(f"states.responding.dispatch[0].ack_timeout: bad duration {value!r}")


def test_duplicate_transition_names():
    raw = valid()
    raw["transitions"].append({"name": "cancel", "from": ["verifying"], "to": "cancelled", "roles": ["dispatcher"]})
    assert errors_of(raw) == ["transitions.cancel: duplicate transition name"]


DUPLICATE_STATE_YAML = """\
code: pothole
initial_state: reported
states:
  reported: {sla: 2m}
  closed: {final: true}
  reported: {sla: 5m}
transitions:
  - {name: close, from: [reported], to: closed, roles: [dispatcher]}
"""


def test_duplicate_state_names_in_yaml():
    with pytest.raises(DefinitionInvalid) as exc:
        load_yaml(DUPLICATE_STATE_YAML)
    assert exc.value.errors == ["line 6: duplicate name 'reported'"]


def test_duplicate_keys_anywhere_in_yaml_are_refused():
    text = "code: pothole\ninitial_state: reported\ncode: other\n"
    with pytest.raises(DefinitionInvalid) as exc:
        load_yaml(text)
    assert exc.value.errors == ["line 3: duplicate name 'code'"]


def test_load_yaml_without_duplicates_matches_safe_load():
    text = DUPLICATE_STATE_YAML.replace("  reported: {sla: 5m}\n", "")
    assert load_yaml(text) == yaml.safe_load(text)
    parse_definition(load_yaml(text), departments=DEPARTMENTS)


@pytest.mark.parametrize("text", ["[1, 2]", "just text", ""])
def test_load_yaml_refuses_non_mappings(text):
    with pytest.raises(DefinitionInvalid) as exc:
        load_yaml(text)
    assert exc.value.errors == ["the definition must be a mapping"]


def test_load_yaml_refuses_syntax_errors():
    with pytest.raises(DefinitionInvalid) as exc:
        load_yaml("code: [unclosed")
    assert len(exc.value.errors) == 1 and exc.value.errors[0].startswith("not valid YAML:")


def test_load_yaml_unhashable_key_is_a_definition_error():
    with pytest.raises(DefinitionInvalid):
        load_yaml("states:\n  ? [reported, closed]\n  : {final: true}\n")


def test_duplicate_state_names_in_list_form():
    raw = valid()
    raw["states"] = [{"name": name, **body} for name, body in raw["states"].items()]
    raw["states"].append({"name": "reported", "sla": "5m"})
    assert errors_of(raw) == ["states.reported: duplicate state name"]


def test_state_without_name_in_list_form():
    raw = valid()
    raw["states"] = [{"name": name, **body} for name, body in raw["states"].items()] + [{"sla": "5m"}]
    assert errors_of(raw) == ["states[5]: each state needs a name"]


def test_unknown_keys():
    raw = valid()
    raw["states"]["closed"] = {"finall": True}
    raw["transitions"][0]["guards"] = "note_required"
    raw["states"]["responding"]["dispatch"][0]["ack"] = "3m"
    raw["transition"] = []
    errors = errors_of(raw)
    assert "states.closed: unknown key 'finall'" in errors
    assert "transitions.triage: unknown key 'guards'" in errors
    assert "states.responding.dispatch[0]: unknown key 'ack'" in errors
    assert "definition: unknown key 'transition'" in errors
    # With the typo, "closed" is an ordinary state that nothing leaves.
    assert "states.closed: not final and no transition leaves it" in errors


@pytest.mark.parametrize(
    "mutate, expected",
    [
        (lambda r: r.update({"code": "Pothole"}), f"code: bad name 'Pothole' {NAME_HINT}"),
        (lambda r: r.update({"code": "9lives"}), f"code: bad name '9lives' {NAME_HINT}"),
        (
            lambda r: r["states"].update({"Limbo": {"final": True}}),
            f"states.Limbo: bad name 'Limbo' {NAME_HINT}",
        ),
        (
            lambda r: transition(r, "close").update({"name": "Close"}),
            f"transitions.Close.name: bad name 'Close' {NAME_HINT}",
        ),
        (
            lambda r: transition(r, "close").update({"name": "close-now"}),
            f"transitions.close-now.name: bad name 'close-now' {NAME_HINT}",
        ),
        (
            lambda r: transition(r, "close").update({"name": 7}),
            f"transitions[2].name: bad name 7 {NAME_HINT}",
        ),
    ],
    ids=["code-upper", "code-digit", "state-upper", "transition-upper", "transition-dash", "transition-int"],
)
def test_bad_names(mutate, expected):
    raw = valid()
    mutate(raw)
    assert errors_of(raw) == [expected]


def test_bad_labels_and_flags():
    raw = valid()
    raw["states"]["reported"]["label"] = ""
    raw["states"]["verifying"]["stand_down"] = "yes"
    raw["states"]["verifying"]["sla_paused"] = 1
    transition(raw, "close")["label"] = {"en": ""}
    assert errors_of(raw) == [
        "states.reported.label: a label is a non-empty text or a mapping of language to text",
        "states.verifying.sla_paused: must be true or false",
        "states.verifying.stand_down: must be true or false",
        "transitions.close.label: a label is a non-empty text or a mapping of language to text",
    ]


def test_list_as_transition_target_is_a_definition_error():
    raw = valid()
    transition(raw, "close")["to"] = ["closed"]
    assert "transitions.close.to: unknown state ['closed']" in errors_of(raw)


def test_every_problem_is_reported_at_once():
    raw = valid()
    transition(raw, "triage")["from"] = ["nope"]
    transition(raw, "close")["roles"] = ["lead@nowhere"]
    transition(raw, "resolve")["guard"] = "all_done"
    raw["states"]["responding"]["dispatch"][0]["priority"] = "urgent"
    raw["states"]["responding"]["dispatch"][1]["department"] = "fire_brigade"
    raw["states"]["reported"]["sla"] = "2x"
    raw["states"]["Limbo"] = {}
    raw["transitions"].append(dict(transition(raw, "cancel")))
    expected = [
        "transitions.triage.from: unknown state 'nope'",
        "transitions.close.roles: unknown department 'nowhere' in role 'lead@nowhere'",
        "transitions.resolve.guard: unknown guard 'all_done'",
        "states.responding.dispatch[0].priority: unknown priority 'urgent'",
        "states.responding.dispatch[1].department: unknown department 'fire_brigade'",
        "states.reported.sla: bad duration '2x'",
        "states.Limbo: bad name 'Limbo'",
        "transitions.cancel: duplicate transition name",
    ]
    errors = errors_of(raw)
    assert len(errors) >= len(expected)
    for prefix in expected:
        assert has_error(errors, prefix), (prefix, errors)


# --- durations ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, seconds",
    [
        (90, 90),
        ("90", 90),
        ("90s", 90),
        ("2m", 120),
        ("1h", 3600),
        ("1h30m", 5400),
        ("1h1s", 3601),
        ("1h2m3s", 3723),
        ("  5m ", 300),  # surrounding blanks are ignored
        (" 42 ", 42),
        (1, 1),
        ("720h", MAX_DURATION_SECONDS),
        (MAX_DURATION_SECONDS, MAX_DURATION_SECONDS),
    ],
    ids=repr,
)
def test_parse_duration(value, seconds):
    assert parse_duration(value) == seconds


@pytest.mark.parametrize(
    "value",
    ["2x", 0, "0", "0s", -5, "-5", "", "   ", True, False, None, 1.5, "1.5m", "1m1h", "5 m", "h",
     MAX_DURATION_SECONDS + 1, "721h", [60]],
    ids=repr,
)
def test_parse_duration_refuses(value):
    with pytest.raises(ValueError, match="bad duration"):
        parse_duration(value)


# --- the shipped definitions ----------------------------------------------------------------------

SHIPPED = sorted(DEFINITIONS_DIR.glob("*.yaml"))
DEMO_DEPARTMENTS = {d["code"] for d in yaml.safe_load(CITY_FILE.read_text(encoding="utf-8"))["departments"]}


def test_demo_city_has_four_departments():
    assert DEMO_DEPARTMENTS == {"traffic_police", "city_management", "environment", "transit"}
    assert len(SHIPPED) >= 5


@pytest.fixture(params=SHIPPED, ids=lambda p: p.stem)
def shipped(request) -> Definition:
    return parse_definition(load_yaml(request.param.read_text(encoding="utf-8")), departments=DEMO_DEPARTMENTS)


def test_shipped_definition_code_matches_file_name(shipped, request):
    assert shipped.code == request.node.callspec.params["shipped"].stem


def test_shipped_definition_has_the_standard_transitions(shipped):
    names = {t.name for t in shipped.transitions}
    assert {"triage", "resolve", "close", "rework", "cancel"} <= names


def test_shipped_definition_verifies_before_closing(shipped):
    """Closing happens from a verification state, never straight from a state that dispatches units."""
    close = shipped.transition("close")
    assert shipped.states[close.target].final
    for source in close.sources:
        assert not shipped.states[source].dispatch, source
        assert shipped.states[source].stand_down, source
    assert shipped.states[shipped.transition("resolve").target].name in close.sources


def test_shipped_definition_rework_goes_back_to_dispatching(shipped):
    rework = shipped.transition("rework")
    assert shipped.states[rework.target].dispatch
    assert set(rework.sources) & set(shipped.transition("close").sources)


def test_shipped_definition_console_reports_start_dispatching(shipped):
    assert shipped.states[shipped.initial_state_for("console")].dispatch
    assert shipped.states[shipped.transition("cancel").target].final


def test_shipped_definition_round_trips(shipped):
    assert Definition.from_normalized(json.loads(json.dumps(shipped.to_normalized()))) == shipped
