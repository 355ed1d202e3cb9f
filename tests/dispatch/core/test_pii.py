"""Reporter data: encrypted at rest under each incident's own data key, wrapped by rotatable master keys, masked for all but dispatchers, confidential
reports visible only to the dispatcher who took them, supervisors reveal with a reason on the timeline."""

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection

from dispatch.core import crypto
from dispatch.core.crypto import reset_keys
from dispatch.models import Incident, LiveEvent, TimelineEvent, User

PHONE = "13812341234"


def _raw(incident_id: int) -> tuple[str, str, str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT reporter_name, reporter_phone, pii_key FROM dispatch_incident WHERE id = %s", [incident_id])
        return cursor.fetchone()


def test_reporter_data_is_encrypted_at_rest_under_the_incidents_own_key(api_as, reported_incident, waterlogging_payload):
    name, phone, wrapped = _raw(reported_incident["id"])
    assert phone.startswith("enc2:") and PHONE not in phone and "张三" not in name
    assert wrapped and PHONE not in wrapped
    incident = Incident.objects.get(pk=reported_incident["id"])
    assert (incident.reporter_name, incident.reporter_phone) == ("张三", PHONE)
    # another report by the same person: another key; neither key opens the other's values
    other = api_as("dispatcher").post("/api/incidents/", waterlogging_payload).json()
    _name, other_phone, other_wrapped = _raw(other["id"])
    assert other_wrapped != wrapped and other_phone != phone
    with pytest.raises(ValueError, match="data key"):
        crypto.unseal(crypto.data_key_open(other_wrapped), phone)
    assert crypto.unseal(crypto.data_key_open(wrapped), phone) == PHONE


def test_a_report_without_a_reporter_has_no_key(api_as, waterlogging_payload):
    payload = {k: v for k, v in waterlogging_payload.items() if k != "reporter"}
    incident = api_as("dispatcher").post("/api/incidents/", payload).json()
    assert _raw(incident["id"]) == ("", "", "")


@pytest.mark.parametrize(
    ("username", "phone"),
    [("dispatcher", PHONE), ("supervisor", "138****1234"), ("city_management_staff", "138****1234")],
)
def test_only_dispatchers_see_contact_data(api_as, reported_incident, username, phone):
    body = api_as(username).get(f"/api/incidents/{reported_incident['id']}/").json()
    assert body["reporter"]["phone"] == phone


def test_pushes_never_carry_reporter_data(reported_incident):
    for payload in LiveEvent.objects.values_list("payload", flat=True):
        assert PHONE not in str(payload) and "张三" not in str(payload)


def test_a_confidential_report_is_visible_only_to_the_dispatcher_who_took_it(api_as, waterlogging_payload):
    User.objects.create(username="dispatcher2", role="dispatcher")
    payload = {**waterlogging_payload, "reporter": {"name": "李四", "phone": PHONE, "confidential": True}}
    incident = api_as("dispatcher").post("/api/incidents/", payload).json()
    mine = api_as("dispatcher").get(f"/api/incidents/{incident['id']}/").json()["reporter"]
    other = api_as("dispatcher2").get(f"/api/incidents/{incident['id']}/").json()["reporter"]
    assert mine == {"name": "李四", "phone": PHONE, "confidential": True, "erased_at": None}
    assert other["phone"] == "138****1234" and other["name"] == "李*"


def test_a_supervisor_reveals_with_a_reason_that_the_timeline_keeps(api_as, reported_incident):
    path = f"/api/incidents/{reported_incident['id']}/reveal-reporter/"
    assert api_as("supervisor").post(path, {"reason": ""}).status_code == 400
    assert api_as("dispatcher").post(path, {"reason": "call back"}).status_code == 403
    assert api_as("city_management_staff").post(path, {"reason": "call back"}).status_code == 403
    response = api_as("supervisor").post(path, {"reason": "caller to confirm the flooding has receded"})
    assert response.status_code == 200 and response.json() == {"name": "张三", "phone": PHONE}
    row = TimelineEvent.objects.get(incident_id=reported_incident["id"], kind="pii.revealed")
    assert row.actor_label == "supervisor" and row.data["reason"].startswith("caller to confirm")
    assert PHONE not in str(row.data)


def test_keys_rotate(reported_incident, settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    try:
        settings.PII_KEYS = [old]
        reset_keys()
        call_command("rotate_pii_keys", stdout=open("/dev/null", "w"))  # noqa: SIM115 - under the old key
        settings.PII_KEYS = [new, old]
        reset_keys()
        call_command("rotate_pii_keys", stdout=open("/dev/null", "w"))  # noqa: SIM115 - now under the new one
        settings.PII_KEYS = [new]  # the old key is gone; the data still reads
        reset_keys()
        assert Incident.objects.get(pk=reported_incident["id"]).reporter_phone == PHONE
        settings.PII_KEYS = [old]  # and its data key really is wrapped by the new key now
        reset_keys()
        with pytest.raises(ValueError, match="cannot be decrypted"):
            Incident.objects.get(pk=reported_incident["id"]).reporter_phone  # noqa: B018 - reading is the test
    finally:
        reset_keys()


def test_verify_timeline_names_the_first_broken_row(reported_incident, capsys):
    call_command("verify_timeline", "--incident", str(reported_incident["id"]))
    assert "every hash chain is intact" in capsys.readouterr().out
    with connection.cursor() as cursor:  # tamper below the model: drop the append-only guard first
        if connection.vendor == "sqlite":
            cursor.execute("DROP TRIGGER dispatch_timeline_no_update")
        else:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no deferred checks pending before ALTER TABLE
            cursor.execute("ALTER TABLE dispatch_timelineevent DISABLE TRIGGER dispatch_timeline_no_update")
        cursor.execute("UPDATE dispatch_timelineevent SET data = '{\"tampered\": true}' "
                       "WHERE incident_id = %s AND seq = 3", [reported_incident["id"]])
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="1 of 1 timelines are broken"):
        call_command("verify_timeline", "--incident", str(reported_incident["id"]))
    assert "BROKEN at seq 3" in capsys.readouterr().out


def test_the_request_fingerprint_is_keyed(settings):
    """A request's fingerprint (``intake_hash``, idempotency records) is an HMAC under a key from SECRET_KEY: a copy of
    the database alone cannot test guesses of the phone it was computed over."""
    import hashlib
    import json

    from dispatch.core import idempotency

    data = {"title": "x", "reporter": {"name": "张三", "phone": PHONE}}
    plain = hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode())
    keyed = idempotency.request_fingerprint(data)
    assert keyed != plain.hexdigest() and keyed == idempotency.request_fingerprint(dict(data))
    settings.SECRET_KEY = "another secret key, another fingerprint"
    idempotency._fingerprint_key.cache_clear()
    try:
        assert idempotency.request_fingerprint(data) != keyed
    finally:
        idempotency._fingerprint_key.cache_clear()


def test_values_from_before_data_keys_still_read_and_move_under_one(reported_incident):
    """``enc1:`` values (under the master keys, before data keys) read as before; ``rotate_pii_keys`` (like migration
    0020) moves them under a data key of their own."""
    pk = reported_incident["id"]
    Incident.objects.filter(pk=pk).update(
        pii_key="", reporter_name_sealed=crypto.encrypt("张三"), reporter_phone_sealed=crypto.encrypt(PHONE)
    )
    assert _raw(pk)[1].startswith("enc1:") and Incident.objects.get(pk=pk).reporter_phone == PHONE
    call_command("rotate_pii_keys", stdout=open("/dev/null", "w"))  # noqa: SIM115
    name, phone, wrapped = _raw(pk)
    assert phone.startswith("enc2:") and name.startswith("enc2:") and wrapped
    assert (Incident.objects.get(pk=pk).reporter_name, Incident.objects.get(pk=pk).reporter_phone) == ("张三", PHONE)
