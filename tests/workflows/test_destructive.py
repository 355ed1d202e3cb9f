"""``destructive`` transitions: the grammar (an optional boolean, default false), the shipped ``cancel``s, and what
``GET /api/event-types/`` tells pages (``destructive``, ``note_required``)."""

import json

import pytest

from tests.workflows.test_definition_validation import DEFINITIONS_DIR, DEPARTMENTS, errors_of, transition, valid
from workflows.definition import Definition, load_yaml, parse_definition
from workflows.services import definition_checksum

# --- the grammar -------------------------------------------------------------------------------------------------


def test_destructive_defaults_to_false_and_is_read_when_given():
    raw = valid()
    transition(raw, "cancel")["destructive"] = True
    d = parse_definition(raw, departments=DEPARTMENTS)
    assert d.transition("cancel").destructive is True
    assert not any(t.destructive for t in d.transitions if t.name != "cancel")
    assert parse_definition(valid(), departments=DEPARTMENTS).transition("cancel").destructive is False


@pytest.mark.parametrize("value", ["yes", "true", 1, 0, None, [True], {"en": True}])
def test_destructive_must_be_a_boolean(value):
    raw = valid()
    transition(raw, "cancel")["destructive"] = value
    assert errors_of(raw) == ["transitions.cancel.destructive: must be true or false"]


def test_unknown_keys_are_still_refused():
    raw = valid()
    transition(raw, "cancel")["destrutive"] = True
    assert errors_of(raw) == ["transitions.cancel: unknown key 'destrutive'"]


def test_every_problem_is_reported_at_once():
    raw = valid()
    transition(raw, "cancel")["destructive"] = "sure"
    transition(raw, "close")["destructive"] = 2
    transition(raw, "triage")["roles"] = []
    assert errors_of(raw) == [
        "transitions.triage.roles: a non-empty list of roles",
        "transitions.close.destructive: must be true or false",
        "transitions.cancel.destructive: must be true or false",
    ]


def test_normalized_form_round_trips_and_keeps_old_checksums():
    raw = valid()
    transition(raw, "cancel")["destructive"] = True
    d = parse_definition(raw, departments=DEPARTMENTS)
    stored = json.loads(json.dumps(d.to_normalized()))  # as the JSONField gives it back
    assert Definition.from_normalized(stored) == d
    assert [t.get("destructive") for t in stored["transitions"]] == [None, None, None, None, True]
    # A definition that does not use the flag normalizes as before it existed: publishing it again is no new
    # version, and rows stored before it load with destructive false.
    plain = parse_definition(valid(), departments=DEPARTMENTS)
    assert all("destructive" not in t for t in plain.to_normalized()["transitions"])
    assert definition_checksum(plain) != definition_checksum(d)
    assert Definition.from_normalized(json.loads(json.dumps(plain.to_normalized()))) == plain


def test_shipped_cancels_are_destructive_and_nothing_else_is():
    files = sorted(DEFINITIONS_DIR.glob("*.yaml"))
    assert len(files) == 5
    for path in files:
        d = parse_definition(load_yaml(path.read_text(encoding="utf-8")), departments=_shipped_departments())
        assert d.transition("cancel").destructive, path.name
        assert [t.name for t in d.transitions if t.destructive] == ["cancel"], path.name


def _shipped_departments() -> set[str]:
    return {*DEPARTMENTS, "environment", "transit"}


# --- the API -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("username", ["dispatcher", "city_management_staff"])
def test_event_types_tell_pages_which_transitions_are_destructive_or_need_a_note(api_as, username):
    response = api_as(username).get("/api/event-types/")
    assert response.status_code == 200
    types = {et["code"]: et for et in response.json()}
    assert len(types) >= 5
    for code, et in types.items():
        for t in et["transitions"]:
            assert isinstance(t["destructive"], bool) and isinstance(t["note_required"], bool), (code, t)
            assert t["note_required"] == (t["guard"] == "note_required"), (code, t)
    waterlogging = {t["name"]: t for t in types["waterlogging"]["transitions"]}
    assert {name: (t["destructive"], t["note_required"]) for name, t in waterlogging.items()} == {
        "triage": (False, False), "resolve": (False, False), "close": (False, False),
        "rework": (False, True), "cancel": (True, True), "reopen": (False, False),
    }


def test_publishing_a_definition_with_a_bad_flag_names_the_field(api_as):
    admin = api_as("admin")
    raw = valid()
    transition(raw, "cancel")["destructive"] = "yes"
    raw["code"] = "destructive_probe"
    response = admin.post("/api/workflows/", raw)
    assert response.status_code == 400, response.content
    assert response.json()["errors"]["definition"] == ["transitions.cancel.destructive: must be true or false"]


def test_a_published_definition_keeps_the_flag_in_its_versions(api_as):
    admin = api_as("admin")
    raw = valid()
    raw["code"] = "destructive_probe"
    raw["states"]["responding"]["dispatch"] = [{"department": "city_management"}]
    transition(raw, "cancel")["destructive"] = True
    created = admin.post("/api/workflows/", raw)
    assert created.status_code == 201, created.content
    cancel = next(t for t in created.json()["definition"]["transitions"] if t["name"] == "cancel")
    assert (cancel["destructive"], cancel["note_required"]) == (True, False)
    assert admin.post("/api/workflows/", raw).status_code == 200  # unchanged: no new version
