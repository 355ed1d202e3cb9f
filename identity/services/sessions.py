"""How long a signed-in page session lasts (issue 21, item 3): it ends ``SESSION_IDLE_MINUTES`` after its person's
last activity, and ``SESSION_MAX_HOURS`` after signing in however active. One home for the rule: the middleware
applies it to every request, the live warden to every socket of a session, the pages' script shows its deadlines.

Activity is what a person does: opening a page, sending a form, and the pages' own ``POST /api/auth/session/`` when
someone clicks or types (``liandong/session.js``). What pages do by themselves (reading the API, polling, the offline
queue's replays) carries ``X-Liandong-Background: 1`` and does not count. The last activity is written to the session
at most once a minute.

Why not Django's own sliding expiry (``SESSION_SAVE_EVERY_REQUEST`` with ``SESSION_COOKIE_AGE``): it counts every
request as activity, a console's background reads included, so a screen left alone would never be signed out, and
it writes the session row on every request; and it has no absolute lifetime. ``SESSION_COOKIE_AGE`` is still set,
to ``SESSION_MAX_HOURS``, as the outer bound of the cookie and the row."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.contrib.auth import SESSION_KEY, logout
from django.utils import timezone

audit_log = logging.getLogger("liandong.audit")

STARTED = "liandong.started"  # epoch seconds of signing in
ACTIVE = "liandong.active"  # epoch seconds of the last activity (to the minute)
BACKGROUND_HEADER = "HTTP_X_LIANDONG_BACKGROUND"
ACTIVITY_GRANULARITY = 60  # seconds: at most one session write a minute (a tenth of the idle time if that is less)


@dataclass(frozen=True)
class Lifetime:
    idle_expires_at: datetime
    expires_at: datetime

    @property
    def ends_at(self) -> datetime:
        return min(self.idle_expires_at, self.expires_at)

    def ended(self, now: datetime) -> str | None:
        """``"idle"``, ``"absolute"`` or None (still on)."""
        if now >= self.expires_at:
            return "absolute"
        if now >= self.idle_expires_at:
            return "idle"
        return None

    def as_json(self) -> dict:
        return {"idle_expires_at": self.idle_expires_at.isoformat(), "expires_at": self.expires_at.isoformat(),
                "idle_seconds": int(idle_timeout().total_seconds()), "warn_seconds": settings.SESSION_WARN_SECONDS}


def idle_timeout() -> timedelta:
    return timedelta(minutes=settings.SESSION_IDLE_MINUTES)


def lifetime(session) -> Lifetime | None:
    """The deadlines of a signed-in session (a mapping: a ``SessionBase`` or a decoded session), or None."""
    if SESSION_KEY not in session or STARTED not in session:
        return None
    started = datetime.fromtimestamp(session[STARTED], tz=UTC)
    active = datetime.fromtimestamp(session.get(ACTIVE, session[STARTED]), tz=UTC)
    return Lifetime(idle_expires_at=active + idle_timeout(),
                    expires_at=started + timedelta(hours=settings.SESSION_MAX_HOURS))


def session_started(session, now: datetime | None = None) -> None:
    """Signing in (or a session from before these rules, seen for the first time) starts both clocks."""
    stamp = int((now or timezone.now()).timestamp())
    session[STARTED] = session[ACTIVE] = stamp


def session_touch(session, now: datetime) -> None:
    """Activity: the idle clock starts again (written at most once a minute: the session is a database row)."""
    stamp = int(now.timestamp())
    if stamp - session.get(ACTIVE, 0) >= min(ACTIVITY_GRANULARITY, idle_timeout().total_seconds() / 10):
        session[ACTIVE] = stamp


def session_check(request) -> str | None:
    """For a request signed in by its session: end the session if its time is up (-> why: ``idle`` or
    ``absolute``), else count the request as activity unless it is background. None when it goes on."""
    session = getattr(request, "session", None)
    if session is None or SESSION_KEY not in session:
        return None
    now = timezone.now()
    if STARTED not in session:
        session_started(session, now)
        return None
    ended = lifetime(session).ended(now)
    if ended is not None:
        user = request.user
        logout(request)
        audit_log.info("auth.session_ended", extra={"event": "auth.session_ended", "reason": ended,
                                                    "username": getattr(user, "username", None)})
        return ended
    if request.META.get(BACKGROUND_HEADER) != "1":
        session_touch(session, now)
    return None
