"""What the public page ``/public/`` publishes (issue 19): the last days' reports by district and by event type, and a
coarse map of where they were. A selector over the analytics facts, with the analytics' own rules and formulas.

The rule: aggregates only, nothing about one report. Which reports count is the analytics reports' rule
(``analytics.services.reports.incidents_in_scope``: merged reports never, drills never), minus every confidential
report (``reporter_confidential``: left out of the figures and the map alike). Time to close is the analytics interval
``created_to_closed`` (``analytics.services.definitions``), its median the same continuous percentile
(``percentile_cont``). No title, description, address, reporter, unit or exact coordinate is read: a location is
snapped to a grid cell in the database and only the cell's centre leaves it; a cell of fewer than ``PUBLIC_MIN_CELL``
reports is dropped, and a median of fewer than ``PUBLIC_MIN_CELL`` closed reports is not given (its counts are).

The figures are computed at most once per ``PUBLIC_CACHE_SECONDS`` for everyone, with codes only (names are given in
both languages, picked at render), so the cache key holds nothing about the visitor.
"""

from __future__ import annotations

import logging
import math
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.db import connection
from django.db.models import Count, F, Q, QuerySet
from django.db.models.functions import Cos, Floor, Radians
from django.utils import timezone
from django.utils.translation import gettext as _
from redis.exceptions import RedisError

from analytics.models import IncidentFact
from analytics.services.definitions import INTERVALS, Interval
from analytics.services.reports import PercentilesCont, ReportQuery, incidents_in_scope, percentile_cont
from departments.models import District
from dispatch.core.i18n import localized
from workflows.models import EventType

logger = logging.getLogger(__name__)

METRES_PER_DEGREE_LAT = 111_320  # one degree of latitude; a degree of longitude is this times cos(latitude)
CLOSE: Interval = next(i for i in INTERVALS if i.name == "created_to_closed")
CACHE_KEY = "public:figures:v1:{window}:{grid}:{min_cell}"
STALE_FACTOR = 10  # an entry outlives its freshness this many times: answered while one request recomputes it


def public_settings() -> dict[str, int]:
    return {
        "window_days": settings.PUBLIC_WINDOW_DAYS,
        "grid_metres": settings.PUBLIC_GRID_METRES,
        "min_cell": settings.PUBLIC_MIN_CELL,
        "cache_seconds": settings.PUBLIC_CACHE_SECONDS,
    }


def public_scope(*, start: datetime, end: datetime) -> QuerySet[IncidentFact]:
    """The reports the page counts: the analytics reports' (not merged, not a drill, created in [start, end)),
    without the confidential ones."""
    return incidents_in_scope(ReportQuery(start=start, end=end)).filter(incident__reporter_confidential=False)


def public_figures(now: datetime) -> dict[str, Any]:
    """The page's figures for the window ending at ``now`` (computed, never cached: see ``public_figures_cached``).

    ``{"period": {start, end, days}, "grid_metres", "min_cell", "totals": row, "by_district": [row],
    "by_event_type": [row], "cells": [{lat, lon, count}], "names": {"district": {code: {en, zh}},
    "event_type": {...}}, "districts": [{code, polygon}]}``; a row is ``{code, n, open, closed, cancelled,
    median_close_seconds}`` (``code`` None: no district known).
    """
    conf = public_settings()
    start = now - timedelta(days=conf["window_days"])
    scope = public_scope(start=start, end=now)
    min_cell = conf["min_cell"]
    totals = _rows(scope, None, min_cell)[0]
    districts = list(District.objects.values_list("code", "name", "polygon"))
    return {
        "period": {"start": start, "end": now, "days": conf["window_days"]},
        "grid_metres": conf["grid_metres"],
        "min_cell": min_cell,
        "totals": totals,
        "by_district": _rows(scope, "district", min_cell),
        "by_event_type": _rows(scope, "event_type", min_cell),
        "cells": _cells(scope, grid_metres=conf["grid_metres"], min_cell=min_cell),
        "names": {
            "district": {code: name for code, name, _polygon in districts},
            "event_type": dict(EventType.objects.values_list("code", "name")),
        },
        "districts": [{"code": code, "polygon": polygon} for code, _name, polygon in districts],
    }


def public_figures_cache_key() -> str:
    """The one cache entry of the figures: the settings that shape them, nothing about the visitor."""
    conf = public_settings()
    return CACHE_KEY.format(window=conf["window_days"], grid=conf["grid_metres"], min_cell=conf["min_cell"])


def public_figures_cached() -> dict[str, Any]:
    """``public_figures(now)`` as computed at most ``PUBLIC_CACHE_SECONDS`` ago (one entry for every visitor).

    An entry older than that is recomputed by one request (the one that wins ``cache.add`` of a refresh mark) while
    the others keep answering it, so a busy page never has every request recompute at once; the entry is kept
    ``STALE_FACTOR`` times longer for that. With the shared cache unreachable (services profile, Redis down) the
    process's own memory stands in."""
    conf = public_settings()
    fresh = conf["cache_seconds"]
    if fresh <= 0:
        return public_figures(timezone.now())
    key = public_figures_cache_key()
    for alias in ("default", "local"):
        cache = caches[alias]
        try:
            entry = cache.get(key)
            now = timezone.now()
            if entry is not None and (
                (now - entry["at"]).total_seconds() < fresh or not cache.add(f"{key}:refresh", 1, fresh)
            ):
                return entry["figures"]  # fresh, or another request is already recomputing it
            figures = public_figures(now)
            cache.set(key, {"at": now, "figures": figures}, fresh * STALE_FACTOR)
            cache.delete(f"{key}:refresh")
            return figures
        except RedisError:
            logger.warning("public figures: cache %s unreachable", alias)
    return public_figures(timezone.now())


# --- rows --------------------------------------------------------------------------------------------------------


def _counts() -> dict[str, Count]:
    return {
        "n": Count("pk"),
        "open": Count("pk", filter=Q(closed_at__isnull=True)),
        "closed": Count("pk", filter=Q(closed_at__isnull=False, cancelled=False)),  # the analytics' "closed"
        "cancelled": Count("pk", filter=Q(closed_at__isnull=False, cancelled=True)),
    }


def _rows(scope: QuerySet[IncidentFact], group: str | None, min_cell: int) -> list[dict[str, Any]]:
    """One row per group (``group`` None: the one row of every report), counts and median in one grouped query on
    PostgreSQL (``percentile_cont``); on SQLite the counts in one, the closed reports' values in another and the same
    continuous percentile in Python."""
    qs = scope.order_by()
    on_postgres = connection.vendor == "postgresql"
    wanted: dict[str, Any] = _counts()
    if on_postgres:
        wanted["percentiles"] = PercentilesCont(CLOSE.name, (0.5,))
    found: dict[str | None, dict[str, Any]]
    if group is None:
        found = {None: qs.aggregate(**wanted)}
    else:
        found = {row.pop("g") or None: row for row in qs.values(g=F(group)).annotate(**wanted)}
    medians: dict[str | None, float | None]
    if on_postgres:
        medians = {code: (row.pop("percentiles") or [None])[0] for code, row in found.items()}
    else:
        medians = _medians_in_python(qs, group)
    rows = []
    for code, counts in found.items():
        median = medians.get(code) if counts["closed"] >= min_cell else None
        rows.append({"code": code, **counts, "median_close_seconds": None if median is None else round(median, 3)})
    rows.sort(key=lambda row: (-row["n"], row["code"] is None, row["code"] or ""))
    return rows


def _medians_in_python(qs: QuerySet[IncidentFact], group: str | None) -> dict[str | None, float | None]:
    values: dict[str | None, list[float]] = {}
    rows = qs.filter(**{f"{CLOSE.name}__isnull": False})
    if group is None:
        values[None] = list(rows.values_list(CLOSE.name, flat=True))
    else:
        for code, value in rows.values_list(group, CLOSE.name):
            values.setdefault(code or None, []).append(value)
    return {code: percentile_cont(sorted(found), 0.5) for code, found in values.items()}


# --- the map -----------------------------------------------------------------------------------------------------


def grid_steps(grid_metres: float, row: int) -> tuple[float, float, float]:
    """``(lat_step, lon_step, centre_lat)`` of the grid's row ``row``: a row is ``grid_metres`` of latitude; its cells
    are ``grid_metres`` wide at the row's centre latitude."""
    lat_step = grid_metres / METRES_PER_DEGREE_LAT
    centre_lat = (row + 0.5) * lat_step
    return lat_step, grid_metres / (METRES_PER_DEGREE_LAT * math.cos(math.radians(centre_lat))), centre_lat


def cell_centre(grid_metres: float, row: int, column: int) -> tuple[float, float]:
    _lat_step, lon_step, centre_lat = grid_steps(grid_metres, row)
    return centre_lat, (column + 0.5) * lon_step


def _cells(scope: QuerySet[IncidentFact], *, grid_metres: int, min_cell: int) -> list[dict[str, Any]]:
    """Reports with a location, counted per grid cell in the database (only cell indices and counts come back); cells
    of fewer than ``min_cell`` are dropped there too."""
    lat_step = grid_metres / METRES_PER_DEGREE_LAT
    row = Floor(F("incident__lat") / lat_step)
    lon_step = grid_metres / (METRES_PER_DEGREE_LAT * Cos(Radians((row + 0.5) * lat_step)))
    column = Floor(F("incident__lon") / lon_step)
    found = (
        scope.order_by()
        .filter(incident__lat__isnull=False, incident__lon__isnull=False)
        .values(r=row, c=column)
        .annotate(count=Count("pk"))
        .filter(count__gte=min_cell)
    )
    cells = []
    for cell in found:
        lat, lon = cell_centre(grid_metres, round(cell["r"]), round(cell["c"]))
        cells.append({"lat": round(lat, 6), "lon": round(lon, 6), "count": cell["count"]})
    cells.sort(key=lambda cell: (cell["lat"], cell["lon"]))
    return cells


# --- as shown ----------------------------------------------------------------------------------------------------


def public_figures_display(figures: dict[str, Any]) -> dict[str, Any]:
    """``figures`` with each row's name in the active language (the public names of districts and event types; no
    district known: "No district") and the median as text, plus the footnote's texts (``notes``)."""
    names = figures["names"]

    def shown(row: dict[str, Any], group: str | None) -> dict[str, Any]:
        out = dict(row, median_close_text=duration_text(row["median_close_seconds"]))
        if group is not None:
            code = row["code"]
            out["name"] = (localized(names[group].get(code)) or code) if code else str(_("No district"))
        return out

    return {
        "period": figures["period"],
        "grid_metres": figures["grid_metres"],
        "min_cell": figures["min_cell"],
        "totals": shown(figures["totals"], None),
        "by_district": [shown(row, "district") for row in figures["by_district"]],
        "by_event_type": [shown(row, "event_type") for row in figures["by_event_type"]],
        "cells": figures["cells"],
        "notes": public_notes(figures),
    }


def public_map_data(figures: dict[str, Any]) -> dict[str, Any]:
    """What the page's map draws: the cells, the grid size and the districts' outlines with their names."""
    names = figures["names"]["district"]
    return {
        "cells": figures["cells"],
        "grid_metres": figures["grid_metres"],
        "districts": [
            {"code": d["code"], "name": localized(names.get(d["code"])) or d["code"], "polygon": d["polygon"]}
            for d in figures["districts"]
        ],
    }


def public_notes(figures: dict[str, Any]) -> dict[str, str]:
    """The footnote: what each figure means, in the active language. Time to close is the analytics' own text."""
    values = {
        "days": figures["period"]["days"],
        "grid": figures["grid_metres"],
        "min": figures["min_cell"],
        "seconds": settings.PUBLIC_CACHE_SECONDS,
    }
    return {
        "period": _(
            "Reports created in the last %(days)s days, by their creation time; the figures are recomputed at most "
            "every %(seconds)s seconds."
        )
        % values,
        "counts": _(
            "Open: not closed yet. Closed: reached a final state other than by cancelling (as the analytics' closure "
            "rate counts it). Reports = open + closed + closed without further work (cancelled)."
        ),
        "time_to_close": _("Time to close: %(formula)s.") % {"formula": CLOSE.formula},
        "median": _(
            "Median: the continuous percentile 0.5 (linear interpolation, as PostgreSQL's percentile_cont and the "
            "analytics' p50) of the closed reports' times to close; given only when at least %(min)s reports were "
            "closed (otherwise —), the counts always."
        )
        % values,
        "map": _(
            "Map: each report's location is snapped to a grid of %(grid)s m squares and only the square's centre is "
            "shown, sized by its number of reports; squares with fewer than %(min)s reports are left out. Reports "
            "without a location are counted in the tables only."
        )
        % values,
        "excluded": _(
            "Not counted anywhere on this page: drills (exercises), reports merged into another report of the same "
            "event (that one is counted), and reports whose reporter asked for confidentiality."
        ),
    }


def duration_text(seconds: float | None) -> str:
    """A time to close as read on the page: minutes under an hour, hours under two days, else days; — without one."""
    if seconds is None:
        return "—"
    if seconds < 3600:
        return _("%(minutes)d min") % {"minutes": round(seconds / 60)}
    if seconds < 2 * 86400:
        return _("%(hours).1f h") % {"hours": seconds / 3600}
    return _("%(days).1f days") % {"days": seconds / 86400}
