"""The facts by day, as columns: what the reports read instead of the fact rows.

A report of a year reads three million work orders' facts; PostgreSQL reads and sorts them row by row (5-10 s on two
cores, measured: README, Analytics). Here each local day's facts (the incidents created that day and their work
orders) are kept as packed arrays, one ``FactColumn`` per column (``COLUMNS``: name, level, type), built from the fact
rows by ``build``; a report loads the columns it needs for its days (``load``) and computes its figures in
memory (``analytics.services.reports``). Nothing is approximated: the values are the facts' own (seconds as stored).

Freshness. Every write of a fact row sets its ``dirty`` flag (in the transaction of the change: no extra statement);
``refresh_day`` clears the day's flags (committed at once, so a change never waits long on it), then builds the
day's columns from the rows (read after the clearing) and stores them, one refresh of a day at a time. A change
committed after the flags were cleared leaves its row dirty, so the day is built again; a report never reads a
stored day that has a dirty row, none stored or one being stored again (``FactDay.built_at``): it builds that day
from the rows in memory (``load``), as it does for the partial days at either end of its period. ``refresh_stale``
(beat, every ``ANALYTICS_REFRESH_SECONDS``; and after ``seed_history`` or ``recompute_analytics``) stores the stale
days again.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import numpy as np
import psycopg
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.models import Max, Min, Q, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone

from analytics.models import FactColumn, FactDay, IncidentFact, OrderFact
from analytics.services.definitions import INTERVALS

INCIDENT, ORDER = "incident", "order"
NULL_CODE = -1  # a blank code (no district, no unit yet)
UNKNOWN = -1  # an outcome (on target or not) not known: int8 -1, else 0 or 1


@dataclass(frozen=True)
class Column:
    name: str
    level: str  # INCIDENT or ORDER
    dtype: str  # numpy type: codes int32, flags bool, counts int32, outcomes int8, seconds float64 (NaN: none)
    code: bool = False  # an index into the day's vocabulary (NULL_CODE: blank)


def _columns() -> tuple[Column, ...]:
    columns = [
        Column("incident.event_type", INCIDENT, "int32", code=True),
        Column("incident.district", INCIDENT, "int32", code=True),
        *(
            Column(f"incident.{name}", INCIDENT, "bool")
            for name in ("exercise", "merged", "cancelled", "closed", "on_time", "resolved", "reworked", "sla_breached")
        ),
        Column("incident.feedbacks", INCIDENT, "int32"),
        Column("incident.satisfied", INCIDENT, "int32"),
        Column("order.incident", ORDER, "int32"),  # the row of its incident in the same day's incident columns
        Column("order.department", ORDER, "int32", code=True),
        Column("order.unit", ORDER, "int32", code=True),
        *(
            Column(f"order.{name}", ORDER, "bool")
            for name in (
                "first_of_department",
                "replacement",
                "return_upheld",
                "returned",
                "extended",
                "escalated",
                "handling_breached",
            )
        ),
    ]
    for interval in INTERVALS:
        columns.append(Column(f"{interval.level}.{interval.name}", interval.level, "float64"))
        if interval.target:
            columns.append(Column(f"{interval.level}.{interval.target}", interval.level, "int8"))
    return tuple(columns)


COLUMNS = _columns()
BY_NAME = {c.name: c for c in COLUMNS}

_INCIDENT_READ = (
    "incident_id",
    "event_type",
    "district",
    "exercise",
    "merged_into",
    "cancelled",
    "closed_at",
    "closed_on_time",
    "resolved_at",
    "rework_count",
    "sla_breaches",
    "feedbacks",
    "satisfied",
    *(i.name for i in INTERVALS if i.level == INCIDENT),
)
_ORDER_READ = (
    "incident_id",
    "department",
    "unit",
    "first_of_department",
    "replacement",
    "return_upheld",
    "returned",
    "extensions_approved",
    "escalated",
    "handling_breached",
    "ack_on_time",
    "handling_on_time",
    *(i.name for i in INTERVALS if i.level == ORDER),
)


@dataclass
class Chunk:
    """One day's columns (or part of a day's): arrays by column name, their text codes' vocabulary."""

    day: date
    vocabulary: list[str]
    arrays: dict[str, np.ndarray]
    incidents: int
    orders: int


# --- building ----------------------------------------------------------------------------------------------------


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """A local day as ``[start, end)``."""
    zone = timezone.get_current_timezone()
    start = datetime.combine(day, time.min, tzinfo=zone)
    return start, datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone)


Piece = tuple[date, datetime, datetime]  # a local day, and the part of it wanted: [start, end)


def build(pieces: list[Piece], *, using: str = DEFAULT_DB_ALIAS) -> dict[date, Chunk]:
    """The columns of the incidents created in each piece (a whole local day or part of one) and of their work
    orders: two queries (on the database ``using``) whatever the number of pieces (adjacent ones read as one range),
    no write."""
    if not pieces:
        return {}
    ranges: list[list[datetime]] = []
    for _day, start, end in sorted(pieces, key=lambda piece: piece[1]):
        if ranges and ranges[-1][1] == start:
            ranges[-1][1] = end
        else:
            ranges.append([start, end])
    incident_q, order_q = Q(pk__in=[]), Q(pk__in=[])
    for start, end in ranges:
        incident_q |= Q(created_at__gte=start, created_at__lt=end)
        order_q |= Q(incident_created_at__gte=start, incident_created_at__lt=end)
    zone = timezone.get_current_timezone()
    incidents: dict[date, list[tuple]] = {day: [] for day, _s, _e in pieces}
    incident_rows = IncidentFact.objects.using(using).filter(incident_q).order_by("incident_id")
    for row in incident_rows.values_list("created_at", *_INCIDENT_READ):
        incidents[row[0].astimezone(zone).date()].append(row[1:])
    orders: dict[date, list[tuple]] = {day: [] for day, _s, _e in pieces}
    order_rows = OrderFact.objects.using(using).filter(order_q).order_by("work_order_id")
    for row in order_rows.values_list("incident_created_at", *_ORDER_READ):
        orders[row[0].astimezone(zone).date()].append(row[1:])
    return {day: _chunk(day, incidents[day], orders[day]) for day, _s, _e in pieces}


def _chunk(day: date, incidents: list[tuple], orders: list[tuple]) -> Chunk:
    """One day's columns from its fact rows (``_INCIDENT_READ``, ``_ORDER_READ``)."""
    vocabulary: dict[str, int] = {}

    def code(text: str) -> int:
        if not text:
            return NULL_CODE
        return vocabulary.setdefault(text, len(vocabulary))

    def outcome(value: bool | None) -> int:
        return UNKNOWN if value is None else int(value)

    def seconds(value: float | None) -> float:
        return np.nan if value is None else value

    row_of = {row[0]: n for n, row in enumerate(incidents)}
    values: dict[str, list[Any]] = {c.name: [] for c in COLUMNS}
    incident_intervals = [i for i in INTERVALS if i.level == INCIDENT]
    for (
        _pk,
        event_type,
        district,
        exercise,
        merged_into,
        cancelled,
        closed_at,
        closed_on_time,
        resolved_at,
        rework_count,
        sla_breaches,
        feedbacks,
        satisfied,
        *intervals,
    ) in incidents:
        values["incident.event_type"].append(code(event_type))
        values["incident.district"].append(code(district))
        values["incident.exercise"].append(exercise)
        values["incident.merged"].append(merged_into is not None)
        values["incident.cancelled"].append(cancelled)
        values["incident.closed"].append(closed_at is not None and not cancelled)
        values["incident.on_time"].append(closed_on_time is True)
        values["incident.resolved"].append(resolved_at is not None)
        values["incident.reworked"].append(rework_count > 0)
        values["incident.sla_breached"].append(sla_breaches > 0)
        values["incident.feedbacks"].append(feedbacks)
        values["incident.satisfied"].append(satisfied)
        for interval, value in zip(incident_intervals, intervals, strict=True):
            values[f"incident.{interval.name}"].append(seconds(value))
        values["incident.closed_on_time"].append(outcome(closed_on_time))
    order_intervals = [i for i in INTERVALS if i.level == ORDER]
    for (
        incident_id,
        department,
        unit,
        first,
        replacement,
        upheld,
        returned,
        extended,
        escalated,
        breached,
        ack_on_time,
        handling_on_time,
        *intervals,
    ) in orders:
        if incident_id not in row_of:  # an order whose incident's facts are of another day (never: same time)
            continue
        values["order.incident"].append(row_of[incident_id])
        values["order.department"].append(code(department))
        values["order.unit"].append(code(unit))
        values["order.first_of_department"].append(first)
        values["order.replacement"].append(replacement)
        values["order.return_upheld"].append(upheld)
        values["order.returned"].append(returned > 0)
        values["order.extended"].append(extended > 0)
        values["order.escalated"].append(escalated)
        values["order.handling_breached"].append(breached)
        for interval, value in zip(order_intervals, intervals, strict=True):
            values[f"order.{interval.name}"].append(seconds(value))
        values["order.ack_on_time"].append(outcome(ack_on_time))
        values["order.handling_on_time"].append(outcome(handling_on_time))
    arrays = {c.name: np.array(values[c.name], dtype=c.dtype) for c in COLUMNS}
    return Chunk(
        day=day,
        vocabulary=list(vocabulary),
        arrays=arrays,
        incidents=len(incidents),
        orders=len(values["order.incident"]),
    )


def refresh_day(day: date) -> Chunk:
    """Clear ``day``'s dirty flags (a transaction of its own, committed at once: a change of one of its facts never
    waits long for it), then build its columns from its fact rows and store them; one refresh of a day at a time
    (``_day_lock``). See the module for why nothing is missed."""
    start, end = day_bounds(day)
    with _day_lock(day):
        with transaction.atomic():
            FactDay.objects.filter(day=day).update(built_at=None)  # its stored columns: older than its facts now
            IncidentFact.objects.filter(dirty=True, created_at__gte=start, created_at__lt=end).update(dirty=False)
            OrderFact.objects.filter(dirty=True, incident_created_at__gte=start, incident_created_at__lt=end).update(
                dirty=False
            )
        chunk = build([(day, start, end)])[day]
        with transaction.atomic():
            head, _created = FactDay.objects.select_for_update(no_key=True).get_or_create(day=day)
            head.vocabulary, head.incidents, head.orders = chunk.vocabulary, chunk.incidents, chunk.orders
            head.built_at, head.version = timezone.now(), head.version + 1
            head.save()
            FactColumn.objects.filter(day_id=day).delete()
            FactColumn.objects.bulk_create(
                [FactColumn(day_id=day, name=name, data=array.tobytes()) for name, array in chunk.arrays.items()]
            )
    return chunk


_LOCK_SPACE = 18  # pg_advisory_lock(space, key): the analytics app's key space (issue 18); the key is the day
_local_lock = threading.Lock()  # SQLite: the embedded profile is one process


@contextmanager
def _day_lock(day: date) -> Iterator[None]:
    """One refresh of ``day`` at a time, across processes (PostgreSQL: a session advisory lock). Two refreshes side by
    side could store an older build after a newer one whose flags it had cleared."""
    if connection.vendor != "postgresql":
        with _local_lock:
            yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s, %s)", [_LOCK_SPACE, day.toordinal()])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [_LOCK_SPACE, day.toordinal()])


def stale_days(first: date | None = None, last: date | None = None, *, using: str = DEFAULT_DB_ALIAS) -> set[date]:
    """The days (between ``first`` and ``last``, inclusive, when given) with a dirty fact row, or with facts and no
    stored columns."""
    zone = timezone.get_current_timezone()
    incident_q, order_q, day_q = Q(dirty=True), Q(dirty=True), Q()
    if first is not None:
        incident_q &= Q(created_at__gte=day_bounds(first)[0])
        order_q &= Q(incident_created_at__gte=day_bounds(first)[0])
        day_q &= Q(day__gte=first)
    if last is not None:
        incident_q &= Q(created_at__lt=day_bounds(last)[1])
        order_q &= Q(incident_created_at__lt=day_bounds(last)[1])
        day_q &= Q(day__lte=last)
    stale = set(
        IncidentFact.objects.using(using)
        .filter(incident_q)
        .annotate(d=TruncDate("created_at", tzinfo=zone))
        .values_list("d", flat=True)
        .distinct()
    )
    stale |= set(
        OrderFact.objects.using(using)
        .filter(order_q)
        .annotate(d=TruncDate("incident_created_at", tzinfo=zone))
        .values_list("d", flat=True)
        .distinct()
    )
    return stale


def refresh_stale(limit: int | None = None) -> int:
    """Store again every stale day (at most ``limit``, oldest first), and drop stored days without facts any more.
    Returns the days built."""
    days = sorted(stale_days())
    span = IncidentFact.objects.aggregate(first=Min("created_at"), last=Max("created_at"))
    if span["first"] is not None:
        first, last = (timezone.localtime(span[k]).date() for k in ("first", "last"))
        stored = set(  # a day left half-built (a refresh that died after clearing its flags) is built again
            FactDay.objects.filter(day__gte=first, day__lte=last, built_at__isnull=False).values_list("day", flat=True)
        )
        days = sorted(set(days) | {d for d in _days(first, last) if d not in stored})
    if limit is not None:
        days = days[:limit]
    for day in days:
        refresh_day(day)
    return len(days)


def _days(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


# --- loading -----------------------------------------------------------------------------------------------------


@dataclass
class Loaded:
    """A period's columns: each asked-for column over every day, in day order; ``vocabulary`` the text of every
    code; ``incident_day`` / ``order_day`` each row's day as an index into ``days``."""

    days: list[date]
    vocabulary: list[str]
    arrays: dict[str, np.ndarray]
    incident_day: np.ndarray
    order_day: np.ndarray

    def text(self, code: int) -> str | None:
        return None if code == NULL_CODE else self.vocabulary[code]

    def code(self, text: str) -> int:
        """The code of ``text`` (one no row has when no row has the text)."""
        try:
            return self.vocabulary.index(text)
        except ValueError:
            return NULL_CODE - 1


def load(
    start: datetime | None, end: datetime | None, names: Iterable[str], *, using: str = DEFAULT_DB_ALIAS
) -> Loaded:
    """The columns ``names`` (``order.incident`` comes with any order column) of the incidents created in
    ``[start, end)`` (unbounded sides: the facts' span), their orders' row numbers made global: stored days where
    fresh, the others (and the partial days at either end) built from the fact rows. Every read on the database
    ``using`` (the primary, or the read replica: never written here)."""
    wanted = set(names)
    if any(BY_NAME[n].level == ORDER for n in wanted):
        wanted.add("order.incident")
    pieces = list(_pieces(start, end, using))
    if not pieces:
        return _concatenate([], wanted)
    first, last = pieces[0][0], pieces[-1][0]
    stale = stale_days(first, last, using=using)
    fresh = {day for day, s, e in pieces if (s, e) == day_bounds(day) and day not in stale}
    stored = _stored(first, last, wanted, fresh, using)
    built = build([piece for piece in pieces if piece[0] not in stored], using=using)
    return _concatenate([stored.get(day) or built[day] for day, _s, _e in pieces], wanted)


def _pieces(start: datetime | None, end: datetime | None, using: str) -> Iterator[Piece]:
    """The period as local days, each ``(day, start, end)``: whole days, and the parts of the first and last; held to
    the facts' whole days (nothing is outside them: a period from the year 1 is the facts' span, not 740,000 days)."""
    span = IncidentFact.objects.using(using).aggregate(first=Min("created_at"), last=Max("created_at"))
    if span["first"] is None:
        return
    first = day_bounds(timezone.localtime(span["first"]).date())[0]
    last = day_bounds(timezone.localtime(span["last"]).date())[1]
    start = first if start is None else max(start, first)
    end = last if end is None else min(end, last)
    day = timezone.localtime(start).date()
    while True:
        s, e = day_bounds(day)
        if s >= end:
            return
        yield day, max(s, start), min(e, end)
        day += timedelta(days=1)


def _stored(first: date, last: date, names: set[str], fresh: set[date], using: str) -> dict[date, Chunk]:
    """The stored columns ``names`` of the ``fresh`` days between ``first`` and ``last``, with their vocabularies: two
    queries (ranges of days: whatever the days, stored or not). A day being built again (``built_at`` null), or
    stored again between the two queries (its columns of another ``version`` than the day's), is left out: built from
    its rows."""
    arrays: dict[date, dict[str, np.ndarray]] = defaultdict(dict)
    versions: dict[date, set[int]] = defaultdict(set)
    rows = FactColumn.objects.using(using).filter(day_id__gte=first, day_id__lte=last, name__in=names).values_list(
        "day_id", "day__version", "name", "data"
    )
    for day, version, name, data in _fetch_bytes(rows):
        day = date.fromisoformat(day) if isinstance(day, str) else day  # SQLite's driver: text
        if day in fresh:
            arrays[day][name] = np.frombuffer(data, dtype=BY_NAME[name].dtype)
            versions[day].add(version)
    heads = FactDay.objects.using(using).filter(day__gte=first, day__lte=last).values_list(
        "day", "built_at", "version", "vocabulary", "incidents", "orders"
    )
    return {
        day: Chunk(day=day, vocabulary=vocabulary, arrays=arrays[day], incidents=incidents, orders=orders)
        for day, built_at, version, vocabulary, incidents, orders in heads
        if day in fresh and built_at is not None and versions[day] == {version} and names <= arrays[day].keys()
    }


def _fetch_bytes(rows: QuerySet) -> list[tuple]:
    """``rows`` fetched whole by the driver, not through Django's row converters and chunked cursor; on PostgreSQL in
    binary (bytea as its bytes, not hex text to decode). Measured on a year's five order intervals (123 MB): 0.2 s,
    against 0.9 s in text and 1.2 s through the queryset. Still one query in Django's query log."""
    db = connections[rows.db]  # the queryset's database (the replica when the report reads it)
    sql, params = rows.query.get_compiler(connection=db).as_sql()
    with db.cursor() as cursor:
        if db.vendor != "postgresql":
            cursor.execute(sql, params)
            return cursor.fetchall()
        logged = getattr(cursor, "debug_sql", None)  # DEBUG (and the test suite's query capture) log each query
        # Django's own cursors bind client-side, which gives no binary results: a plain psycopg one, same connection.
        with logged(sql, params) if logged is not None else nullcontext(), psycopg.Cursor(db.connection) as raw:
            raw.execute(sql, params, binary=True)
            return raw.fetchall()


def _concatenate(chunks: list[Chunk], names: set[str]) -> Loaded:
    vocabulary: dict[str, int] = {}
    parts: dict[str, list[np.ndarray]] = {name: [] for name in names}
    incident_day, order_day = [], []
    offset = 0
    for index, chunk in enumerate(chunks):
        remap = np.array([vocabulary.setdefault(text, len(vocabulary)) for text in chunk.vocabulary] + [NULL_CODE])
        for name in names:
            array = chunk.arrays[name]
            if BY_NAME[name].code:
                array = remap[array]  # the chunk's codes as the period's (NULL_CODE, -1, stays -1: remap's last)
            elif name == "order.incident":
                array = array + offset
            parts[name].append(array)
        incident_day.append(np.full(chunk.incidents, index, dtype=np.int32))
        order_day.append(np.full(chunk.orders, index, dtype=np.int32))
        offset += chunk.incidents
    arrays = {
        name: np.concatenate(parts[name]) if parts[name] else np.array([], dtype=BY_NAME[name].dtype) for name in names
    }
    return Loaded(
        days=[c.day for c in chunks],
        vocabulary=list(vocabulary),
        arrays=arrays,
        incident_day=np.concatenate(incident_day) if incident_day else np.array([], dtype=np.int32),
        order_day=np.concatenate(order_day) if order_day else np.array([], dtype=np.int32),
    )
