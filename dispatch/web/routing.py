"""The routing dry-run page (admins): paste draft routing rules or a draft workflow definition, pick a period, and
see which past incidents would have gone to other departments, before publishing anything. Server-rendered: the
form posts here and the result is the same as ``POST /api/routing/dry-run/`` answers (one service,
``departments.services.dry_run``). "Suggestions from returns" lists what ``GET /api/routing/suggestions/`` answers
for the period's start (``departments.services.routing_suggestions``); "Try it" posts the form with the suggestion's
draft in place of the editor's text, so one click fills the editor and runs the dry-run."""

from datetime import datetime, timedelta

import yaml
from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from departments.models import WorkOrder
from departments.services.dry_run import dry_run_check, routing_dry_run
from departments.services.routing_drafts import routing_rules_draft
from departments.services.routing_suggestions import routing_suggestions
from dispatch.core.errors import Forbidden, Invalid
from workflows.models import EventType

LISTED = 500  # changed incidents shown on the page (the totals count them all)
LOCAL_MINUTE = "%Y-%m-%dT%H:%M"  # what <input type="datetime-local"> sends and shows


class DryRunForm(forms.Form):
    kind = forms.ChoiceField(
        label=gettext_lazy("The draft is"),
        choices=[("rules", gettext_lazy("Routing rules")), ("definition", gettext_lazy("A workflow definition"))],
        widget=forms.RadioSelect,
    )
    draft = forms.CharField(label=gettext_lazy("Draft (YAML or JSON)"), widget=forms.Textarea, max_length=500_000)
    start = forms.DateTimeField(
        label=gettext_lazy("Incidents created from"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=LOCAL_MINUTE),
    )
    end = forms.DateTimeField(
        label=gettext_lazy("until (not included)"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=LOCAL_MINUTE),
    )
    include_unchanged = forms.BooleanField(label=gettext_lazy("List unchanged incidents too"), required=False)


def _rules_yaml(rules: list[dict] | None = None) -> str:
    """Draft rules (the current routing rules unless given) as text: one rule a line (YAML flow mappings, also valid
    JSON-ish to edit)."""
    rules = routing_rules_draft() if rules is None else rules
    if not rules:
        return "[]\n"
    return "".join(
        "- " + yaml.safe_dump(rule, default_flow_style=True, sort_keys=False, allow_unicode=True, width=10_000)
        for rule in rules
    )


def _initial(request) -> dict:
    """A fresh form: the current rules (or, with ``?definition=<code>``, that event type's active definition) over the
    last 30 days."""
    now = timezone.localtime().replace(second=0, microsecond=0)
    initial = {
        "kind": "rules",
        "draft": _rules_yaml(),
        "start": now - timedelta(days=30),
        "end": now + timedelta(minutes=1),
    }
    code = request.GET.get("definition")
    event_type = EventType.objects.filter(code=code).select_related("active_version").first() if code else None
    if event_type is not None and event_type.active_version is not None:
        initial.update(kind="definition", draft=event_type.active_version.source)
    return initial


def _draft_rules(text: str):
    """The rules of a pasted draft: a YAML or JSON list (or ``{"rules": [...]}``); the service checks each rule."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise Invalid(_("The draft is not valid YAML or JSON."), {"draft": [str(exc)]}) from exc
    if isinstance(data, dict) and set(data) == {"rules"}:
        data = data["rules"]
    return [] if data is None else data


def _why_text(why: dict | None) -> str:
    """What decided a department in a round, for a person."""
    if why is None:
        return _("not sent")
    if why["by"] == "definition":
        return _("the state's dispatch list")
    if why["by"] == "plan":
        return _("response plan %(plan)s") % {"plan": why["plan"]}
    rule = f"#{why['rule']}" if why["rule"] is not None else ""
    if why["draft_index"] is not None:
        name = _("draft rule %(n)d %(id)s") % {"n": why["draft_index"] + 1, "id": rule}
    else:
        name = _("rule %(id)s") % {"id": rule}
    return (_("%(rule)s: skip") if why["action"] == "skip" else _("%(rule)s: dispatch")) % {"rule": name.strip()}


def _rows(result: dict) -> list[dict]:
    """The listed incidents with what each round added and removed, and why, in words."""
    rows = []
    for incident in result["incidents"]:
        rounds = []
        for round_ in incident["trace"]["rounds"]:
            departments = [
                {**d, "before_text": _why_text(d["before"]), "after_text": _why_text(d["after"])}
                for d in round_["departments"]
            ]
            rounds.append({**round_, "departments": departments})
        added = [code for code in incident["after"] if code not in incident["before"]]
        removed = [code for code in incident["before"] if code not in incident["after"]]
        rows.append({**incident, "rounds": rounds, "added": added, "removed": removed})
    return rows


def _period_start(value: str | None) -> datetime:
    """The start of the period posted with the form (what the suggestions count from), else 30 days ago."""
    try:
        start = DryRunForm.base_fields["start"].clean(value)
    except ValidationError:
        start = None
    return start or timezone.localtime().replace(second=0, microsecond=0) - timedelta(days=30)


def _suggestion_key(group: dict) -> str:
    """What a "Try it" button posts to name its group (codes never hold a "|")."""
    return "|".join([group["event_type"], group["district"] or "", group["from"], group["to"]])


def _suggestion_rows(groups: list[dict], tried: str | None) -> list[dict]:
    """The suggestions with their key, the reasons in words, and whether the result shown is theirs."""
    labels = dict(WorkOrder.ReturnReason.choices)
    return [
        {
            **group,
            "key": _suggestion_key(group),
            "reason_texts": [(labels.get(code, code), n) for code, n in group["reasons"].items()],
            "tried": _suggestion_key(group) == tried,
        }
        for group in groups
    ]


@login_required
def routing_dry_run_page(request):
    try:
        dry_run_check(request.user)
    except Forbidden as exc:
        raise PermissionDenied from exc
    result, rows, problems, tried = None, [], [], None
    if request.method == "POST":
        posted = request.POST.copy()
        since = _period_start(posted.get("start"))
        suggestions = routing_suggestions(actor=request.user, since=since)
        tried = posted.get("suggestion") or None
        if tried is not None:  # "Try it": the suggestion's draft replaces the editor's text
            chosen = next((g for g in suggestions if _suggestion_key(g) == tried and g["draft"]), None)
            if chosen is None:
                problems = [("", [_("That suggestion is no longer listed for this period; pick another.")])]
            else:
                posted["kind"], posted["draft"] = "rules", _rules_yaml(chosen["draft"])
        form = DryRunForm(posted)
        if not problems and form.is_valid():
            data = form.cleaned_data
            try:
                draft = _draft_rules(data["draft"]) if data["kind"] == "rules" else None
                result = routing_dry_run(
                    actor=request.user,
                    rules=draft,
                    definition=data["draft"] if data["kind"] == "definition" else None,
                    start=data["start"],
                    end=data["end"],
                    include_unchanged=data["include_unchanged"],
                    limit=LISTED,
                )
            except Invalid as exc:
                problems = [(field, messages) for field, messages in exc.errors.items()] or [("", [exc.detail])]
            else:
                rows = _rows(result)
    else:
        initial = _initial(request)
        form = DryRunForm(initial=initial)
        since = initial["start"]
        suggestions = routing_suggestions(actor=request.user, since=since)
    event_types = EventType.objects.filter(is_active=True, active_version__isnull=False).order_by("code")
    return render(
        request,
        "web/routing_dry_run.html",
        {
            "form": form,
            "result": result,
            "rows": rows,
            "problems": problems,
            "event_types": event_types,
            "listed_max": LISTED,
            "suggestions": _suggestion_rows(suggestions, tried),
            "suggestions_since": since,
        },
    )
