"""Open311 GeoReport v2 at /open311/v2/, field by field against the specification's documented examples."""

import json
import xml.etree.ElementTree as ET

import pytest

from tests.open311 import spec_examples as spec

pytestmark = pytest.mark.django_db

BASE = "/open311/v2"
REPORTER = ("San Zhang", "13812341234", "zhang@example.org", "San", "Zhang")


def kind(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return {str: "string", list: "array", dict: "object"}[type(value)]


# Where our type may differ from the example's: ids are strings (the spec's field descriptions call them
# "unique ID" strings; its examples print numbers), and values the spec's examples fill but we may not have.
ID_FIELDS = {"service_request_id", "service_code"}
MAY_BE_NULL = {"expected_datetime", "address_id", "zipcode", "lat", "long", "account_id", "datatype_description"}
TEXT_OR_NULL = {"description", "agency_responsible", "service_notice", "status_notes"}


def assert_like(ours: dict, example: dict, where: str):
    """Same field names in the same order, and the example's type for each (see the allowances above)."""
    assert list(ours) == list(example), f"{where}: fields {list(ours)} != spec {list(example)}"
    for field, value in example.items():
        got = kind(ours[field])
        if field in ID_FIELDS:
            assert got == "string", (where, field, ours[field])
        elif field in TEXT_OR_NULL:
            assert got in ("string", "null"), (where, field, ours[field])
        elif field in MAY_BE_NULL and got == "null":
            continue
        else:
            assert got == kind(value), f"{where}.{field}: {got} ({ours[field]!r}) != spec {kind(value)} ({value!r})"


def xml_shape(element: ET.Element):
    """(tag, children's shapes): repeated siblings collapse to one, so one example item matches many."""
    children, seen = [], set()
    for child in element:
        if child.tag not in seen:
            seen.add(child.tag)
            children.append(xml_shape(child))
    return element.tag, children


def parse_xml(response) -> ET.Element:
    assert response["Content-Type"].startswith("text/xml"), response["Content-Type"]
    assert response.content.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    return ET.fromstring(response.content)


def assert_json(response, status=200):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json; charset=utf-8"
    return response.json()


# --- services ------------------------------------------------------------------------------------------


def test_services_json_matches_the_spec(web):
    body = assert_json(web.get(f"{BASE}/services.json"))
    from workflows.models import EventType

    active = set(EventType.objects.filter(is_active=True, active_version__isnull=False).values_list("code", flat=True))
    assert {s["service_code"] for s in body} == active
    example = json.loads(spec.SERVICES_JSON)[0]
    for service in body:
        assert_like(service, example, "services[]")
        assert service["type"] == "realtime" and service["metadata"] is False
    waterlogging = next(s for s in body if s["service_code"] == "waterlogging")
    assert waterlogging["service_name"] == "Waterlogging"
    assert waterlogging["description"].startswith("Standing water")
    assert "waterlogging" in waterlogging["keywords"] and waterlogging["group"] == "city_management"


def test_services_xml_matches_the_spec(web):
    root = parse_xml(web.get(f"{BASE}/services.xml"))
    assert xml_shape(root) == xml_shape(ET.fromstring(spec.SERVICES_XML.encode()))
    codes = [s.findtext("service_code") for s in root.findall("service")]
    assert "waterlogging" in codes and len(codes) == len(set(codes))
    assert {s.findtext("metadata") for s in root} == {"false"}


def test_service_definition(web):
    body = assert_json(web.get(f"{BASE}/services/waterlogging.json"))
    example = json.loads(spec.SERVICE_DEFINITION_JSON)
    assert list(body) == list(example)
    # Workflow definitions have no extra intake fields: every service asks for no attributes.
    assert body == {"service_code": "waterlogging", "attributes": []}
    root = parse_xml(web.get(f"{BASE}/services/waterlogging.xml"))
    assert root.tag == "service_definition" and [c.tag for c in root] == ["service_code", "attributes"]
    assert root.findtext("service_code") == "waterlogging" and len(root.find("attributes")) == 0


def test_unknown_service_is_404_in_the_spec_error_format(web):
    response = web.get(f"{BASE}/services/no_such_thing.json")
    errors = assert_json(response, 404)
    assert_like(errors[0], json.loads(spec.ERRORS_JSON)[0], "errors[]")
    assert errors[0]["code"] == 404
    root = parse_xml(web.get(f"{BASE}/services/no_such_thing.xml"))
    assert xml_shape(root) == xml_shape(ET.fromstring(spec.ERRORS_XML.encode()))
    assert root.findtext("error/code") == "404"


# --- posting a request -----------------------------------------------------------------------------------


def test_post_form_creates_an_open311_incident(post_request):
    from dispatch.models import Incident, TimelineEvent

    body = assert_json(post_request(), 201)
    assert len(body) == 1
    assert_like(body[0], json.loads(spec.POST_RESPONSE_JSON)[0], "POST requests")
    assert body[0]["account_id"] is None
    incident = Incident.objects.get(number=body[0]["service_request_id"])
    assert incident.source == "open311" and incident.event_type.code == "waterlogging"
    assert incident.state == "reported"  # waterlogging's first state for anything but the console
    assert incident.title == "Underpass flooded" and incident.description.endswith("40 cm deep")
    assert (incident.lat, incident.lon) == (31.21, 121.43)
    assert (incident.reporter_name, incident.reporter_phone) == ("San Zhang", "13812341234")
    assert incident.open311.media_url == "https://example.org/a.jpg"
    first = TimelineEvent.objects.get(incident=incident, seq=1)
    assert first.kind == "incident.created" and first.actor_label == "api.citizen-app"


def test_reporter_data_is_encrypted_at_rest(post_request):
    from django.db import connection

    number = post_request().json()[0]["service_request_id"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT reporter_name, reporter_phone FROM dispatch_incident WHERE number = %s", [number])
        name, phone = cursor.fetchone()
    assert "Zhang" not in name and "13812341234" not in phone


def test_post_xml_and_attributes(post_request):
    root = parse_xml(post_request("xml", **{"attribute[depth]": "40cm"}))
    assert xml_shape(root) == xml_shape(ET.fromstring(spec.POST_RESPONSE_XML.encode()))
    assert root.find("request/account_id").text is None
    from dispatch.models import Incident

    incident = Incident.objects.get(number=root.findtext("request/service_request_id"))
    assert incident.open311.attributes == {"depth": "40cm"}


def test_post_json_body_and_address_only(web, open311_key):
    response = web.post(f"{BASE}/requests.json", {"api_key": open311_key, "service_code": "waterlogging",
                                                   "address_string": "Riverside Rd underpass"},
                        content_type="application/json")
    body = assert_json(response, 201)
    from dispatch.models import Incident

    incident = Incident.objects.get(number=body[0]["service_request_id"])
    assert incident.lat is None and incident.address == "Riverside Rd underpass"
    assert incident.title == "Waterlogging"  # no description: the service's name


@pytest.mark.parametrize(("fields", "status", "field"), [
    ({"api_key": None}, 400, "api_key"),
    ({"api_key": "ldk_not-a-key"}, 403, None),
    ({"api_key": "some-other-token"}, 403, None),
    ({"service_code": None}, 400, "service_code"),
    ({"service_code": "no_such_thing"}, 404, None),
    ({"lat": None, "long": None}, 400, "lat"),
    ({"long": None}, 400, "long"),
    ({"lat": "north"}, 400, "lat"),
    ({"phone": "call me"}, 400, "phone"),
    ({"media_url": "not a url"}, 400, "media_url"),
])
def test_post_errors(post_request, fields, status, field):
    from dispatch.models import Incident

    before = Incident.objects.count()
    response = post_request(**fields)
    errors = assert_json(response, status)
    example = json.loads(spec.ERRORS_JSON)[0]
    for error in errors:
        assert_like(error, example, "errors[]")
        assert error["code"] == status
    if field:
        assert any(e["description"].startswith(f"{field}:") for e in errors), errors
    if status == 403:
        assert errors == [{"code": 403, "description": "Invalid api_key received -- can't proceed with create_request."}]
    assert Incident.objects.count() == before


def test_post_error_in_xml(post_request):
    root = parse_xml(post_request("xml", api_key="ldk_wrong"))
    assert xml_shape(root) == xml_shape(ET.fromstring(spec.ERRORS_XML.encode()))
    assert root.findtext("error/code") == "403"


def test_only_active_open311_keys_post(post_request, make_api_client, web):
    from dispatch.models import ApiClient

    _client, department_key = make_api_client("cm-system", kind="department", department="city_management")
    assert post_request(api_key=department_key).status_code == 403
    ApiClient.objects.filter(name="citizen-app").update(active=False)
    assert post_request().status_code == 403


def test_idempotency_key_on_post(post_request, web, open311_key):
    data = {"api_key": open311_key, "service_code": "waterlogging", "address_string": "Here"}
    one = web.post(f"{BASE}/requests.json", data, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k1")
    two = web.post(f"{BASE}/requests.json", data, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k1")
    assert one.json() == two.json()
    other = web.post(f"{BASE}/requests.json", {**data, "address_string": "There"}, content_type="application/json",
                     HTTP_IDEMPOTENCY_KEY="k1")
    assert other.status_code == 409 and other.json()[0]["code"] == 409


# --- reading requests --------------------------------------------------------------------------------------


def _assert_no_reporter_data(response):
    text = response.content.decode()
    for value in REPORTER:
        assert value not in text, f"reporter data {value!r} in a public answer"


def test_get_request_matches_the_spec(post_request, web):
    number = post_request().json()[0]["service_request_id"]
    response = web.get(f"{BASE}/requests/{number}.json")
    body = assert_json(response)
    _assert_no_reporter_data(response)
    assert len(body) == 1
    request = body[0]
    assert_like(request, json.loads(spec.REQUESTS_JSON)[0], "requests[]")
    from dispatch.models import Incident

    incident = Incident.objects.get(number=number)
    assert request["service_request_id"] == number and request["status"] == "open"
    assert request["service_code"] == "waterlogging" and request["service_name"] == "Waterlogging"
    assert request["status_notes"] == "" and request["service_notice"] == ""
    assert (request["lat"], request["long"]) == (31.21, 121.43)
    assert request["media_url"] == "https://example.org/a.jpg"
    assert request["expected_datetime"] is not None and incident.sla_due_at is not None
    from django.utils.dateparse import parse_datetime

    assert parse_datetime(request["expected_datetime"]) == incident.sla_due_at.replace(microsecond=0)
    assert parse_datetime(request["requested_datetime"]).utcoffset() is not None

    root = parse_xml(web.get(f"{BASE}/requests/{number}.xml"))
    assert xml_shape(root) == xml_shape(ET.fromstring(spec.REQUESTS_XML.encode()))
    assert root.findtext("request/service_request_id") == number and root.findtext("request/lat") == "31.21"


def test_get_requests_lists_and_filters(post_request, web, api_as):
    first = post_request().json()[0]["service_request_id"]
    second = post_request(service_code="road_collapse").json()[0]["service_request_id"]
    response = web.get(f"{BASE}/requests.json")
    _assert_no_reporter_data(response)
    listed = [r["service_request_id"] for r in assert_json(response)]
    assert listed[:2] == [second, first]  # newest first
    assert [r["service_request_id"] for r in web.get(f"{BASE}/requests.json", {"service_code": "road_collapse"}).json()] == [second]
    by_id = web.get(f"{BASE}/requests.json", {"service_request_id": f"{first},{second}", "service_code": "nothing"})
    assert {r["service_request_id"] for r in by_id.json()} == {first, second}  # ids override other arguments

    # The dispatcher triages and then cancels the first: it is closed now, and its agencies are listed.
    from dispatch.models import Incident

    incident = Incident.objects.get(number=first)
    dispatcher = api_as("dispatcher")
    assert dispatcher.post(f"/api/incidents/{incident.pk}/transitions/", {"transition": "triage"}).status_code == 200
    triaged = web.get(f"{BASE}/requests/{first}.json").json()[0]
    assert len(triaged["agency_responsible"].split(", ")) == 3, triaged["agency_responsible"]
    assert dispatcher.post(f"/api/incidents/{incident.pk}/transitions/",
                           {"transition": "cancel", "note": "duplicate"}).status_code == 200
    closed = [r["service_request_id"] for r in web.get(f"{BASE}/requests.json", {"status": "closed"}).json()]
    opened = [r["service_request_id"] for r in web.get(f"{BASE}/requests.json", {"status": "open"}).json()]
    assert first in closed and first not in opened and second in opened
    assert web.get(f"{BASE}/requests/{first}.json").json()[0]["status"] == "closed"

    root = parse_xml(web.get(f"{BASE}/requests.xml"))
    assert root.tag == "service_requests" and {r.tag for r in root} == {"request"}


def test_date_window(post_request, web):
    number = post_request().json()[0]["service_request_id"]
    assert web.get(f"{BASE}/requests.json", {"start_date": "2000-01-01T00:00:00Z", "end_date": "2000-02-01T00:00:00Z"}).json() == []
    now = web.get(f"{BASE}/requests/{number}.json").json()[0]["requested_datetime"]
    from datetime import timedelta

    from django.utils.dateparse import parse_datetime

    later = (parse_datetime(now) + timedelta(seconds=1)).isoformat()
    around = web.get(f"{BASE}/requests.json", {"start_date": now, "end_date": later}).json()
    assert [r["service_request_id"] for r in around] == [number]
    too_wide = web.get(f"{BASE}/requests.json", {"start_date": "2000-01-01T00:00:00Z", "end_date": "2001-01-01T00:00:00Z"})
    assert too_wide.status_code == 400 and too_wide.json()[0]["code"] == 400


@pytest.mark.parametrize("query", [{"status": "pending"}, {"start_date": "yesterday"}, {"end_date": "2020-13-01"}])
def test_bad_query_is_400(web, query):
    errors = assert_json(web.get(f"{BASE}/requests.json", query), 400)
    assert errors[0]["code"] == 400


def test_console_incidents_are_not_public(reported_incident, web):
    assert web.get(f"{BASE}/requests/{reported_incident['number']}.json").status_code == 404
    assert reported_incident["number"] not in web.get(f"{BASE}/requests.json").content.decode()


def test_unknown_request_is_404(web):
    assert web.get(f"{BASE}/requests/INC-20000101-00001.json").json() == [
        {"code": 404, "description": "Unknown service_request_id INC-20000101-00001."}
    ]
    assert parse_xml(web.get(f"{BASE}/requests/INC-20000101-00001.xml")).findtext("error/code") == "404"


def test_other_methods_are_405(web):
    assert web.client.put(f"{BASE}/services.json").status_code == 405
    assert web.client.delete(f"{BASE}/requests.json").status_code == 405
    assert web.client.post(f"{BASE}/services.xml").status_code == 405


def test_rate_limited_in_the_spec_format(web, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "anon": "2/min"}
    for _ in range(2):
        assert web.get(f"{BASE}/services.json").status_code == 200
    response = web.get(f"{BASE}/services.json")
    assert response.status_code == 429 and int(response["Retry-After"]) >= 1
    assert response.json()[0]["code"] == 429


def test_csrf_does_not_apply(open311_key):
    """Citizen apps post without cookies or CSRF tokens; the api_key is what authenticates."""
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    response = client.post(f"{BASE}/requests.json", {"api_key": open311_key, "service_code": "waterlogging",
                                                      "address_string": "Here"})
    assert response.status_code == 201, response.content


def test_unknown_path_is_a_spec_error(web):
    assert web.get(f"{BASE}/nothing-here.json").json() == [{"code": 404, "description": "Not found."}]
    assert parse_xml(web.get(f"{BASE}/nothing-here.xml")).findtext("error/code") == "404"
