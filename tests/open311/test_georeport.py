"""Open311 GeoReport v2 at /open311/v2/, field by field against the specification's documented examples."""

import json
import xml.etree.ElementTree as ET

import pytest
from django.utils.dateparse import parse_datetime

from tests.open311 import spec_examples as spec

pytestmark = pytest.mark.django_db

BASE = "/open311/v2"
REPORTER = ("San Zhang", "13812341234", "zhang@example.org", "San", "Zhang")


def kinds(value) -> set[str]:
    """The JSON kinds a value is (an integer is a number too)."""
    if value is None:
        return {"null"}
    if isinstance(value, bool):
        return {"boolean"}
    if isinstance(value, int):
        return {"integer", "number"}
    if isinstance(value, float):
        return {"number"}
    return {{str: "string", list: "array", dict: "object"}[type(value)]}


def assert_like(ours: dict, example: dict, types: dict, where: str):
    """The example's field names in the example's order, and each value of a kind the spec allows for it."""
    assert list(ours) == list(example), f"{where}: fields {list(ours)} != spec {list(example)}"
    for field, value in ours.items():
        assert kinds(value) & types[field], f"{where}.{field}: {value!r} is not {sorted(types[field])}"


# XML: the element of a list's items, by the list's element (the spec's response tables: "services ⇊ service ↴").
ITEM = {"services": "service", "service_requests": "request", "attributes": "attribute", "values": "value",
        "errors": "error"}


def _as_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip()


def assert_xml_is_json(element: ET.Element, value, where: str = ""):
    """The XML document and the JSON one say the same, element by element (the Spark convention the spec
    uses: a list container's items are an array, an empty element is null; whitespace around text aside)."""
    where = f"{where}/{element.tag}"
    if isinstance(value, list):
        assert [c.tag for c in element] == [ITEM[element.tag]] * len(value), where
        for child, item in zip(element, value, strict=True):
            assert_xml_is_json(child, item, where)
    elif isinstance(value, dict):
        assert [c.tag for c in element] == list(value), f"{where}: {[c.tag for c in element]} != {list(value)}"
        for child, item in zip(element, value.values(), strict=True):
            assert_xml_is_json(child, item, where)
    else:
        assert len(element) == 0, where
        assert (element.text or "").strip() == _as_text(value), f"{where}: {element.text!r} != {value!r}"


def parse_xml(response) -> ET.Element:
    assert response["Content-Type"] == "text/xml; charset=utf-8", response["Content-Type"]
    assert response.content.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    return ET.fromstring(response.content)


def assert_json(response, status=200):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json; charset=utf-8"
    return response.json()


def both(web, path, expect=200, **query):
    """The JSON and the XML of one resource, checked to say the same."""
    body = assert_json(web.get(f"{BASE}/{path}.json", query), expect)
    response = web.get(f"{BASE}/{path}.xml", query)
    assert response.status_code == expect
    root = parse_xml(response)
    assert_xml_is_json(root, body)
    return body, root


def assert_w3c(value: str):
    assert spec.W3C_DATETIME.match(value), value
    assert parse_datetime(value).utcoffset() is not None


# --- the spec's examples, and the renderer on them -----------------------------------------------------------

EXAMPLES = [  # (JSON, XML, the XML root)
    (spec.SERVICES_JSON, spec.SERVICES_XML, "services"),
    (spec.SERVICE_DEFINITION_JSON, spec.SERVICE_DEFINITION_XML, "service_definition"),
    (spec.POST_RESPONSE_JSON, spec.POST_RESPONSE_XML, "service_requests"),
    (spec.TOKEN_RESPONSE_JSON, spec.TOKEN_RESPONSE_XML, "service_requests"),
    (spec.REQUESTS_JSON, spec.REQUESTS_XML, "service_requests"),
    (spec.REQUEST_JSON, spec.REQUEST_XML, "service_requests"),
    (spec.ERRORS_JSON, spec.ERRORS_XML, "errors"),
]


@pytest.mark.parametrize(("json_text", "xml_text", "root"), EXAMPLES, ids=[e[2] + str(i) for i, e in enumerate(EXAMPLES)])
def test_the_spec_examples_agree_and_render_as_published(json_text, xml_text, root):
    """Each published JSON example is the Spark mapping of its XML one; our renderer, given the JSON example,
    writes the XML example (element names, nesting, order, text) and the JSON example back."""
    from dispatch.interop.open311.serializers import render

    document = spec.parse_json(json_text)
    published = ET.fromstring(xml_text.encode())
    assert published.tag == root
    assert_xml_is_json(published, document)
    rendered = parse_xml(render(document, fmt="xml", root=root))
    assert rendered.tag == root
    assert_xml_is_json(rendered, document)
    response = render(document, fmt="json", root=root)
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert json.loads(response.content) == document


def test_the_spec_examples_have_the_spec_types():
    """The type tables hold every field of the examples (the examples' numeric ids aside: see spec_examples)."""
    numeric_ids = {"service_request_id", "service_code", "address_id", "zipcode", "token", "key"}
    cases = [(spec.parse_json(spec.SERVICES_JSON), spec.SERVICE_TYPES),
             (spec.parse_json(spec.SERVICE_DEFINITION_JSON)["attributes"], spec.ATTRIBUTE_TYPES),
             (spec.parse_json(spec.POST_RESPONSE_JSON), spec.POST_RESPONSE_TYPES),
             (spec.parse_json(spec.TOKEN_RESPONSE_JSON), spec.POST_RESPONSE_TYPES),
             (spec.parse_json(spec.REQUESTS_JSON) + spec.parse_json(spec.REQUEST_JSON), spec.REQUEST_TYPES),
             (spec.parse_json(spec.ERRORS_JSON), spec.ERROR_TYPES)]
    for items, types in cases:
        for item in items:
            assert set(item) <= set(types)
            for field, value in item.items():
                assert kinds(value) & types[field] or (field in numeric_ids and kinds(value) & {"integer"}), field
    for item in spec.parse_json(spec.REQUESTS_JSON):
        for field in ("requested_datetime", "updated_datetime", "expected_datetime"):
            assert_w3c(item[field])


# --- services ------------------------------------------------------------------------------------------


def test_services_match_the_spec(web):
    body, root = both(web, "services")
    assert root.tag == "services"
    from workflows.models import EventType

    active = set(EventType.objects.filter(is_active=True, active_version__isnull=False).values_list("code", flat=True))
    assert {s["service_code"] for s in body} == active and len(body) == len(active)
    example = spec.parse_json(spec.SERVICES_JSON)[0]
    for service in body:
        assert_like(service, example, spec.SERVICE_TYPES, "services[]")
        assert service["type"] == "realtime" and service["metadata"] is False
    waterlogging = next(s for s in body if s["service_code"] == "waterlogging")
    assert waterlogging["service_name"] == "Waterlogging"
    assert waterlogging["description"].startswith("Standing water")
    assert "waterlogging" in waterlogging["keywords"] and waterlogging["group"] == "city_management"
    assert {s.findtext("metadata") for s in root} == {"false"}


def test_service_definition(web):
    body, root = both(web, "services/waterlogging")
    assert root.tag == "service_definition"
    assert list(body) == list(spec.parse_json(spec.SERVICE_DEFINITION_JSON))
    # Workflow definitions have no extra intake fields: every service asks for no attributes.
    assert body == {"service_code": "waterlogging", "attributes": []}
    assert [c.tag for c in root] == ["service_code", "attributes"] and len(root.find("attributes")) == 0


def test_unknown_service_is_404_in_the_spec_error_format(web):
    errors, root = both(web, "services/no_such_thing", expect=spec.STATUS_UNKNOWN_RESOURCE)
    assert root.tag == "errors"
    example = spec.parse_json(spec.ERRORS_JSON)[0]
    for error in errors:
        assert_like(error, example, spec.ERROR_TYPES, "errors[]")
    assert errors == [{"code": 404, "description": "Unknown service_code no_such_thing."}]


# --- posting a request -----------------------------------------------------------------------------------


def test_post_form_creates_an_open311_incident(post_request, web):
    from dispatch.models import Incident, TimelineEvent

    body = assert_json(post_request(), 201)
    assert len(body) == 1
    # GeoReport's fields exactly, plus the reporter's tracking token (issue 19: GET /track/<token>/).
    token = body[0].pop("tracking_token")
    assert isinstance(token, str) and len(token) >= 32
    page = web.get(f"/track/{token}/")  # the reporter's page, without signing in
    assert page.status_code == 200 and body[0]["service_request_id"] in page.content.decode()
    assert_like(body[0], spec.parse_json(spec.POST_RESPONSE_JSON)[0], spec.POST_RESPONSE_TYPES, "POST requests")
    # A realtime service: the service_request_id and no token; no service notice, no account.
    assert "token" not in body[0] and body[0]["service_notice"] is None and body[0]["account_id"] is None
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
    root = parse_xml(post_request("xml", **{"attribute[depth]": "40cm", "attribute[kinds][]": ["car", "bus"]}))
    assert root.tag == "service_requests"
    from dispatch.models import Incident

    number = root.findtext("request/service_request_id")
    token = root.findtext("request/tracking_token")
    assert token and len(token) >= 32
    assert_xml_is_json(root, [{"service_request_id": number, "service_notice": None, "account_id": None,
                               "tracking_token": token}])
    incident = Incident.objects.get(number=number)
    assert incident.open311.attributes == {"depth": "40cm", "kinds": ["car", "bus"]}


def test_post_the_spec_example_request(web, open311_key):
    """The spec's example POST body, as published but for our api_key and service_code."""
    from dispatch.models import Incident

    body = spec.POST_REQUEST_BODY.replace("api_key=xyz", f"api_key={open311_key}").replace(
        "service_code=001", "service_code=waterlogging")
    response = web.post(f"{BASE}/requests.xml", body,
                        content_type="application/x-www-form-urlencoded; charset=utf-8")
    assert response.status_code == 201, response.content
    incident = Incident.objects.get(number=parse_xml(response).findtext("request/service_request_id"))
    assert (incident.lat, incident.lon) == (37.76524078, -122.4212043)
    assert incident.address == "1234 5th street" and incident.reporter_name == "john smith"
    assert incident.open311.attributes == {"WHISPAWN": "123456", "WHISDORN": "COISL001"}
    assert incident.open311.media_url == "http://farm3.static.flickr.com/2002/2212426634_5ed477a060.jpg"


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
    ({"api_key": None}, 403, None),  # the spec: 403 for a wrong or missing api_key
    ({"api_key": ""}, 403, None),
    ({"api_key": "ldk_not-a-key"}, 403, None),
    ({"api_key": "some-other-token"}, 403, None),
    ({"service_code": None}, 400, "service_code"),  # "400 - service_code ... was not provided"
    ({"service_code": ""}, 400, "service_code"),
    ({"service_code": "no_such_thing"}, 404, None),  # "404 - service_code ... was not found"
    ({"lat": None, "long": None}, 400, "lat"),
    ({"lat": "", "long": ""}, 400, "lat"),
    ({"long": None}, 400, "long"),
    ({"lat": "north"}, 400, "lat"),
    ({"lat": None, "long": None, "address_id": "545483"}, 400, "address_id"),
    ({"phone": "call me"}, 400, "phone"),
    ({"media_url": "not a url"}, 400, "media_url"),
])
def test_post_errors(post_request, fields, status, field):
    from dispatch.models import Incident

    before = Incident.objects.count()
    response = post_request(**fields)
    errors = assert_json(response, status)
    example = spec.parse_json(spec.ERRORS_JSON)[0]
    for error in errors:
        assert_like(error, example, spec.ERROR_TYPES, "errors[]")
        assert error["code"] == status
    if field:
        assert any(e["description"].startswith(f"{field}:") for e in errors), errors
    if status == 403:
        missing = not fields["api_key"]
        assert errors == [{"code": 403, "description": "Missing api_key -- can't proceed with create_request." if missing
                           else "Invalid api_key received -- can't proceed with create_request."}]
    assert Incident.objects.count() == before


def test_empty_arguments_are_not_declared(post_request):
    """'Optional' arguments: passed empty is the same as not passed (lat/long empty, address_string given)."""
    body = assert_json(post_request(lat="", long="", address_string="Riverside Rd underpass", email=""), 201)
    from dispatch.models import Incident

    incident = Incident.objects.get(number=body[0]["service_request_id"])
    assert incident.lat is None and incident.address == "Riverside Rd underpass"


def test_post_error_in_xml(post_request):
    response = post_request("xml", api_key="ldk_wrong")
    assert response.status_code == 403
    root = parse_xml(response)
    # The spec's own example, element for element.
    assert_xml_is_json(root, spec.parse_json(spec.ERRORS_JSON))


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
    _assert_no_reporter_data(response)
    _assert_no_reporter_data(web.get(f"{BASE}/requests/{number}.xml"))
    body, root = both(web, f"requests/{number}")
    assert root.tag == "service_requests" and len(body) == 1
    request = body[0]
    assert_like(request, spec.parse_json(spec.REQUEST_JSON)[0], spec.REQUEST_TYPES, "requests[]")
    from dispatch.models import Incident

    incident = Incident.objects.get(number=number)
    assert request["service_request_id"] == number and request["status"] == "open"
    assert request["service_code"] == "waterlogging" and request["service_name"] == "Waterlogging"
    # Empty in XML, null in JSON, as in the spec's example.
    assert request["status_notes"] is None and request["service_notice"] is None
    assert request["address_id"] is None and request["zipcode"] is None
    assert root.findtext("request/status_notes") == "" and root.findtext("request/service_notice") == ""
    assert (request["lat"], request["long"]) == (31.21, 121.43)
    assert root.findtext("request/lat") == "31.21" and root.findtext("request/long") == "121.43"
    assert request["media_url"] == "https://example.org/a.jpg"
    for field in ("requested_datetime", "updated_datetime", "expected_datetime"):
        assert_w3c(request[field])
    assert incident.sla_due_at is not None
    assert parse_datetime(request["expected_datetime"]) == incident.sla_due_at.replace(microsecond=0)
    assert parse_datetime(request["requested_datetime"]) == incident.created_at.replace(microsecond=0)


def test_get_requests_lists_and_filters(post_request, web, api_as):
    first = post_request().json()[0]["service_request_id"]
    second = post_request(service_code="road_collapse").json()[0]["service_request_id"]
    response = web.get(f"{BASE}/requests.json")
    _assert_no_reporter_data(response)
    body, root = both(web, "requests")
    assert root.tag == "service_requests"
    example = spec.parse_json(spec.REQUESTS_JSON)[0]
    for request in body:
        assert_like(request, example, spec.REQUEST_TYPES, "requests[]")
    assert [r["service_request_id"] for r in body][:2] == [second, first]  # newest first
    by_code, _root = both(web, "requests", service_code="road_collapse")
    assert [r["service_request_id"] for r in by_code] == [second]
    # "can be declared multiple times, comma delimited"
    both_codes = web.get(f"{BASE}/requests.json?service_code=road_collapse&service_code=waterlogging").json()
    assert {r["service_request_id"] for r in both_codes} == {first, second}
    # service_request_id "overrides all other arguments" (even ones that would be invalid)
    by_id, _root = both(web, "requests", service_request_id=f"{first},{second}", service_code="nothing",
                        status="pending", start_date="yesterday")
    assert {r["service_request_id"] for r in by_id} == {first, second}

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
    every = [r["service_request_id"] for r in web.get(f"{BASE}/requests.json", {"status": "open,closed"}).json()]
    assert {first, second} <= set(every)
    assert web.get(f"{BASE}/requests/{first}.json").json()[0]["status"] == "closed"


def test_date_window(post_request, web):
    number = post_request().json()[0]["service_request_id"]
    assert web.get(f"{BASE}/requests.json", {"start_date": "2000-01-01T00:00:00Z", "end_date": "2000-02-01T00:00:00Z"}).json() == []
    now = web.get(f"{BASE}/requests/{number}.json").json()[0]["requested_datetime"]
    from datetime import timedelta

    later = (parse_datetime(now) + timedelta(seconds=1)).isoformat()
    around = web.get(f"{BASE}/requests.json", {"start_date": now, "end_date": later}).json()
    assert [r["service_request_id"] for r in around] == [number]
    # The spec's sample URL form (UTC, "Z"), and an offset.
    utc = parse_datetime(now).astimezone(__import__("datetime").UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert [r["service_request_id"] for r in web.get(f"{BASE}/requests.json", {"start_date": utc}).json()] == [number]
    too_wide = web.get(f"{BASE}/requests.json", {"start_date": "2000-01-01T00:00:00Z", "end_date": "2001-01-01T00:00:00Z"})
    assert too_wide.status_code == 400 and too_wide.json()[0]["code"] == 400


def test_default_window_is_90_days_and_at_most_1000(post_request, web, monkeypatch):
    """'Default query limit is a span of 90 days or first 1000 requests returned, whichever is smallest.'"""
    from datetime import timedelta

    from django.utils import timezone

    from dispatch.interop.open311 import services as service
    from dispatch.models import Incident

    assert service.DEFAULT_WINDOW == timedelta(days=spec.DEFAULT_DAYS) and service.MAX_REQUESTS == spec.MAX_REQUESTS
    old, recent, new = (post_request().json()[0]["service_request_id"] for _ in range(3))
    Incident.objects.filter(number=old).update(created_at=timezone.now() - timedelta(days=100))
    Incident.objects.filter(number=recent).update(created_at=timezone.now() - timedelta(days=89))
    listed = [r["service_request_id"] for r in web.get(f"{BASE}/requests.json").json()]
    assert listed == [new, recent]
    # end_date alone: the 90 days before it.
    end = (timezone.now() - timedelta(days=2)).isoformat()
    assert [r["service_request_id"] for r in web.get(f"{BASE}/requests.json", {"end_date": end}).json()] == [recent]
    start = (timezone.now() - timedelta(days=101)).isoformat()
    end = (timezone.now() - timedelta(days=99)).isoformat()
    assert [r["service_request_id"] for r in web.get(f"{BASE}/requests.json",
                                                     {"start_date": start, "end_date": end}).json()] == [old]
    monkeypatch.setattr(service, "MAX_REQUESTS", 1)
    assert [r["service_request_id"] for r in web.get(f"{BASE}/requests.json").json()] == [new]


@pytest.mark.parametrize("query", [{"status": "pending"}, {"start_date": "yesterday"}, {"end_date": "2020-13-01"}])
def test_bad_query_is_400(web, query):
    errors = assert_json(web.get(f"{BASE}/requests.json", query), 400)
    assert errors[0]["code"] == 400


def test_console_incidents_are_not_public(reported_incident, web):
    assert web.get(f"{BASE}/requests/{reported_incident['number']}.json").status_code == 404
    assert reported_incident["number"] not in web.get(f"{BASE}/requests.json").content.decode()


def test_unknown_request_is_404(web):
    errors, root = both(web, "requests/INC-20000101-00001", expect=spec.STATUS_UNKNOWN_RESOURCE)
    assert root.tag == "errors"
    assert errors == [{"code": 404, "description": "Unknown service_request_id INC-20000101-00001."}]


def test_other_methods_are_405_in_the_spec_format(web):
    response = web.client.put(f"{BASE}/services.json")
    assert assert_json(response, 405) == [{"code": 405, "description": "Method PUT not allowed."}]
    assert response["Allow"] == "GET, HEAD, OPTIONS"
    response = web.client.delete(f"{BASE}/requests.json")
    assert assert_json(response, 405)[0]["code"] == 405 and "POST" in response["Allow"]
    response = web.client.post(f"{BASE}/services.xml")
    assert response.status_code == 405 and parse_xml(response).findtext("error/code") == "405"


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


def test_status_notes_are_the_latest_public_note(post_request, web, api_as):
    number = post_request().json()[0]["service_request_id"]
    from dispatch.models import Incident

    incident_id = Incident.objects.get(number=number).pk
    dispatcher = api_as("dispatcher")
    assert dispatcher.post(f"/api/incidents/{incident_id}/notes/", {"text": "Internal: pump truck 2 sent"}).status_code == 201
    assert web.get(f"{BASE}/requests/{number}.json").json()[0]["status_notes"] is None  # internal notes stay inside
    published = dispatcher.post(f"/api/incidents/{incident_id}/notes/", {"text": "Crews on site; avoid the underpass.",
                                                                          "public": True})
    assert published.status_code == 201 and published.json()["data"] == {
        "text": "Crews on site; avoid the underpass.", "public": True}
    assert web.get(f"{BASE}/requests/{number}.json").json()[0]["status_notes"] == "Crews on site; avoid the underpass."
    assert parse_xml(web.get(f"{BASE}/requests/{number}.xml")).findtext("request/status_notes") == (
        "Crews on site; avoid the underpass.")
    listed = {r["service_request_id"]: r for r in web.get(f"{BASE}/requests.json").json()}
    assert listed[number]["status_notes"] == "Crews on site; avoid the underpass."


def test_only_the_command_center_publishes_notes(report, api_as):
    incident = report()
    assert "city_management" in {o["department"] for o in incident["work_orders"]}
    staff = api_as("city_management_staff")
    refused = staff.post(f"/api/incidents/{incident['id']}/notes/", {"text": "We are there", "public": True})
    assert refused.status_code == 403
    assert staff.post(f"/api/incidents/{incident['id']}/notes/", {"text": "We are there"}).status_code == 201
    assert api_as("supervisor").post(f"/api/incidents/{incident['id']}/notes/",
                                     {"text": "Road reopened", "public": True}).status_code == 201
