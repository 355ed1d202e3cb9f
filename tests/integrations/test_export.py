"""Streamed exports: incidents and timelines, JSONL and CSV, scoped and masked by role, constant queries."""

import csv
import io
import json

from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.conftest import WATERLOGGING


def _body(response) -> str:
    assert response.streaming, "exports must stream"
    return b"".join(response.streaming_content).decode("utf-8")


def _queries(api, path, params) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as ctx:
        response = api.get(path, params)
        assert response.status_code == 200, response.content
        text = _body(response)
    return len(ctx.captured_queries), text


def test_incident_export_jsonl_and_csv(dispatcher, api_as, report):
    made = [report(title=f"Export {i}") for i in range(3)]
    ids = {m["id"] for m in made}
    response = dispatcher.get("/api/incidents/export/", {"format": "jsonl"})
    assert response["Content-Type"].startswith("application/x-ndjson")
    rows = [json.loads(line) for line in _body(response).splitlines()]
    mine = [r for r in rows if r["id"] in ids]
    assert len(mine) == 3 and mine[0]["reporter_phone"] == WATERLOGGING["reporter"]["phone"]

    supervisor_rows = [json.loads(x) for x in _body(api_as("supervisor").get("/api/incidents/export/")).splitlines()]
    assert {r["reporter_phone"] for r in supervisor_rows if r["id"] in ids} == {"138****1234"}

    response = dispatcher.get("/api/incidents/export/", {"format": "csv"})
    assert response["Content-Type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(_body(response).lstrip("\ufeff"))))
    assert list(table[0])[:3] == ["id", "number", "event_type"]
    assert {int(r["id"]) for r in table} >= ids

    other = [json.loads(x) for x in _body(api_as("environment_staff").get("/api/incidents/export/")).splitlines()]
    assert not ids & {r["id"] for r in other}
    own = [json.loads(x) for x in _body(api_as("city_management_staff").get("/api/incidents/export/")).splitlines()]
    assert ids <= {r["id"] for r in own} and {r["reporter_phone"] for r in own if r["id"] in ids} == {"138****1234"}


def test_export_window_and_bad_parameters(dispatcher, report):
    incident = report()
    after = incident["created_at"]
    rows = _body(dispatcher.get("/api/incidents/export/", {"created_after": after})).splitlines()
    assert incident["id"] in {json.loads(r)["id"] for r in rows}
    assert _body(dispatcher.get("/api/incidents/export/", {"created_before": "2000-01-01T00:00:00+08:00"})) == ""
    assert dispatcher.get("/api/incidents/export/", {"format": "xml"}).status_code == 400
    assert dispatcher.get("/api/incidents/export/", {"created_after": "yesterday"}).status_code == 400


def test_timeline_export_scoped_like_the_timeline(dispatcher, api_as, report, act):
    incident = report()
    rows = [json.loads(x) for x in _body(dispatcher.get("/api/timeline/export/")).splitlines()]
    kinds = {r["kind"] for r in rows if r["incident"] == incident["id"]}
    assert {"incident.created", "work_order.offered"} <= kinds
    staff = [json.loads(x) for x in _body(api_as("city_management_staff").get("/api/timeline/export/")).splitlines()]
    departments = {r["data"].get("department") for r in staff if r["kind"].startswith("work_order.")}
    assert departments == {"city_management"}
    table = list(csv.reader(io.StringIO(_body(dispatcher.get("/api/timeline/export/", {"format": "csv"})).lstrip("\ufeff"))))
    assert table[0] == ["incident", "number", "seq", "at", "kind", "actor", "data", "hash"]


def test_query_count_does_not_grow_with_rows(dispatcher, report):
    report()
    few_q, few = _queries(dispatcher, "/api/incidents/export/", {"format": "csv"})
    tl_few_q, tl_few = _queries(dispatcher, "/api/timeline/export/", {"format": "jsonl"})
    for i in range(12):
        report(title=f"More {i}")
    many_q, many = _queries(dispatcher, "/api/incidents/export/", {"format": "csv"})
    tl_many_q, tl_many = _queries(dispatcher, "/api/timeline/export/", {"format": "jsonl"})
    assert len(many.splitlines()) == len(few.splitlines()) + 12
    assert len(tl_many.splitlines()) > len(tl_few.splitlines())
    assert many_q == few_q and tl_many_q == tl_few_q, (few_q, many_q, tl_few_q, tl_many_q)
    print(f"\nexport: {len(many.splitlines()) - 1} incidents in {many_q} queries, "
          f"{len(tl_many.splitlines())} timeline rows in {tl_many_q} queries")
