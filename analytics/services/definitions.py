"""What every published figure means: the one home of the intervals' and KPIs' names, formulas and targets.

The API answers these texts under ``definitions`` (in the reader's language) and the README's "Analytics" section
prints the same English strings (``tests/analytics/test_definitions.py`` holds the two together). The fact fields a
formula names are those of ``analytics.models`` (derived from the timeline by ``analytics.services.fold``).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class Interval:
    """One interval (seconds) of an incident or of a work order: a column of its fact table, and the boolean column
    saying whether it was within its target (None: the interval has no target)."""

    name: str
    level: str  # "incident" or "order"
    formula: Promise
    target: str | None = None  # the fact's within-target column


INTERVALS: tuple[Interval, ...] = (
    Interval(
        "received_to_created",
        "incident",
        _(
            "created_at − received_at, per incident: from when the report was received (the time an intake carries, "
            "else its creation) to the incident's creation"
        ),
    ),
    Interval(
        "created_to_first_offer",
        "incident",
        _(
            "first_offer_at − created_at, per incident: from creation to the first work order offered to a department "
            "(or queued in its queue)"
        ),
    ),
    Interval(
        "offer_to_accepted",
        "order",
        _(
            "accepted_at − offered_at, per work order: from the department's offer (its acknowledgement clock; restarted "
            "when a return is rejected) to its acceptance (签收); within target: at most the order's ack_timeout_seconds"
        ),
        target="ack_on_time",
    ),
    Interval("accepted_to_en_route", "order", _("en_route_at − accepted_at, per work order: accepted to departed")),
    Interval("en_route_to_on_scene", "order", _("on_scene_at − en_route_at, per work order: departed to arrived")),
    Interval("on_scene_to_completed", "order", _("completed_at − on_scene_at, per work order: arrived to completed")),
    Interval(
        "accepted_to_completed",
        "order",
        _(
            "completed_at − accepted_at, per work order: the department's handling; within target: completed by its "
            "due_at (the definition's handling target, else the state's SLA; moved by pauses and approved extensions) "
            "and its handling clock never ran out"
        ),
        target="handling_on_time",
    ),
    Interval(
        "resolved_to_closed",
        "incident",
        _(
            "closed_at − resolved_at, per closed incident: from the work declared done (the last entry into a state "
            "that stands orders down, the shipped definitions' verifying) to verification passed (a final state)"
        ),
    ),
    Interval(
        "created_to_closed",
        "incident",
        _(
            "closed_at − created_at, per closed incident (not cancelled); within target: closed on time, i.e. no state "
            "SLA breach and no department's handling clock ran out"
        ),
        target="closed_on_time",
    ),
)
INTERVAL_NAMES = tuple(i.name for i in INTERVALS)


@dataclass(frozen=True)
class Kpi:
    name: str
    formula: Promise


KPIS: tuple[Kpi, ...] = (
    Kpi(
        "n",
        _(
            "incidents created in the period (not merged into another incident; drills only with "
            "include_exercises=true); for a department or unit, those it had a work order on"
        ),
    ),
    Kpi("n_orders", _("work orders of those incidents (of the department or unit, when grouped or filtered by one)")),
    Kpi(
        "closure_rate",
        _(
            "结案率: closed / (n − cancelled) × 100; closed = reached a final state other than by a "
            "cancelling (destructive) transition"
        ),
    ),
    Kpi(
        "on_time_closure_rate",
        _(
            "按期结案率: closed on time / (n − cancelled) × 100; on time = no state SLA breach and "
            "no department's handling clock ran out"
        ),
    ),
    Kpi(
        "rework_rate",
        _(
            "返工率: incidents sent back for rework (from a state that stands orders down to a working "
            "state, or reopened from a final state on a citizen's reopen request) at least once / incidents whose "
            "work was declared done at least once × 100"
        ),
    ),
    Kpi("extension_rate", _("延期率: work orders with at least one approved extension / n_orders × 100")),
    Kpi("return_rate", _("退回率: work orders returned (退回) at least once / n_orders × 100")),
    Kpi(
        "first_route_accuracy",
        _(
            "work orders routed by the rules whose return was never upheld / work orders routed by the rules × 100 "
            "(orders the command center created by upholding a return are not first routes)"
        ),
    ),
    Kpi("escalation_rate", _("work orders whose escalation chain started / n_orders × 100")),
    Kpi(
        "satisfaction_rate",
        _(
            "满意率: citizens' feedback saying satisfied / citizens' feedback × 100, on the tracking page after closing "
            "(one per report; a merged report's counts for the incident it was merged into); grouped by department or "
            "unit: the feedback on the incidents the department had an order on, credited to the unit of its first "
            "order there"
        ),
    ),
    Kpi("feedbacks", _("citizens' feedback received on the incidents (the n of satisfaction_rate)")),
    Kpi("breaches", _("sla_breaches + handling_breaches")),
    Kpi("sla_breaches", _("incidents whose state SLA ran out at least once")),
    Kpi(
        "handling_breaches",
        _("work orders whose department's handling clock ran out (or that were completed after their due_at)"),
    ),
)
KPI_NAMES = tuple(k.name for k in KPIS)

PERCENTILES = _(
    "p50, p90, p95: continuous percentiles (linear interpolation between the two nearest values, as PostgreSQL's "
    "percentile_cont) of the n values, in seconds"
)
WITHIN_TARGET = _("values within their target / values that have a target × 100 (null: no target)")
SMALL_SAMPLE = _("n below ANALYTICS_SMALL_SAMPLE (default 20): shown, flagged, never ranked")
RANK = _(
    "1 = best among the rows of the same interval (lowest p90) or, for KPIs, the highest "
    "on_time_closure_rate; null for small samples and rows without the figure"
)
RATES = _("rates are percentages rounded to 0.01; null (n/a) when the denominator is 0")


def interval_definitions() -> dict[str, str]:
    """``{name: formula}`` of the intervals endpoint, in the active language."""
    return {
        **{i.name: str(i.formula) for i in INTERVALS},
        "percentiles": str(PERCENTILES),
        "within_target_pct": str(WITHIN_TARGET),
        "small_sample": str(SMALL_SAMPLE),
        "rank": str(RANK),
    }


def kpi_definitions() -> dict[str, str]:
    """``{name: formula}`` of the KPIs endpoint, in the active language."""
    return {
        **{k.name: str(k.formula) for k in KPIS},
        "rates": str(RATES),
        "small_sample": str(SMALL_SAMPLE),
        "rank": str(RANK),
    }


def all_formulas() -> dict[str, str]:
    """Every published text (the README prints each)."""
    return {**interval_definitions(), **kpi_definitions()}
