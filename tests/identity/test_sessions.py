"""Page sessions end when idle and at their longest (issue 21, item 3): SESSION_IDLE_MINUTES (30) after the last
activity, SESSION_MAX_HOURS (12) after signing in; background requests (X-Liandong-Background) do not count as
activity; the person lands on the login page told why; pages get the deadlines; a socket of the session closes."""

import json
from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

BACKGROUND = {"HTTP_X_LIANDONG_BACKGROUND": "1"}


def signed_in(username="dispatcher") -> Client:
    browser = Client()
    response = browser.post("/login/", {"username": username, "password": PASSWORD})
    assert response.status_code == 302, response.content[:500]
    return browser


def test_an_idle_session_ends_and_the_login_page_says_why(caplog):
    import logging

    caplog.set_level(logging.INFO, logger="liandong.audit")
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        browser = signed_in()
    with time_machine.travel(start + timedelta(minutes=29), tick=False):
        assert browser.get("/console/").status_code == 200  # activity: the idle clock starts again
    with time_machine.travel(start + timedelta(minutes=29 + 30, seconds=1), tick=False):
        page = browser.get("/console/", follow=True)
        assert page.redirect_chain[-1][0].startswith("/login/")
        assert "signed out after 30 minutes without activity" in page.content.decode()
        assert browser.get("/api/event-types/").status_code == 401
    ended = [r for r in caplog.records if getattr(r, "event", None) == "auth.session_ended"]
    assert [(r.username, r.reason) for r in ended] == [("dispatcher", "idle")]


def test_background_requests_do_not_keep_a_session_alive():
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        browser = signed_in()
    for minutes in (10, 20, 29):
        with time_machine.travel(start + timedelta(minutes=minutes), tick=False):
            assert browser.get("/api/event-types/", **BACKGROUND).status_code == 200
    with time_machine.travel(start + timedelta(minutes=30, seconds=1), tick=False):
        assert browser.get("/api/event-types/", **BACKGROUND).status_code == 401


def test_the_pages_activity_call_keeps_it_alive_and_says_the_deadlines():
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        browser = signed_in()
        first = browser.get("/api/auth/session/", **BACKGROUND).json()
        assert first["idle_seconds"] == 30 * 60 and first["warn_seconds"] == 120
    with time_machine.travel(start + timedelta(minutes=25), tick=False):
        answer = browser.post("/api/auth/session/")
        assert answer.status_code == 200
        assert answer.json()["idle_expires_at"] == (start + timedelta(minutes=55)).replace(microsecond=0).isoformat()
        assert answer.json()["expires_at"] == first["expires_at"]
    with time_machine.travel(start + timedelta(minutes=54), tick=False):
        assert browser.get("/api/event-types/", **BACKGROUND).status_code == 200


def test_a_session_ends_at_its_longest_however_active():
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        browser = signed_in("supervisor")
    for minutes in range(25, 12 * 60, 25):  # active every 25 minutes
        with time_machine.travel(start + timedelta(minutes=minutes), tick=False):
            assert browser.get("/console/").status_code == 200, minutes
    with time_machine.travel(start + timedelta(hours=12, seconds=1), tick=False):
        page = browser.get("/console/", follow=True)
        assert "longest allowed time" in page.content.decode()


def test_pages_carry_the_deadlines_and_tokens_have_no_session(api_as):
    import json
    import re

    start = timezone.now()
    with time_machine.travel(start, tick=False):
        html = signed_in().get("/console/").content.decode()
    boot = json.loads(re.search(r'<script id="liandong-boot" type="application/json">(.*?)</script>', html, re.S)[1])
    assert boot["session"]["idle_expires_at"] == (start + timedelta(minutes=30)).replace(microsecond=0).isoformat()
    assert api_as("dispatcher").client.get("/api/auth/session/").status_code == 404


def test_the_sign_out_and_the_warning_are_said_in_chinese():
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        browser = signed_in()
    with time_machine.travel(start + timedelta(minutes=31), tick=False):
        page = browser.get("/console/", follow=True, HTTP_ACCEPT_LANGUAGE="zh-hans")
        assert "您已在 30 分钟无操作后退出登录" in page.content.decode()
    catalog = Client().get("/jsi18n/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    for text in ("保持登录", "由于无操作，您将在 %s 后退出登录。", "退出登录前未提交的内容已恢复到表单中。"):
        assert json.dumps(text)[1:-1] in catalog, text  # the catalog writes them as \\u escapes
