"""POST/GET /api/incidents/: creation, validation, idempotency, access, filters, pagination, masking."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

CONTRACT_FIELDS = {
    "id", "number", "event_type", "workflow_version", "state", "severity", "title", "description", "location",
    "address", "district", "reporter", "source", "external_id", "created_at", "updated_at",
    "available_transitions", "work_orders",
}


def _counts() -> dict:
    from departments.models import WorkOrder
    from dispatch.models import IdempotencyRecord, Incident, OutboxJob, TimelineEvent

    return {
        "incidents": Incident.objects.count(), "timeline": TimelineEvent.objects.count(),
        "outbox": OutboxJob.objects.count(), "work_orders": WorkOrder.objects.count(),
        "idempotency": IdempotencyRecord.objects.count(),
    }


# --- create ----------------------------------------------------------------------------------------


def test_create_returns_201_with_the_contract_fields(dispatcher, waterlogging_payload):
    payload = {**waterlogging_payload, "external_id": "CC-0001"}
    response = dispatcher.post("/api/incidents/", payload)
    assert response.status_code == 201, response.content
    body = response.json()
    assert CONTRACT_FIELDS <= set(body)
    assert isinstance(body["id"], int)
    assert re.fullmatch(r"INC-\d{8}-\d{5}", body["number"])
    assert body["event_type"] == "waterlogging"
    assert body["workflow_version"] == 1
    assert body["state"] == "responding"  # initial_state_by_source: console
    assert body["severity"] == 3
    assert body["title"] == payload["title"]
    assert body["description"] == payload["description"]
    assert body["location"] == {"lat": 31.21, "lon": 121.43}
    assert body["address"] == payload["address"]
    assert body["district"] == "riverside"
    assert body["reporter"] == {**payload["reporter"], "confidential": False, "erased_at": None}
    assert body["source"] == "console"
    assert body["external_id"] == "CC-0001"
    for stamp in ("created_at", "updated_at"):
        assert re.search(r"([+-]\d{2}:\d{2}|Z)$", body[stamp]), body[stamp]  # ISO-8601 with offset
    assert body["available_transitions"] == ["resolve", "cancel"]
    assert body["work_orders"] == []  # the incident as this request committed it: routing runs after the commit

    # Routing ran after commit: the incident now has its three orders.
    detail = dispatcher.get(f"/api/incidents/{body['id']}/").json()
    assert {wo["department"] for wo in detail["work_orders"]} == {"city_management", "traffic_police", "transit"}
    assert detail["number"] == body["number"]


def test_numbers_are_unique_and_sequential(dispatcher, waterlogging_payload):
    first = dispatcher.post("/api/incidents/", waterlogging_payload).json()["number"]
    second = dispatcher.post("/api/incidents/", waterlogging_payload).json()["number"]
    assert first != second
    assert first[:13] == second[:13]
    assert int(second[-5:]) == int(first[-5:]) + 1


def test_minimal_body_gets_defaults(dispatcher):
    response = dispatcher.post("/api/incidents/", {"event_type": "waterlogging", "title": "Flooding"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["severity"] == 3
    assert body["source"] == "console"
    assert body["location"] is None
    assert body["district"] is None


def test_admin_may_create(api_as, waterlogging_payload):
    assert api_as("admin").post("/api/incidents/", waterlogging_payload).status_code == 201


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"event_type": "volcano"}, "event_type"),
        ({"severity": 0}, "severity"),
        ({"severity": 6}, "severity"),
        ({"severity": "x"}, "severity"),
        ({"title": None}, "title"),
        ({"title": ""}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"location": {"lat": 91, "lon": 121.43}}, "location"),
        ({"location": {"lat": 31.2, "lon": 181}}, "location"),
        ({"location": "31.21,121.43"}, "location"),
        ({"location": [31.21, 121.43]}, "location"),
        ({"source": "pigeon"}, "source"),
        ({"reporter": {"name": "Li", "phone": "138abc1234"}}, "reporter"),
        ({"description": "x" * 10001}, "description"),
    ],
    ids=[
        "unknown-event-type", "severity-0", "severity-6", "severity-x", "title-missing", "title-empty", "title-too-long",
        "lat-91", "lon-181", "location-string", "location-list", "bad-source", "phone-letters", "description-too-long",
    ],
)
def test_invalid_input_is_400_with_the_field_and_stores_nothing(dispatcher, waterlogging_payload, change, field):
    payload = {**waterlogging_payload, **change}
    if change.get("title", "keep") is None:
        del payload["title"]
    before = _counts()
    response = dispatcher.post("/api/incidents/", payload, HTTP_IDEMPOTENCY_KEY="bad-input-1")
    assert response.status_code == 400, response.content
    body = response.json()
    assert set(body) == {"detail", "errors"}
    assert any(key == field or key.startswith(f"{field}.") for key in body["errors"]), body["errors"]
    assert all(isinstance(msgs, list) and msgs for msgs in body["errors"].values())
    assert _counts() == before


def test_a_retry_with_the_idempotency_key_of_an_invalid_request_creates_once(dispatcher, waterlogging_payload):
    bad = dispatcher.post("/api/incidents/", {**waterlogging_payload, "severity": 9}, HTTP_IDEMPOTENCY_KEY="k-fixed")
    assert bad.status_code == 400
    good = dispatcher.post("/api/incidents/", waterlogging_payload, HTTP_IDEMPOTENCY_KEY="k-fixed")
    assert good.status_code == 201, good.content


def test_a_non_object_body_is_400(dispatcher):
    before = _counts()
    response = dispatcher.post("/api/incidents/", ["waterlogging"])
    assert response.status_code == 400
    assert _counts() == before


# --- idempotency -----------------------------------------------------------------------------------


def test_idempotency_key_same_body_returns_the_same_incident(dispatcher, waterlogging_payload):
    from dispatch.models import Incident

    before = Incident.objects.count()
    first = dispatcher.post("/api/incidents/", waterlogging_payload, HTTP_IDEMPOTENCY_KEY="retry-42")
    assert first.status_code == 201
    second = dispatcher.post("/api/incidents/", waterlogging_payload, HTTP_IDEMPOTENCY_KEY="retry-42")
    assert second.status_code == 200, second.content
    assert second.json()["id"] == first.json()["id"]
    assert second.json()["number"] == first.json()["number"]
    assert Incident.objects.count() == before + 1
    # The replay does not route the incident a second time.
    detail = dispatcher.get(f"/api/incidents/{first.json()['id']}/").json()
    assert len(detail["work_orders"]) == 3


def test_idempotency_key_with_another_body_is_409(dispatcher, waterlogging_payload):
    from dispatch.models import Incident

    first = dispatcher.post("/api/incidents/", waterlogging_payload, HTTP_IDEMPOTENCY_KEY="retry-43")
    assert first.status_code == 201
    before = _counts()
    other = dispatcher.post(
        "/api/incidents/", {**waterlogging_payload, "severity": 4}, HTTP_IDEMPOTENCY_KEY="retry-43"
    )
    assert other.status_code == 409, other.content
    assert set(other.json()) == {"detail", "errors"}
    assert _counts() == before
    assert Incident.objects.filter(title=waterlogging_payload["title"]).count() == 1


def test_idempotency_keys_of_different_callers_do_not_collide(api_as, waterlogging_payload):
    first = api_as("dispatcher").post("/api/incidents/", waterlogging_payload, HTTP_IDEMPOTENCY_KEY="shared")
    second = api_as("admin").post("/api/incidents/", waterlogging_payload, HTTP_IDEMPOTENCY_KEY="shared")
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] != second.json()["id"]


def test_an_overlong_idempotency_key_is_refused_or_honoured_never_a_server_error(dispatcher, waterlogging_payload):
    key = "k" * 300
    before = _counts()
    first = dispatcher.post("/api/incidents/", waterlogging_payload, HTTP_IDEMPOTENCY_KEY=key)
    assert first.status_code in (201, 400), first.content
    if first.status_code == 400:
        assert first.json()["errors"]
        assert _counts() == before
    else:
        again = dispatcher.post("/api/incidents/", waterlogging_payload, HTTP_IDEMPOTENCY_KEY=key)
        assert again.status_code == 200
        assert again.json()["id"] == first.json()["id"]


def test_source_and_external_id_same_body_returns_the_same_incident(dispatcher, waterlogging_payload):
    from dispatch.models import Incident

    payload = {**waterlogging_payload, "source": "hotline", "external_id": "12345-0001"}
    first = dispatcher.post("/api/incidents/", payload)
    assert first.status_code == 201
    second = dispatcher.post("/api/incidents/", payload)
    assert second.status_code == 200, second.content
    assert second.json()["id"] == first.json()["id"]
    assert Incident.objects.filter(source="hotline", external_id="12345-0001").count() == 1


def test_source_and_external_id_with_another_body_is_409(dispatcher, waterlogging_payload):
    from dispatch.models import Incident

    payload = {**waterlogging_payload, "source": "hotline", "external_id": "12345-0002"}
    assert dispatcher.post("/api/incidents/", payload).status_code == 201
    before = _counts()
    response = dispatcher.post("/api/incidents/", {**payload, "title": "Something else"})
    assert response.status_code == 409, response.content
    assert "external_id" in response.json()["errors"]
    assert _counts() == before
    assert Incident.objects.filter(source="hotline", external_id="12345-0002").count() == 1


def test_same_external_id_from_another_source_is_another_incident(dispatcher, waterlogging_payload):
    a = dispatcher.post("/api/incidents/", {**waterlogging_payload, "source": "hotline", "external_id": "E-1"})
    b = dispatcher.post("/api/incidents/", {**waterlogging_payload, "source": "sensor", "external_id": "E-1"})
    assert a.status_code == b.status_code == 201
    assert a.json()["id"] != b.json()["id"]


def test_empty_external_ids_never_deduplicate(dispatcher, waterlogging_payload):
    a = dispatcher.post("/api/incidents/", waterlogging_payload)
    b = dispatcher.post("/api/incidents/", waterlogging_payload)
    assert a.status_code == b.status_code == 201
    assert a.json()["id"] != b.json()["id"]


# --- who may create ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "username", ["supervisor", "city_management_staff", "city_management_lead", "traffic_police_staff", "transit_lead"]
)
def test_staff_lead_and_supervisor_cannot_create(api_as, waterlogging_payload, username):
    before = _counts()
    response = api_as(username).post("/api/incidents/", waterlogging_payload)
    assert response.status_code == 403, response.content
    assert set(response.json()) == {"detail", "errors"}
    assert _counts() == before


# --- read access --------------------------------------------------------------------------------------


def test_department_members_see_only_incidents_with_their_orders(api_as, reported_incident):
    incident_id = reported_incident["id"]
    for username in ("city_management_staff", "traffic_police_lead", "transit_staff"):
        assert api_as(username).get(f"/api/incidents/{incident_id}/").status_code == 200, username
        ids = [i["id"] for i in api_as(username).get("/api/incidents/").json()["results"]]
        assert incident_id in ids, username
    assert api_as("environment_staff").get(f"/api/incidents/{incident_id}/").status_code == 404
    assert api_as("environment_lead").get("/api/incidents/").json()["count"] == 0


def test_staff_see_only_their_own_work_orders_inside_an_incident(api_as, reported_incident):
    body = api_as("traffic_police_staff").get(f"/api/incidents/{reported_incident['id']}/").json()
    assert [wo["department"] for wo in body["work_orders"]] == ["traffic_police"]


def test_unknown_incident_is_404(dispatcher):
    response = dispatcher.get("/api/incidents/999999/")
    assert response.status_code == 404
    assert set(response.json()) == {"detail", "errors"}


# --- reporter masking -------------------------------------------------------------------------------


def test_reporter_clear_for_dispatcher(dispatcher, reported_incident):
    assert reported_incident["reporter"] == {"name": "张三", "phone": "13812341234", "confidential": False, "erased_at": None}
    listed = dispatcher.get("/api/incidents/").json()["results"]
    assert next(i for i in listed if i["id"] == reported_incident["id"])["reporter"]["phone"] == "13812341234"


@pytest.mark.parametrize("username", ["supervisor", "city_management_staff", "traffic_police_lead"])
def test_reporter_masked_for_supervisor_and_department_members(api_as, reported_incident, username):
    api = api_as(username)
    detail = api.get(f"/api/incidents/{reported_incident['id']}/").json()
    assert detail["reporter"]["phone"] == "138****1234"
    assert detail["reporter"]["name"] != "张三"
    assert detail["reporter"]["name"].startswith("张") and "*" in detail["reporter"]["name"]
    listed = api.get("/api/incidents/").json()["results"]
    assert next(i for i in listed if i["id"] == reported_incident["id"])["reporter"]["phone"] == "138****1234"


# --- list: filters and pagination --------------------------------------------------------------------


def _ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {i["id"] for i in response.json()["results"]}


def test_list_filters(dispatcher, report, transition):
    flood = report(severity=2)
    collapse = report(
        event_type="road_collapse", title="Road caved in", severity=5,
        location={"lat": 31.26, "lon": 121.52},  # lakeside
    )
    cancelled = report(severity=4, location={"lat": 31.20, "lon": 121.47})  # oldtown
    assert transition("dispatcher", cancelled["id"], "cancel", note="duplicate").status_code == 200

    get = dispatcher.get
    assert _ids(get("/api/incidents/", {"state": "cancelled"})) == {cancelled["id"]}
    assert cancelled["id"] not in _ids(get("/api/incidents/", {"state": "responding"}))
    assert flood["id"] in _ids(get("/api/incidents/", {"state": "responding"}))

    assert _ids(get("/api/incidents/", {"event_type": "road_collapse"})) == {collapse["id"]}
    assert _ids(get("/api/incidents/", {"event_type": "waterlogging"})) == {flood["id"], cancelled["id"]}

    assert _ids(get("/api/incidents/", {"severity": 2})) == {flood["id"]}
    assert _ids(get("/api/incidents/", {"severity": 5})) == {collapse["id"]}

    assert _ids(get("/api/incidents/", {"district": "riverside"})) == {flood["id"]}
    assert _ids(get("/api/incidents/", {"district": "lakeside"})) == {collapse["id"]}
    assert _ids(get("/api/incidents/", {"district": "oldtown"})) == {cancelled["id"]}
    assert _ids(get("/api/incidents/", {"district": "harbor"})) == set()

    # Severity >= 4 waterlogging and road collapses also go to environment (routing rules).
    assert _ids(get("/api/incidents/", {"department": "environment"})) == {collapse["id"], cancelled["id"]}
    assert _ids(get("/api/incidents/", {"department": "transit"})) >= {flood["id"], cancelled["id"]}
    assert _ids(get("/api/incidents/", {"department": "city_management"})) >= {flood["id"], cancelled["id"]}

    combined = get("/api/incidents/", {"event_type": "waterlogging", "state": "responding", "district": "riverside"})
    assert _ids(combined) == {flood["id"]}


def test_list_filters_by_creation_time(dispatcher, report):
    from dispatch.models import Incident

    old, recent = report(), report()
    now = timezone.now()
    Incident.objects.filter(pk=old["id"]).update(created_at=now - timedelta(days=3))
    Incident.objects.filter(pk=recent["id"]).update(created_at=now - timedelta(hours=1))
    cut = (now - timedelta(days=1)).isoformat()

    assert _ids(dispatcher.get("/api/incidents/", {"created_after": cut})) == {recent["id"]}
    assert _ids(dispatcher.get("/api/incidents/", {"created_before": cut})) == {old["id"]}
    window = {"created_after": (now - timedelta(days=4)).isoformat(), "created_before": (now - timedelta(days=2)).isoformat()}
    assert _ids(dispatcher.get("/api/incidents/", window)) == {old["id"]}


@pytest.mark.parametrize(("after", "before"), [
    ("0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"),  # beyond what a datetime can hold in UTC
    ("0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"),
])
def test_the_extreme_dates_the_schema_allows_mean_before_and_after_everything(dispatcher, report, after, before):
    made = report()
    for params in ({"created_after": after}, {"created_before": before}, {"created_after": after, "created_before": before}):
        response = dispatcher.get("/api/incidents/", params)
        assert response.status_code == 200, response.content
        assert made["id"] in _ids(response)
    assert dispatcher.get(f"/api/incidents/{made['id']}/timeline/", {"created_before": before}).status_code == 200
    assert _ids(dispatcher.get("/api/incidents/", {"created_before": after})) == set()
    assert _ids(dispatcher.get("/api/incidents/", {"created_after": before})) == set()


def test_list_rejects_a_bad_date_filter(dispatcher):
    response = dispatcher.get("/api/incidents/", {"created_after": "yesterday"})
    assert response.status_code == 400
    assert "created_after" in response.json()["errors"]


def test_list_pagination_shape(dispatcher, report):
    made = {report()["id"] for _ in range(3)}
    first = dispatcher.get("/api/incidents/", {"page_size": 2})
    assert first.status_code == 200
    body = first.json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 3
    assert len(body["results"]) == 2
    assert body["previous"] is None
    assert body["next"] and "page=2" in body["next"]
    second = dispatcher.get("/api/incidents/", {"page_size": 2, "page": 2}).json()
    assert len(second["results"]) == 1
    assert second["next"] is None
    assert second["previous"]
    assert {i["id"] for i in body["results"] + second["results"]} == made
    # Newest first.
    assert body["results"][0]["id"] == max(made)


def test_page_size_is_capped_at_500(dispatcher):
    from dispatch.models import Incident
    from workflows.models import EventType

    et = EventType.objects.select_related("active_version").get(code="waterlogging")
    now = timezone.now()
    Incident.objects.bulk_create(
        [
            Incident(
                number=f"INC-19990101-{i:05d}", event_type=et, workflow_version=et.active_version, state="closed",
                severity=1, title=f"bulk {i}", source="api", state_entered_at=now,
            )
            for i in range(501)
        ]
    )
    body = dispatcher.get("/api/incidents/", {"page_size": 500}).json()
    assert body["count"] == 501
    assert len(body["results"]) == 500
    assert body["next"]
    capped = dispatcher.get("/api/incidents/", {"page_size": 5000}).json()
    assert len(capped["results"]) == 500
    default = dispatcher.get("/api/incidents/").json()
    assert len(default["results"]) == 50


@pytest.mark.parametrize("size", ["0", "-1", "0.5", "x", ""])
def test_page_size_that_is_not_a_positive_whole_number_is_refused(dispatcher, size):
    response = dispatcher.get("/api/incidents/", {"page_size": size})
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["page_size"]


@pytest.mark.parametrize("query", [{"state": ""}, {"district": "  "}, {"open": "maybe"}, {"open": ""}, {"page": ""}])
def test_blank_or_unknown_filter_values_are_refused_naming_the_parameter(dispatcher, query):
    response = dispatcher.get("/api/incidents/", query)
    assert response.status_code == 400
    assert list(response.json()["errors"]) == list(query)


@pytest.mark.parametrize("value, expected", [("true", {"open"}), ("false", {"closed"})])
def test_open_filter(dispatcher, report, value, expected):
    from dispatch.models import Incident

    made = report()
    Incident.objects.filter(pk=report()["id"]).update(state="closed")
    states = {"open" if i["state"] != "closed" else "closed"
              for i in dispatcher.get("/api/incidents/", {"open": value}).json()["results"]}
    assert states == expected and made
