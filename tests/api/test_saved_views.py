"""Saved views of the console board, kept on the server per user (``/api/me/views/``)."""

import pytest

pytestmark = pytest.mark.django_db


def test_a_user_saves_lists_replaces_and_deletes_their_own_views(api_as):
    dispatcher = api_as("dispatcher")
    made = dispatcher.post("/api/me/views/", {"page": "console", "name": "Flooding in Riverside",
                                              "query": "event_type=waterlogging&district=riverside&sort=-sla"})
    assert made.status_code == 201, made.data
    assert made.data["name"] == "Flooding in Riverside"
    assert made.data["query"] == "event_type=waterlogging&district=riverside&sort=-sla"
    again = dispatcher.post("/api/me/views/", {"page": "console", "name": "Flooding in Riverside", "query": "q=tunnel"})
    assert again.status_code == 200 and again.data["id"] == made.data["id"] and again.data["query"] == "q=tunnel"
    listed = dispatcher.get("/api/me/views/", {"page": "console"})
    assert [(v["name"], v["query"]) for v in listed.data] == [("Flooding in Riverside", "q=tunnel")]

    # Another user sees none of them and cannot delete them.
    supervisor = api_as("supervisor")
    assert supervisor.get("/api/me/views/").data == []
    assert supervisor.delete(f"/api/me/views/{made.data['id']}/").status_code == 404
    assert dispatcher.delete(f"/api/me/views/{made.data['id']}/").status_code == 204
    assert dispatcher.get("/api/me/views/").data == []


@pytest.mark.parametrize(("body", "field"), [
    ({"page": "console", "name": "x", "query": "hack=1&q=a"}, "query"),
    ({"page": "nowhere", "name": "x", "query": ""}, "page"),
    ({"page": "console", "name": "   ", "query": ""}, "name"),
    ({"page": "console", "name": 5, "query": ""}, "name"),
    ({"page": "console", "name": "x" * 81, "query": ""}, "name"),
])
def test_bad_views_are_refused_naming_the_field_and_nothing_is_kept(api_as, body, field):
    dispatcher = api_as("dispatcher")
    response = dispatcher.post("/api/me/views/", body)
    assert response.status_code == 400, response.data
    assert field in response.data["errors"], response.data
    assert dispatcher.get("/api/me/views/").data == []
