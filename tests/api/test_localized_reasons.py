"""What the system writes on the timeline reads in the reader's language (issue 14, item 6).

Rows are hash-chained and never rewritten, so the system stores its reasons as English text plus a code and
parameters; ``GET /api/incidents/<id>/timeline/`` adds ``reason_text`` and ``actor_display`` in the request's
language (``Accept-Language``). Rows written before codes existed are recognised by their text.

Expected texts are built here from the literal message ids through the catalog (``zh()``): they are Chinese as soon
as the catalog has the message, and the tests still hold before it does. Where the catalog already has a message
(the incident-ended reason, the API client kinds), the Chinese is asserted as written.
"""

from urllib.parse import urlencode

import pytest
from django.db import transaction
from django.test import Client
from django.utils import translation

from departments.models import WorkOrder
from dispatch.core.timeline import timeline_append, timeline_verify
from dispatch.models import Incident
from dispatch.services.clients import api_client_add
from tests.api.conftest import order_for
from tests.conftest import Api

pytestmark = pytest.mark.django_db

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}


def zh(message: str, plural: str | None = None, params: dict | None = None) -> str:
    """``message`` (``plural`` when ``params["n"]`` says so) as the zh-Hans catalog gives it, with ``params``."""
    with translation.override("zh-hans"):
        text = translation.ngettext(message, plural, params["n"]) if plural else translation.gettext(message)
    return text % params if params else text


def timeline(api, incident_id: int, headers: dict) -> list[dict]:
    response = api.get(f"/api/incidents/{incident_id}/timeline/", **headers)
    assert response.status_code == 200, response.content
    return response.json()


def rows_of(rows: list[dict], kind: str) -> list[dict]:
    found = [row for row in rows if row["kind"] == kind]
    assert found, f"no {kind} row in {[row['kind'] for row in rows]}"
    return found


# --- routing reasons and the routing actor ---------------------------------------------------------------------


def test_a_routing_reason_and_the_routing_actor_read_back_in_chinese(dispatcher, reported_incident):
    english = rows_of(timeline(dispatcher, reported_incident["id"], EN), "work_order.offered")
    chinese = rows_of(timeline(dispatcher, reported_incident["id"], ZH), "work_order.offered")
    for en, cn in zip(english, chinese, strict=True):
        data = cn["data"]
        assert data == en["data"]  # what is stored (and hashed) does not depend on the reader
        assert data["reason_code"] in {"unit_nearest", "unit_distance_unknown"}
        params = data["reason_params"]
        assert data["reason"].startswith(f"{params['unit']}: available, ")  # the English text, as before codes
        assert en["reason_text"] == data["reason"]
        if data["reason_code"] == "unit_nearest":
            expected = zh("%(unit)s: available, %(km).1f km, %(n)d open order",
                          "%(unit)s: available, %(km).1f km, %(n)d open orders", params)
        else:
            expected = zh("%(unit)s: available, distance unknown, %(n)d open order",
                          "%(unit)s: available, distance unknown, %(n)d open orders", params)
        assert cn["reason_text"] == expected
        assert (en["actor"], cn["actor"]) == ("system", "system")  # the stored label stays
        assert en["actor_display"] == "Routing (automatic)"
        assert cn["actor_display"] == zh("Routing (automatic)")
    assert timeline_verify(reported_incident["id"]) is None


def test_queued_needs_location_reads_back_in_chinese(dispatcher, report):
    incident = report(location=None)
    queued = rows_of(timeline(dispatcher, incident["id"], ZH), "work_order.queued")
    assert len(queued) == 3
    message = "no location yet: waiting for a dispatcher to set the incident's location or district"
    for row in queued:
        assert (row["data"]["reason"], row["data"]["reason_code"]) == (message, "waiting_for_location")
        assert row["reason_text"] == zh(message)
        assert row["actor_display"] == zh("Routing (automatic)")


def test_a_reassignment_keeps_the_leads_own_words(api_as, reported_incident, act):
    order = order_for(reported_incident, "city_management")
    target = next(u for u in ("CM-01", "CM-02", "CM-03") if u != order["unit"])
    response = act("city_management_lead", order["id"], "reassign", unit=target, reason="closer crew")
    assert response.status_code == 200, response.content
    offered = rows_of(timeline(api_as("dispatcher"), reported_incident["id"], ZH), "work_order.offered")[-1]
    params = {"unit": target, "user": "city_management_lead", "why": "closer crew"}
    assert offered["data"]["reason"] == f"{target}: reassigned by city_management_lead (closer crew)"
    assert offered["reason_text"] == zh("%(unit)s: reassigned by %(user)s (%(why)s)", params=params)
    assert offered["actor_display"] == "city_management_lead"  # a person is named as they are
    reassigned = rows_of(timeline(api_as("dispatcher"), reported_incident["id"], ZH), "work_order.reassigned")[-1]
    assert reassigned["reason_text"] == "closer crew"  # a person's reason, as written


def test_a_decline_reason_is_shown_as_written(dispatcher, reported_incident, act):
    order = order_for(reported_incident, "city_management")
    assert act("city_management_staff", order["id"], "decline", reason="泵车故障").status_code == 200
    declined = rows_of(timeline(dispatcher, reported_incident["id"], EN), "work_order.declined")[-1]
    assert (declined["reason_text"], declined["actor_display"]) == ("泵车故障", "city_management_staff")


# --- reasons whose message the catalog already has -------------------------------------------------------------


def test_orders_cancelled_with_the_incident_say_why_in_each_language(dispatcher, transition, reported_incident):
    response = transition("dispatcher", reported_incident["id"], "cancel", note="duplicate of another report")
    assert response.status_code == 200, response.content
    english = rows_of(timeline(dispatcher, reported_incident["id"], EN), "work_order.cancelled")
    chinese = rows_of(timeline(dispatcher, reported_incident["id"], ZH), "work_order.cancelled")
    assert len(english) == 3
    for en, cn in zip(english, chinese, strict=True):
        assert en["data"]["reason"] == "Incident Cancelled."  # stored in English whatever the dispatcher's language
        assert en["data"]["reason_params"] == {"state": {"en": "Cancelled", "zh": "已撤销"}}
        assert en["reason_text"] == "Incident Cancelled."
        assert cn["reason_text"] == "事件已进入 已撤销 状态。"
        assert cn["actor_display"] == "dispatcher"


def test_a_transition_fired_from_a_chinese_page_stores_english(dispatcher, reported_incident):
    response = dispatcher.post(f"/api/incidents/{reported_incident['id']}/transitions/",
                               {"transition": "cancel", "note": "重复上报"}, **ZH)
    assert response.status_code == 200, response.content
    cancelled = rows_of(timeline(dispatcher, reported_incident["id"], EN), "work_order.cancelled")
    assert {row["data"]["reason"] for row in cancelled} == {"Incident Cancelled."}


# --- API clients -------------------------------------------------------------------------------------------------


def test_a_department_system_is_named_with_its_kind(dispatcher, reported_incident, django_capture_on_commit_callbacks):
    from rest_framework.test import APIClient

    _client, key = api_client_add(name="cm-system", kind="department", department_code="city_management")
    system = APIClient()
    system.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    order = order_for(reported_incident, "city_management")
    accepted = Api(system, django_capture_on_commit_callbacks).post(
        f"/api/work-orders/{order['id']}/actions/", {"action": "accept"})
    assert accepted.status_code == 200, accepted.content
    en = rows_of(timeline(dispatcher, reported_incident["id"], EN), "work_order.accepted")[-1]
    cn = rows_of(timeline(dispatcher, reported_incident["id"], ZH), "work_order.accepted")[-1]
    assert en["actor"] == cn["actor"] == "api.cm-system"
    assert en["actor_display"] == "cm-system (Department system)"
    assert cn["actor_display"] == zh("%(name)s (%(kind)s)", params={"name": "cm-system", "kind": "部门系统"})
    assert "部门系统" in cn["actor_display"]


def test_an_open311_app_is_named_with_its_kind(dispatcher, django_capture_on_commit_callbacks):
    _client, key = api_client_add(name="citizen-app", kind="open311")
    body = urlencode({"api_key": key, "service_code": "waterlogging", "lat": "31.21", "long": "121.43",
                      "description": "Underpass flooded"})
    with django_capture_on_commit_callbacks(execute=True):
        response = Client().post("/open311/v2/requests.json", body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 201, response.content
    incident = Incident.objects.get(number=response.json()[0]["service_request_id"])
    created = rows_of(timeline(dispatcher, incident.pk, ZH), "incident.created")[0]
    assert created["actor"] == "api.citizen-app" and "Open311 客户端" in created["actor_display"]
    assert created["reason_text"] is None  # the row gives no reason
    english = rows_of(timeline(dispatcher, incident.pk, EN), "incident.created")[0]
    assert english["actor_display"] == "citizen-app (Open311 client)"


# --- rows from before codes --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "stored", "expected_en", "expected_zh"),
    [
        ("work_order.expired", "not acknowledged within 180 s", "not acknowledged within 180 s",
         lambda: zh("not acknowledged within %(seconds)d s", params={"seconds": 180})),
        ("work_order.offered", "CM-02: available, 1.3 km, 1 open order", "CM-02: available, 1.3 km, 1 open order",
         lambda: zh("%(unit)s: available, %(km).1f km, %(n)d open order",
                    "%(unit)s: available, %(km).1f km, %(n)d open orders", {"unit": "CM-02", "km": 1.3, "n": 1})),
        ("work_order.queued", "no available unit in jurisdiction (after excluding units already tried); waiting in "
         "the department queue", "no available unit in jurisdiction (after excluding units already tried); waiting "
         "in the department queue", lambda: zh("no available unit in jurisdiction (after excluding units already "
                                                "tried); waiting in the department queue")),
        # Stored in Chinese by a transition fired from a Chinese page, before reasons were stored in English.
        ("work_order.cancelled", "事件已进入 closed 状态。", "Incident closed.", lambda: "事件已进入 closed 状态。"),
        ("work_order.cancelled", "Stood down: incident verifying.", "Stood down: incident verifying.",
         lambda: "解除出动：事件已进入 verifying 状态。"),
        ("work_order.declined", "busy", "busy", lambda: "busy"),
    ],
)
def test_older_rows_are_recognised_by_their_text(dispatcher, reported_incident, kind, stored, expected_en, expected_zh):
    incident = Incident.objects.get(pk=reported_incident["id"])
    order = WorkOrder.objects.filter(incident=incident).first()
    with transaction.atomic():  # written as the writer wrote rows before codes: the text only
        Incident.objects.select_for_update().filter(pk=incident.pk).values_list("pk").get()
        row = timeline_append(incident=incident, kind=kind, work_order=order,
                              data={"work_order": order.pk, "department": order.department.code, "reason": stored})
    read = {lang: next(r for r in timeline(dispatcher, incident.pk, headers) if r["seq"] == row.seq)
            for lang, headers in (("en", EN), ("zh", ZH))}
    assert read["en"]["data"] == read["zh"]["data"] == row.data
    assert read["en"]["reason_text"] == expected_en
    assert read["zh"]["reason_text"] == expected_zh()
    assert timeline_verify(incident.pk) is None
