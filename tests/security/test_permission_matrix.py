"""Permission matrix: every endpoint x method x persona (own / other department) -> the expected status.

The endpoints come from the URL configuration (``django.urls.get_resolver()`` walked recursively), not
from this file. ``RULES`` below declares, for each (URL name, method), the status each persona must get;
an endpoint or a method that the code routes without a row in ``RULES`` fails
``test_every_endpoint_is_declared`` and its own ``...-UNDECLARED`` matrix case, and a row whose endpoint
is no longer routed fails ``test_no_stale_declarations``.

Expected statuses come from ../shared/contract/API.md: on /api/ no credentials -> 401, credentials
without the right -> 403, an object outside the caller's department -> 404 (staff and leads only, for
work orders, the incidents behind them and the department's units); pages send anonymous visitors to
/login/ (302) and answer 403 / 404 by the same rules.

Personas and the object relation: every object endpoint is called on an object of ``city_management``:
the ``reported_incident`` (a routed waterlogging incident with work orders for city_management,
traffic_police and transit), its city_management work order, or a city_management unit. So
``staff_own`` / ``lead_own`` are city_management's staff and lead, and ``staff_other`` / ``lead_other``
are environment's, a department with no work on that incident.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from tests.conftest import PASSWORD, WATERLOGGING


def _photo(persona: str) -> dict:
    """A multipart upload (attachments/): a small PNG, a fresh file object for each call."""
    import io

    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8), (0, 90, 200)).save(out, "PNG")
    return {"file": SimpleUploadedFile("probe.png", out.getvalue(), content_type="image/png")}

# --------------------------------------------------------------------------------------------------
# Personas
# --------------------------------------------------------------------------------------------------

OWN, OTHER = "city_management", "environment"
PERSONAS = ("anonymous", "dispatcher", "supervisor", "admin", "staff_own", "lead_own", "staff_other", "lead_other")
USERNAMES = {
    "anonymous": None, "dispatcher": "dispatcher", "supervisor": "supervisor", "admin": "admin",
    "staff_own": f"{OWN}_staff", "lead_own": f"{OWN}_lead", "staff_other": f"{OTHER}_staff", "lead_other": f"{OTHER}_lead",
}
OTHER_DEPARTMENT = {"staff_other", "lead_other"}

# --------------------------------------------------------------------------------------------------
# The walk over the URL configuration
# --------------------------------------------------------------------------------------------------

# Prefixes left out of the matrix, each for a stated reason. Their own guard is still asserted by
# ``test_excluded_prefixes_keep_their_guard``. (Static files are served by WhiteNoise middleware, not by
# a URL pattern, so the walk never sees them.)
EXCLUDED_PREFIXES = {
    "admin/": "Django admin: guarded by admin.site (is_staff, its own login page), not part of the API contract",
    "i18n/": "language switch (set_language): public on purpose, stores only the visitor's language choice",
    "jsi18n/": "JavaScript translation catalogue: public on purpose, static UI strings only",
}
UNSAFE_OR_READ = ("GET", "POST", "PUT", "PATCH", "DELETE")  # HEAD mirrors GET; OPTIONS: see test_options_*


@dataclass(frozen=True)
class Endpoint:
    name: str | None
    route: str                  # the full pattern text, e.g. "api/^incidents/(?P<pk>\d+)/$"
    methods: tuple[str, ...]
    view: str
    class_based: bool           # False: a plain function view (no method restriction in code)
    alias: bool                 # a DRF format-suffix variant (".json") of a named route

    @property
    def kind(self) -> str:
        return "api" if self.route.startswith("api/") else "page"


def _view_methods(callback) -> tuple[tuple[str, ...], str, bool]:
    """The methods a view answers (HEAD and OPTIONS aside), its dotted name, and whether it is class-based."""
    cls = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    actions = getattr(callback, "actions", None)
    if cls is not None:
        allowed = {m.lower() for m in getattr(cls, "http_method_names", ())}
        if actions:  # a DRF viewset route: exactly the methods the router mapped for this URL
            methods = {m.upper() for m in actions if m in allowed}
        else:  # an APIView or a Django class-based view: the handlers it defines
            methods = {m.upper() for m in allowed if m not in ("head", "options") and hasattr(cls, m)}
        return tuple(sorted(methods)), f"{cls.__module__}.{cls.__qualname__}", True
    # A plain function view answers every method; pages and probes are read with GET, so GET is what is
    # declared for them (test_undeclared_methods_are_refused covers the class-based views only).
    return ("GET",), f"{callback.__module__}.{callback.__qualname__}", False


def _walk(resolver: URLResolver, prefix: str = "", namespace: str | None = None):
    for pattern in resolver.url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            ns = namespace
            if pattern.namespace:
                ns = f"{namespace}:{pattern.namespace}" if namespace else pattern.namespace
            yield from _walk(pattern, route, ns)
        elif isinstance(pattern, URLPattern):
            methods, view, class_based = _view_methods(pattern.callback)
            name = f"{namespace}:{pattern.name}" if namespace and pattern.name else pattern.name
            yield Endpoint(name=name, route=route, methods=methods, view=view, class_based=class_based,
                           alias="(?P<format>" in route)


ALL_ENDPOINTS = list(_walk(get_resolver()))


def _excluded(endpoint: Endpoint) -> str | None:
    return next((why for prefix, why in EXCLUDED_PREFIXES.items() if endpoint.route.startswith(prefix)), None)


ENDPOINTS = [e for e in ALL_ENDPOINTS if not _excluded(e) and not e.alias]
ALIASES = [e for e in ALL_ENDPOINTS if not _excluded(e) and e.alias]

# --------------------------------------------------------------------------------------------------
# The declarations
# --------------------------------------------------------------------------------------------------

LOGIN = (302, "/login/")      # a redirect: (status, the Location's path)
HOME = (302, "/")
CONSOLE = (302, "/console/")
INBOX = (302, "/inbox/")


@dataclass(frozen=True)
class Rule:
    name: str
    method: str
    # statuses in PERSONAS order: anonymous, dispatcher, supervisor, admin, staff_own, lead_own, staff_other, lead_other
    expect: tuple
    obj: str | None = None        # the object the URL names: incident, work_order, unit, department, event_type,
    #                               incident_number (the incident, named by its number)
    body: object = None           # a dict, or a callable(persona) -> dict
    listing: str | None = None    # a list: the object must be listed exactly for those who may see it
    reporter_clear: tuple | None = None  # checked when set: who gets the reporter's contact data in clear
    why: str = ""

    def expected(self, persona: str):
        return self.expect[PERSONAS.index(persona)]


def _own_credentials(persona: str) -> dict:
    return {"username": USERNAMES[persona] or "dispatcher", "password": PASSWORD}


def _new_workflow(persona: str) -> dict:
    """A valid definition of a new event type (waterlogging's, renamed): admin publishes version 1 -> 201."""
    from workflows.definition import load_yaml

    text = (Path(__file__).resolve().parents[2] / "workflows" / "definitions" / "waterlogging.yaml").read_text("utf-8")
    return {**load_yaml(text), "code": "matrix_probe"}


def _new_plan(persona: str) -> dict:
    """A valid new response plan (the demo rainstorm plan, renamed): admin publishes version 1 -> 201."""
    from plans.definition import load_yaml

    text = (Path(__file__).resolve().parents[2] / "plans" / "definitions" / "rainstorm.yaml").read_text("utf-8")
    return {**load_yaml(text), "code": "matrix_probe_plan"}


def _merge_target(persona: str) -> dict:
    """Another open waterlogging report at the same place, to merge the probe's incident into."""
    from rest_framework.test import APIClient

    from dispatch.models import User

    api = APIClient()
    api.force_authenticate(User.objects.get(username="dispatcher"))
    other = api.post("/api/incidents/", {**WATERLOGGING, "title": "matrix merge target"}, format="json")
    assert other.status_code == 201, other.content
    return {"into": other.json()["id"], "note": "permission matrix probe"}


def _dry_run(persona: str) -> dict:
    """A draft with no rule at all, replayed over the last day -> 200 for an admin."""
    now = timezone.now()
    return {"rules": [], "from": (now - timezone.timedelta(days=1)).isoformat(), "to": now.isoformat()}


CANCEL = {"transition": "cancel", "note": "permission matrix probe"}  # from responding; dispatcher, supervisor


def _open311_request(persona: str) -> dict:
    """A valid GeoReport v2 request with a fresh Open311 client's api_key (the key, not the session, counts)."""
    from dispatch.services.clients import api_client_add

    _client, key = api_client_add(name=f"matrix-{persona}", kind="open311")
    return {"api_key": key, "service_code": "waterlogging", "address_string": "permission matrix probe"}


OPEN311_PUBLIC = "GeoReport v2 reads are public by the spec (no key); they never carry reporter data"
OPEN311_CONSOLE = ("only requests that came in through Open311 are public: the console-reported incident is 404 for "
                   "everyone, a session grants nothing here")

_RULES = [
    # ---- /api/: authentication and tokens ---------------------------------------------------------------
    #                                                anon disp sup  adm  s_own l_own s_oth l_oth
    Rule("api-token", "POST",                       (200, 200, 200, 200, 200, 200, 200, 200), body=_own_credentials,
         why="public: exchanges the caller's own valid credentials (anonymous: the dispatcher's) for a token"),
    Rule("ws-ticket", "POST",                       (401, 200, 200, 200, 200, 200, 200, 200),
         why="any signed-in user; the stream itself checks the right on connect"),
    Rule("api-logout", "POST",                      (401, 204, 204, 204, 204, 204, 204, 204),
         why="any signed-in user ends their own token (or session)"),
    Rule("api-tokens", "GET",                       (401, 200, 200, 200, 200, 200, 200, 200),
         why="a user's own tokens only (identity.services.tokens.tokens_live)"),
    Rule("api-tokens", "DELETE",                    (401, 204, 204, 204, 204, 204, 204, 204),
         why="a user revokes their own tokens only"),
    Rule("api-session", "GET",                      (401, 404, 404, 404, 404, 404, 404, 404),
         why="a page session's deadlines: the matrix calls /api/ with tokens, which have none (tests/identity)"),
    Rule("api-session", "POST",                     (401, 404, 404, 404, 404, 404, 404, 404),
         why="a page session's activity: none with a token (tests/identity/test_sessions.py)"),
    Rule("api-token-detail", "DELETE",              (401, 204, 404, 404, 404, 404, 404, 404), obj="device_token",
         why="the dispatcher's token: only its owner revokes it; to anyone else it does not exist"),
    # ---- /api/: catalogue, workflows, OpenAPI ---------------------------------------------------------
    Rule("console-figures", "GET",                  (401, 200, 200, 200, 403, 403, 403, 403),
         why="command center only (dispatcher, supervisor, admin)"),
    Rule("event-types", "GET",                      (401, 200, 200, 200, 200, 200, 200, 200)),
    Rule("workflow-versions", "GET",                (401, 200, 200, 200, 200, 200, 200, 200), obj="event_type"),
    Rule("workflow-publish", "POST",                (401, 403, 403, 201, 403, 403, 403, 403), body=_new_workflow,
         why="admin only; a valid new definition -> 201"),
    Rule("plan-list", "GET",                        (401, 200, 200, 200, 200, 200, 200, 200),
         why="every signed-in user reads the response plans"),
    Rule("plan-list", "POST",                       (401, 403, 403, 201, 403, 403, 403, 403), body=_new_plan,
         why="admin only; a valid new plan -> 201"),
    Rule("plan-activate", "POST",                   (401, 201, 201, 201, 403, 403, 403, 403), obj="plan",
         body={"level": "III", "districts": ["riverside"], "reason": "permission matrix probe"},
         why="the command center activates response plans (dispatchers, supervisors; admins too)"),
    Rule("activation-list", "GET",                  (401, 200, 200, 200, 200, 200, 200, 200),
         why="every signed-in user sees the plans in force and their tasks (no personal data)"),
    Rule("activation-detail", "GET",                (401, 200, 200, 200, 200, 200, 200, 200), obj="activation"),
    Rule("activation-acknowledge", "POST",          (401, 404, 404, 404, 403, 200, 403, 200), obj="activation",
         why="the lead of a department with a task (level III: both departments have one); staff 403; no "
             "department, no task: 404"),
    Rule("activation-end", "POST",                  (401, 200, 200, 200, 403, 403, 403, 403), obj="activation",
         body={"reason": "permission matrix probe"}, why="the command center ends an activation"),
    Rule("cap-inbound", "GET",                      (401, 200, 200, 200, 403, 403, 403, 403),
         why="the warnings received, matched or not: the command center"),
    Rule("cap-inbound", "POST",                     (401, 403, 403, 400, 403, 403, 403, 403),
         why="a CAP source's key (tests/plans/test_cap_inbound.py) or an admin; the probe's JSON body is not CAP 1.2 "
             "-> 400 naming the document"),
    Rule("major-event-list", "GET",                 (401, 200, 200, 200, 403, 403, 403, 403),
         why="the command center sees major events"),
    Rule("major-event-list", "POST",                (401, 201, 201, 403, 403, 403, 403, 403),
         body={"title": "permission matrix probe", "incidents": [], "commander": "dispatcher"},
         why="dispatchers and supervisors open major events (admins configure, they do not command)"),
    Rule("major-event-detail", "GET",               (401, 200, 200, 200, 403, 403, 403, 403), obj="major_event"),
    Rule("major-event-incidents", "POST",           (401, 200, 200, 403, 403, 403, 403, 403), obj="major_event",
         body={"add": [], "remove": []}),
    Rule("major-event-handoff", "POST",             (401, 200, 200, 403, 403, 403, 403, 403), obj="major_event",
         body={"commander": "supervisor", "note": "permission matrix probe"}),
    Rule("major-event-close", "POST",               (401, 200, 200, 403, 403, 403, 403, 403), obj="major_event",
         body={"note": "permission matrix probe"}, why="an empty major event closes at once"),
    Rule("districts", "GET",                        (401, 200, 200, 200, 200, 200, 200, 200)),
    Rule("routing-dry-run", "POST",                 (401, 403, 403, 200, 403, 403, 403, 403), body=_dry_run,
         why="admins (who edit routing rules and publish definitions) try drafts on past incidents; others 403 before "
             "the body is read"),
    Rule("routing-dry-run", "GET",                  (401, 403, 403, 200, 403, 403, 403, 403),
         why="the current rules as a draft to start from: admins, as the dry-run"),
    Rule("routing-suggestions", "GET",              (401, 403, 403, 200, 403, 403, 403, 403),
         why="the rules upheld returns suggest, with drafts of every routing rule: admins, as the dry-run they feed"),
    # ---- citizens' feedback and reopen requests (public/, issue 19) -------------------------------------------
    Rule("public-feedback", "POST",                 (404, 404, 404, 404, 404, 404, 404, 404),
         body={"token": "permission-matrix-probe", "satisfied": True},
         why="public on purpose: the tracking token in the body is the credential (an unknown one -> 404 for anyone; "
             "tests/public/test_feedback.py)"),
    Rule("reopen-request-list", "GET",              (401, 200, 200, 403, 403, 403, 403, 403),
         why="supervisors decide reopen requests, dispatchers see them"),
    Rule("reopen-request-decision", "POST",         (401, 403, 200, 403, 403, 403, 403, 403), obj="reopen_request",
         body={"decision": "reject", "note": "permission matrix probe"}, why="supervisors only"),
    Rule("analytics-intervals", "GET",              (401, 200, 200, 200, 200, 200, 200, 200),
         why="figures from the facts: the command center sees every department's, a department member its own "
             "(another department asked for: 403, tests/analytics/test_reports.py)"),
    Rule("analytics-kpis", "GET",                   (401, 200, 200, 200, 200, 200, 200, 200),
         why="as the intervals: department members are held to their own department's figures"),
    Rule("analytics-incidents", "GET",              (401, 200, 200, 200, 200, 200, 200, 200),
         why="the incidents behind a figure, scoped as the figures (another department asked for: 403, "
             "tests/analytics/test_drilldown.py)"),
    Rule("schema", "GET",                           (200, 200, 200, 200, 200, 200, 200, 200),
         why="the OpenAPI schema is public on purpose"),
    Rule("docs", "GET",                             (200, 200, 200, 200, 200, 200, 200, 200),
         why="the API docs are public on purpose (and work offline)"),
    # ---- /api/incidents/ ----------------------------------------------------------------------------------
    Rule("incident-list", "GET",                    (401, 200, 200, 200, 200, 200, 200, 200), listing="incident",
         why="everyone signed in lists; staff/leads of another department must not see the incident in it"),
    Rule("incident-list", "POST",                   (401, 201, 403, 201, 403, 403, 403, 403), body=WATERLOGGING,
         why="dispatcher and admin report incidents (valid body -> 201)"),
    Rule("incident-detail", "GET",                  (401, 200, 200, 200, 200, 200, 404, 404), obj="incident",
         reporter_clear=("dispatcher",), why="reporter contact data in clear for dispatchers only, masked for the rest"),
    Rule("incident-timeline", "GET",                (401, 200, 200, 200, 200, 200, 404, 404), obj="incident"),
    Rule("incident-sla", "GET",                     (401, 200, 200, 200, 200, 200, 404, 404), obj="incident",
         why="the composed clock: whoever sees the incident (a department member: its own department's components)"),
    Rule("incident-timeline-export", "GET",         (401, 200, 200, 200, 200, 200, 404, 404), obj="incident"),
    Rule("incident-timeline-verify", "GET",         (401, 200, 200, 200, 200, 200, 404, 404), obj="incident"),
    Rule("incident-location", "POST",               (401, 200, 403, 200, 403, 403, 404, 404), obj="incident",
         body={"location": {"lat": 31.21, "lon": 121.43}},
         why="dispatchers (and admins) set where an incident is; another department's incident -> 404"),
    Rule("incident-notes", "POST",                  (401, 201, 201, 201, 201, 201, 404, 404), obj="incident",
         body={"text": "permission matrix probe"}),
    # ---- photos (attachments/, issue 19) --------------------------------------------------------------------
    Rule("incident-attachments", "GET",             (401, 200, 200, 200, 200, 200, 404, 404), obj="incident"),
    Rule("incident-attachments", "POST",            (401, 201, 201, 201, 201, 201, 404, 404), obj="incident",
         body=_photo, why="the command roles, and departments with an order on the incident, add photos"),
    Rule("work-order-attachments", "GET",           (401, 200, 200, 200, 200, 200, 404, 404), obj="work_order"),
    Rule("work-order-attachments", "POST",          (401, 201, 201, 201, 201, 201, 404, 404), obj="work_order",
         body=_photo, why="the command roles and the order's department (before / after photos)"),
    Rule("attachment-file", "GET",                  (401, 200, 200, 200, 200, 200, 404, 404), obj="attachment",
         why="not a page: the file, for whoever sees the incident (401 without credentials; a signed ?sig= link "
             "opens it without them, tests/attachments/)"),
    Rule("attachment-thumbnail", "GET",             (401, 200, 200, 200, 200, 200, 404, 404), obj="attachment",
         why="as attachment-file"),
    Rule("incident-transitions", "POST",            (401, 200, 200, 403, 403, 403, 404, 404), obj="incident",
         body=CANCEL, why="waterlogging's cancel: roles dispatcher and supervisor; admin and staff -> 403"),
    Rule("incident-duplicates", "GET",              (401, 200, 403, 200, 403, 403, 403, 403),
         body={"event_type": "waterlogging", "lat": 31.21, "lon": 121.43},
         why="who may report an incident may look for its duplicates first (dispatchers, admins, department systems)"),
    Rule("incident-merge", "POST",                  (401, 200, 403, 403, 403, 403, 404, 404), obj="incident",
         body=_merge_target, why="dispatchers merge a duplicate report; unseen -> 404 first"),
    Rule("incident-unmerge", "POST",                (401, 409, 403, 403, 403, 403, 404, 404), obj="incident",
         why="dispatchers; the probe's incident is not merged -> 409 naming it"),
    Rule("incident-reveal-reporter", "POST",        (401, 403, 200, 403, 403, 403, 404, 404), obj="incident",
         body={"reason": "permission matrix probe"},
         why="supervisors reveal reporter data with a logged reason; another department's incident -> 404"),
    Rule("incident-erase-reporter", "POST",         (401, 403, 200, 403, 403, 403, 404, 404), obj="incident",
         body={"reason": "permission matrix probe"},
         why="supervisors erase reporter data on the person's request (PIPL art. 47); unseen -> 404 first"),
    # ---- CAP 1.2 and exports (issue 8) ------------------------------------------------------------------
    Rule("incident-cap", "GET",                     (401, 200, 200, 200, 200, 200, 404, 404), obj="incident",
         why="whoever may see the incident reads its CAP alert (a Draft preview before one is issued)"),
    Rule("incident-public-warning", "POST",         (401, 201, 201, 403, 403, 403, 404, 404), obj="incident",
         body={"action": "issue", "headline": "permission matrix probe"},
         why="dispatchers and supervisors issue public warnings; another department's incident -> 404"),
    Rule("cap-alerts", "GET",                       (401, 200, 200, 200, 200, 200, 200, 200),
         why="the feed lists only the alerts of incidents the caller may see"),
    Rule("incident-export", "GET",                  (401, 200, 200, 200, 200, 200, 200, 200),
         why="streamed; department members get only their incidents, reporter data masked by role"),
    Rule("timeline-export", "GET",                  (401, 200, 200, 200, 200, 200, 200, 200),
         why="streamed; department members get only the rows timeline_visible_to gives them"),
    Rule("audit-export", "GET",                     (401, 403, 200, 200, 403, 403, 403, 403),
         why="the audit records: supervisors and administrators only"),
    # ---- /api/work-orders/ --------------------------------------------------------------------------------
    Rule("work-order-list", "GET",                  (401, 200, 200, 200, 200, 200, 200, 200), listing="work_order"),
    Rule("work-order-detail", "GET",                (401, 200, 200, 200, 200, 200, 404, 404), obj="work_order"),
    Rule("work-order-actions", "POST",              (401, 200, 403, 200, 200, 200, 404, 404), obj="work_order",
         body={"action": "accept"}, why="accept the offered order: dispatcher, admin, its department; not supervisor"),
    Rule("work-order-return-decision", "POST",      (401, 200, 200, 403, 403, 403, 404, 404), obj="returned_order",
         body={"decision": "reject", "note": "It is yours: permission matrix"},
         why="a return is decided by the command center's dispatchers and supervisors (终审); not admin"),
    Rule("work-order-extension-decision", "POST",   (401, 200, 200, 403, 403, 403, 404, 404), obj="extended_order",
         body={"decision": "approve"}, why="an extension is decided by a dispatcher or supervisor; not admin"),
    # ---- /api/departments/, /api/units/ ----------------------------------------------------------------------
    Rule("department-list", "GET",                  (401, 200, 200, 200, 200, 200, 200, 200)),
    Rule("department-detail", "GET",                (401, 200, 200, 200, 200, 200, 200, 200), obj="department",
         why="departments are public knowledge among users"),
    Rule("unit-list", "GET",                        (401, 200, 200, 200, 200, 200, 200, 200), listing="unit"),
    Rule("unit-detail", "GET",                      (401, 200, 200, 200, 200, 200, 404, 404), obj="unit"),
    Rule("unit-detail", "PATCH",                    (401, 200, 403, 200, 200, 200, 404, 404), obj="unit",
         body={"status": "busy", "reason": "matrix probe"},
         why="dispatcher, admin, the unit's department (staff without a unit of their own)"),
    Rule("unit-position", "POST",                   (401, 403, 403, 403, 403, 200, 404, 404), obj="unit",
         body=lambda persona: {"lat": 31.21, "lon": 121.43, "at": timezone.now().isoformat()},
         why="a unit's position comes from its own crew's phones or its department's lead"),
    Rule("unit-history", "GET",                     (401, 200, 200, 200, 200, 200, 404, 404), obj="unit",
         why="whoever sees the unit sees its history of status changes"),
    # ---- /api/me/: the caller's own saved views -----------------------------------------------------------------
    Rule("saved-view-list", "GET",                  (401, 200, 200, 200, 200, 200, 200, 200),
         why="every signed-in user lists their own views only"),
    Rule("saved-view-list", "POST",                 (401, 201, 201, 201, 201, 201, 201, 201),
         body={"page": "console", "name": "matrix probe", "query": "q=flood"}, why="every signed-in user keeps views"),
    Rule("saved-view-detail", "DELETE",             (401, 204, 404, 404, 404, 404, 404, 404), obj="saved_view",
         why="the view is the dispatcher's: anyone else's delete does not find it"),
    # ---- operations (public probes) ---------------------------------------------------------------------------
    Rule("healthz", "GET",                          (200, 200, 200, 200, 200, 200, 200, 200)),
    Rule("readyz", "GET",                           (200, 200, 200, 200, 200, 200, 200, 200),
         why="public; 503 would name a dependency that is down, not an access rule"),
    Rule("metrics", "GET",                          (401, 403, 200, 200, 403, 403, 403, 403),
         why="supervisors and admins, or a Prometheus scrape job with METRICS_TOKEN (tests/dispatch/runtime/test_metrics.py)"),
    # ---- Open311 GeoReport v2 (/open311/v2/, "page" kind: called with sessions, which play no part) ----------
    Rule("open311-services", "GET",                 (200, 200, 200, 200, 200, 200, 200, 200), why=OPEN311_PUBLIC),
    Rule("open311-services-xml", "GET",             (200, 200, 200, 200, 200, 200, 200, 200), why=OPEN311_PUBLIC),
    Rule("open311-service", "GET",                  (200, 200, 200, 200, 200, 200, 200, 200), obj="event_type",
         why=OPEN311_PUBLIC),
    Rule("open311-service-xml", "GET",              (200, 200, 200, 200, 200, 200, 200, 200), obj="event_type",
         why=OPEN311_PUBLIC),
    Rule("open311-requests", "GET",                 (200, 200, 200, 200, 200, 200, 200, 200), why=OPEN311_PUBLIC),
    Rule("open311-requests-xml", "GET",             (200, 200, 200, 200, 200, 200, 200, 200), why=OPEN311_PUBLIC),
    Rule("open311-requests", "POST",                (201, 201, 201, 201, 201, 201, 201, 201), body=_open311_request,
         why="an Open311 client's api_key authorizes a new request (403 without one: tests/open311)"),
    Rule("open311-requests-xml", "POST",            (201, 201, 201, 201, 201, 201, 201, 201), body=_open311_request,
         why="an Open311 client's api_key authorizes a new request (403 without one: tests/open311)"),
    Rule("open311-request", "GET",                  (404, 404, 404, 404, 404, 404, 404, 404), obj="incident_number",
         why=OPEN311_CONSOLE),
    Rule("open311-request-xml", "GET",              (404, 404, 404, 404, 404, 404, 404, 404), obj="incident_number",
         why=OPEN311_CONSOLE),
    # ---- pages (session) --------------------------------------------------------------------------------------
    #                                                anon   disp     sup      adm      s_own  l_own  s_oth  l_oth
    Rule("home", "GET",                             (LOGIN, CONSOLE, CONSOLE, CONSOLE, INBOX, INBOX, INBOX, INBOX)),
    Rule("login", "GET",                            (200, HOME, HOME, HOME, HOME, HOME, HOME, HOME),
         why="signed-in users are sent home (redirect_authenticated_user)"),
    Rule("login", "POST",                           (HOME, HOME, HOME, HOME, HOME, HOME, HOME, HOME), body=_own_credentials,
         why="valid credentials (anonymous: the dispatcher's) -> home"),
    Rule("login", "PUT",                            (200, HOME, HOME, HOME, HOME, HOME, HOME, HOME),
         why="Django's FormView maps PUT to POST: an empty form re-renders, signed-in users go home"),
    Rule("login-code", "GET",                       (LOGIN, HOME, HOME, HOME, HOME, HOME, HOME, HOME),
         why="the second step of signing in: only with a pending sign-in (a right password), else back to /login/; "
             "signed-in users go home (tests/identity/test_mfa.py)"),
    Rule("login-code", "POST",                      (LOGIN, HOME, HOME, HOME, HOME, HOME, HOME, HOME),
         why="a code is taken only for a pending sign-in (tests/identity/test_mfa.py)"),
    Rule("login-enrol", "GET",                      (LOGIN, HOME, HOME, HOME, HOME, HOME, HOME, HOME),
         why="setting up an authenticator at sign-in: only with a pending sign-in whose role requires it"),
    Rule("login-enrol", "POST",                     (LOGIN, HOME, HOME, HOME, HOME, HOME, HOME, HOME),
         why="confirming it: only with a pending sign-in (tests/identity/test_mfa.py)"),
    Rule("account-security", "GET",                 (LOGIN, 200, 200, 200, 200, 200, 200, 200),
         why="any signed-in user's own two-step sign-in settings"),
    Rule("account-security", "POST",                (LOGIN, 400, 400, 400, 400, 400, 400, 400),
         body={"action": "regenerate", "otp": "000000"},
         why="a user's own recovery codes: none to renew while two-step sign-in is off (400 naming otp)"),
    Rule("account-enrol", "GET",                    (LOGIN, 200, 200, 200, 200, 200, 200, 200),
         why="any signed-in user turns two-step sign-in on for themselves"),
    Rule("account-enrol", "POST",                   (LOGIN, 400, 400, 400, 400, 400, 400, 400), body={"otp": "000000"},
         why="confirming their own authenticator: nothing being set up (400 naming otp)"),
    Rule("logout", "POST",                          (LOGIN, LOGIN, LOGIN, LOGIN, LOGIN, LOGIN, LOGIN, LOGIN)),
    Rule("console", "GET",                          (LOGIN, 200, 200, 200, 403, 403, 403, 403)),
    Rule("console-wall", "GET",                     (LOGIN, 200, 200, 200, 403, 403, 403, 403),
         why="the command center's wall display: the console's rule"),
    Rule("inbox", "GET",                            (LOGIN, 403, 403, 403, 200, 200, 200, 200)),
    Rule("audit", "GET",                            (LOGIN, 200, 200, 200, 403, 403, 403, 403)),
    Rule("reports", "GET",                          (LOGIN, 200, 200, 200, 403, 200, 403, 200),
         why="figures for the command roles (every department) and department leads (their own, fixed; "
             "tests/web/test_reports_page.py)"),
    Rule("routing-dry-run-page", "GET",            (LOGIN, 403, 403, 200, 403, 403, 403, 403),
         why="admins try draft routing rules and definitions on past incidents (the API's rule)"),
    Rule("public-track", "GET",                     (200, 200, 200, 200, 200, 200, 200, 200), obj="tracking_token",
         why="the citizen's tracking page: public, the token in the path is the key (no personal data on it)"),
    Rule("public-track-feedback", "GET",            (405, 405, 405, 405, 405, 405, 405, 405), obj="tracking_token",
         why="the page's feedback form posts here (POST only; tests/public/test_feedback.py)"),
    Rule("public-figures", "GET",                   (200, 200, 200, 200, 200, 200, 200, 200),
         why="the public page: aggregates only, for everyone (tests/public/test_public_page.py)"),
    Rule("public-figures-json", "GET",              (200, 200, 200, 200, 200, 200, 200, 200),
         why="the public page's figures as JSON: the same aggregates, for everyone"),
    Rule("audit-incident", "GET",                   (LOGIN, 200, 200, 200, 403, 403, 404, 404), obj="incident",
         why="command center only; another department's incident is not even known to exist (404)"),
]
RULES = {(r.name, r.method): r for r in _RULES}
assert len(RULES) == len(_RULES), "a (name, method) is declared twice"
assert all(len(r.expect) == len(PERSONAS) for r in _RULES), "every row names a status for every persona"

# Real access bugs found by the matrix: (name, method, persona) -> reason. The row keeps the correct
# expectation; the case is xfail(strict=True) until the bug is fixed.
BUGS: dict[tuple[str, str, str], str] = {}  # none open (the reveal endpoint's 403-before-404 was fixed)

# --------------------------------------------------------------------------------------------------
# Objects, paths, calls
# --------------------------------------------------------------------------------------------------


class Objects:
    """The objects the URLs name, made only when a case needs them."""

    def __init__(self, request):
        self._request = request

    @cached_property
    def incident(self) -> dict:
        return self._request.getfixturevalue("reported_incident")

    @cached_property
    def work_order(self) -> dict:
        orders = [wo for wo in self.incident["work_orders"] if wo["department"] == OWN]
        assert orders, f"the reported incident has no {OWN} work order: {self.incident['work_orders']}"
        return max(orders, key=lambda wo: wo["id"])

    @cached_property
    def returned_order(self) -> dict:
        """The city_management order, returned by its staff (waiting for the command center's decision)."""
        from departments.services.work_orders import work_order_act
        from dispatch.models import User

        work_order_act(actor=User.objects.get(username=f"{OWN}_staff"), work_order_id=self.work_order["id"],
                       action="return", reason_code="not_our_function")
        return self.work_order

    @cached_property
    def extended_order(self) -> dict:
        """The city_management order with an extension its lead asked for."""
        from departments.services.work_orders import work_order_act
        from dispatch.models import User

        work_order_act(actor=User.objects.get(username=f"{OWN}_lead"), work_order_id=self.work_order["id"],
                       action="request_extension", seconds=600, reason="permission matrix probe")
        return self.work_order

    @cached_property
    def attachment(self):
        """A photo on the reported incident (city_management has an order on it), added by the dispatcher."""
        from attachments.services.uploads import attachment_add
        from dispatch.models import User

        return attachment_add(actor=User.objects.get(username="dispatcher"), incident_id=self.incident["id"],
                              upload=_photo("dispatcher")["file"], kind="evidence")

    @cached_property
    def reopen_request(self):
        """A pending reopen request on the reported incident (its reporter: not satisfied, not fixed)."""
        from dispatch.models import Incident
        from public.models import Feedback
        from public.services.reopen import reopen_request_open

        incident = Incident.objects.get(pk=self.incident["id"])
        feedback = Feedback.objects.create(incident=incident, satisfied=False, reasons=["not_fixed"])
        return reopen_request_open(incident=incident, feedback=feedback)

    @cached_property
    def unit(self):
        from departments.models import Unit

        return Unit.objects.filter(department__code=OWN).order_by("pk").first()

    @cached_property
    def department(self):
        from departments.models import Department

        return Department.objects.get(code=OWN)

    @cached_property
    def saved_view(self):
        from dispatch.models import SavedView, User

        return SavedView.objects.create(user=User.objects.get(username="dispatcher"), page="console", name="mine")

    @cached_property
    def major_event(self):
        from dispatch.models import User
        from dispatch.services.major_events import major_event_open

        return major_event_open(actor=User.objects.get(username="dispatcher"), title="permission matrix probe",
                                incident_ids=[], commander="dispatcher")

    @cached_property
    def activation(self):
        from dispatch.models import User
        from plans.services.activations import plan_activate

        activation, _what = plan_activate(actor=User.objects.get(username="dispatcher"), plan_code="rainstorm",
                                          level="III", district_codes=["riverside"], reason="permission matrix probe")
        return activation

    def id_of(self, obj: str) -> int:
        return {
            "incident": lambda: self.incident["id"], "work_order": lambda: self.work_order["id"],
            "unit": lambda: self.unit.pk, "department": lambda: self.department.pk,
            "saved_view": lambda: self.saved_view.pk, "activation": lambda: self.activation.pk,
            "major_event": lambda: self.major_event.pk, "returned_order": lambda: self.returned_order["id"],
            "extended_order": lambda: self.extended_order["id"], "attachment": lambda: self.attachment.pk,
            "reopen_request": lambda: self.reopen_request.pk,
        }[obj]()

    def kwargs(self, obj: str | None) -> dict:
        if obj is None:
            return {}
        if obj == "event_type":
            return {"code": "waterlogging"}
        if obj == "plan":
            return {"code": "rainstorm"}
        if obj == "incident_number":
            return {"number": self.incident["number"]}
        if obj == "device_token":  # another device's token of the dispatcher
            from dispatch.models import User
            from identity.services.tokens import token_issue

            token, _text = token_issue(user=User.objects.get(username="dispatcher"), device="matrix probe")
            return {"token_id": token.token_key}
        if obj == "tracking_token":
            from dispatch.models import Incident
            from public.tokens import tracking_token_for

            return {"token": tracking_token_for(Incident.objects.get(pk=self.incident["id"]).tracking_salt)}
        return {"pk": self.id_of(obj)}


@pytest.fixture
def objects(request):
    return Objects(request)


@pytest.fixture(autouse=True)
def _photos_in_tmp(settings, tmp_path):
    """Photos the matrix uploads are stored under the test's own directory, not var/."""
    settings.STORAGES = {**settings.STORAGES, "attachments": {
        "BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path)}}}


@pytest.fixture
def call(api_as, db):
    """``call(kind, persona, method, path, body)`` -> the response: /api/ with the persona's token (after-commit
    work run), pages with the persona's session."""
    from dispatch.models import User

    def do(kind: str, persona: str, method: str, path: str, body=None):
        username = USERNAMES[persona]
        if kind == "api":
            api = api_as(username)
            api.client.raise_request_exception = False  # a crash is an observed 500, not a test error
            if method == "GET":
                return api.get(path, body)
            if method == "OPTIONS":
                return api.client.options(path)
            if isinstance(body, dict) and any(hasattr(value, "read") for value in body.values()):  # an upload
                return getattr(api.client, method.lower())(path, body, format="multipart")
            return getattr(api, method.lower())(path, body)
        client = Client(raise_request_exception=False)
        if username:
            client.force_login(User.objects.get(username=username))
        if method == "GET":
            return client.get(path, body)
        return getattr(client, method.lower())(path, body or {})

    return do


def _body(rule: Rule, persona: str):
    return rule.body(persona) if callable(rule.body) else rule.body


def _describe(expected) -> str:
    return f"{expected[0]} -> {expected[1]}" if isinstance(expected, tuple) else str(expected)


def _observed(response) -> str:
    location = response.get("Location") if response.status_code in (301, 302, 303, 307, 308) else None
    return f"{response.status_code}" + (f" -> {location}" if location else "")


def _matches(response, expected) -> bool:
    if isinstance(expected, tuple):
        status, target = expected
        return response.status_code == status and response.get("Location", "").split("?")[0] == target
    return response.status_code == expected


def _cases():
    cases, seen = [], set()
    for endpoint in ENDPOINTS:
        for method in endpoint.methods:
            if (endpoint.name, method) in seen:
                continue
            seen.add((endpoint.name, method))
            rule = RULES.get((endpoint.name, method))
            if rule is None:
                cases.append(pytest.param(endpoint, method, None, None, id=f"{endpoint.name}-{method}-UNDECLARED"))
                continue
            for persona in PERSONAS:
                bug = BUGS.get((endpoint.name, method, persona))
                marks = [pytest.mark.xfail(strict=True, reason=bug)] if bug else []
                cases.append(pytest.param(endpoint, method, rule, persona, marks=marks,
                                          id=f"{endpoint.name}-{method}-{persona}"))
    return cases


CASES = _cases()

# --------------------------------------------------------------------------------------------------
# The matrix
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("endpoint", "method", "rule", "persona"), CASES)
def test_matrix(endpoint, method, rule, persona, call, objects):
    if rule is None:
        pytest.fail(f"undeclared endpoint: {endpoint.name}, {endpoint.route}, {method} (add a row to RULES)")
    expected = rule.expected(persona)
    if rule.listing:
        objects.id_of(rule.listing)  # the object exists before it is (not) listed
    path = reverse(endpoint.name, kwargs=objects.kwargs(rule.obj))
    if method == "GET":  # a list's page size, or the query a rule gives
        sent = {"page_size": 500} if rule.listing else (_body(rule, persona) if rule.body is not None else None)
    else:
        sent = _body(rule, persona)
    response = call(endpoint.kind, persona, method, path, sent)
    assert _matches(response, expected), (
        f"{method} {path} ({endpoint.name}) as {persona} ({USERNAMES[persona]}): "
        f"observed {_observed(response)}, expected {_describe(expected)}"
        + (f" [{rule.why}]" if rule.why else "") + f"\n{response.content[:300]!r}"
    )
    if response.status_code == 200 and rule.reporter_clear is not None:
        reporter = response.json()["reporter"]
        clear = reporter.get("phone") == WATERLOGGING["reporter"]["phone"] or reporter.get("name") == WATERLOGGING["reporter"]["name"]
        assert clear == (persona in rule.reporter_clear), (
            f"{path} as {persona}: reporter {'in clear' if clear else 'masked'} ({reporter}), "
            f"expected {'in clear' if persona in rule.reporter_clear else 'masked'}"
        )
    if rule.listing and response.status_code == 200:
        listed = {row["id"] for row in response.json()["results"]}
        target = objects.id_of(rule.listing)
        if persona in OTHER_DEPARTMENT:
            assert target not in listed, f"{path} as {persona}: lists {OWN}'s {rule.listing} {target}"
        else:
            assert target in listed, f"{path} as {persona}: does not list {rule.listing} {target}"


def test_every_endpoint_is_declared():
    missing = [
        f"undeclared endpoint: {e.name}, {e.route}, {','.join(m for m in e.methods if (e.name, m) not in RULES)}"
        for e in ENDPOINTS + ALIASES
        if any((e.name, m) not in RULES for m in e.methods)
    ]
    assert not missing, "\n".join(missing)


def test_no_stale_declarations():
    routed = {(e.name, m) for e in ENDPOINTS for m in e.methods}
    stale = sorted(set(RULES) - routed)
    assert not stale, f"declared but no longer routed (or its method is gone): {stale}"


def test_every_declared_persona_is_seeded(db):
    from dispatch.models import User

    names = {u for u in USERNAMES.values() if u}
    assert set(User.objects.filter(username__in=names).values_list("username", flat=True)) == names


# --------------------------------------------------------------------------------------------------
# Around the matrix: methods, aliases, OPTIONS, excluded prefixes
# --------------------------------------------------------------------------------------------------

_DUMMY_KWARGS = {"pk": 999_999_999, "code": "waterlogging", "number": "INC-00000000-00000",
                 "token_id": "ldt_00000000000"}


def _dummy_path(endpoint: Endpoint, **extra) -> str:
    params = get_resolver().reverse_dict.getlist(endpoint.name)[0][0][0][1] if endpoint.name else []
    return reverse(endpoint.name, kwargs={k: _DUMMY_KWARGS[k] for k in params if k in _DUMMY_KWARGS} | extra)


@pytest.mark.parametrize("endpoint", [e for e in ENDPOINTS if e.class_based], ids=lambda e: e.name)
def test_undeclared_methods_are_refused(endpoint, call):
    """The walk's method list is the truth: a class-based view answers any other method with 405 (as the
    dispatcher on /api/, so that authentication passes first; anonymously on pages)."""
    path = _dummy_path(endpoint)
    persona = "dispatcher" if endpoint.kind == "api" else "anonymous"
    wrong = {}
    for method in UNSAFE_OR_READ:
        if method in endpoint.methods:
            continue
        status = call(endpoint.kind, persona, method, path, {}).status_code
        if status != 405:
            wrong[method] = status
    assert not wrong, f"{endpoint.name} {path}: methods outside {endpoint.methods} answered {wrong}"


def test_no_format_suffix_aliases():
    """One URL per resource: the router adds no ``.json`` variants (they once bypassed handler signatures)."""
    assert ALIASES == [], [a.route for a in ALIASES]


PUBLIC_API = {"api-token", "schema", "docs", "public-feedback"}  # the only /api/ endpoints anonymous callers may use


OPTIONS_EXPECTED = {"docs": 405}  # the Swagger page answers GET and HEAD only


@pytest.mark.parametrize("endpoint", [pytest.param(e, id=e.name) for e in ENDPOINTS if e.kind == "api"])
def test_options_needs_credentials_on_the_api(endpoint, call):
    """OPTIONS (left out of the matrix: DRF metadata, no object data) still needs credentials on /api/."""
    response = call("api", "anonymous", "OPTIONS", _dummy_path(endpoint))
    expected = OPTIONS_EXPECTED.get(endpoint.name, 200 if endpoint.name in PUBLIC_API else 401)
    assert response.status_code == expected, _observed(response)


def test_public_api_matches_the_declarations():
    public = {r.name for r in _RULES if r.name in {e.name for e in ENDPOINTS if e.kind == "api"} and r.expect[0] != 401}
    assert public == PUBLIC_API


def test_excluded_prefixes_keep_their_guard(call):
    """What the matrix leaves out still answers as intended."""
    found = {prefix for e in ALL_ENDPOINTS for prefix in EXCLUDED_PREFIXES if e.route.startswith(prefix)}
    assert found == set(EXCLUDED_PREFIXES), f"an exclusion no longer matches anything: {set(EXCLUDED_PREFIXES) - found}"
    anonymous_admin = call("page", "anonymous", "GET", "/admin/")
    assert anonymous_admin.status_code == 302 and anonymous_admin["Location"].startswith("/admin/login/")
    for persona in ("dispatcher", "supervisor", "staff_own", "lead_other"):
        response = call("page", persona, "GET", "/admin/")
        assert response.status_code == 302 and response["Location"].startswith("/admin/login/"), (persona, _observed(response))
    assert call("page", "admin", "GET", "/admin/").status_code == 200
    assert call("page", "anonymous", "GET", "/jsi18n/").status_code == 200
    assert call("page", "anonymous", "POST", "/i18n/setlang/", {"language": "en", "next": "/"}).status_code == 302


def test_matrix_size(report_figures, request):
    declared = [c for c in CASES if c.values[2] is not None]
    endpoints = {c.values[0].name for c in declared}
    pairs = {(c.values[0].name, c.values[1]) for c in declared}
    line = (
        f"\npermission matrix: {len(endpoints)} endpoints, {len(pairs)} endpoint-methods, {len(PERSONAS)} personas"
        f" = {len(declared)} cells ({len(ALIASES)} format-suffix aliases checked separately; excluded: "
        f"{', '.join(EXCLUDED_PREFIXES)})\n"
    )
    request.node.user_properties.append(("matrix", line.strip()))
    report_figures(line)
    assert len(declared) == len(pairs) * len(PERSONAS)
