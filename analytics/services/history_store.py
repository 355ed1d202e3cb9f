"""Writing a year of history (``manage.py seed_history``): when incidents happen, their rows, in bulk.

``history_seed`` spreads ``incidents`` creation times over the period (a daily and a weekly rhythm, a summer storm
season with surge days, each event type with its own season), then, a batch of incidents per transaction, invents
their stories (``analytics.services.history``), takes ids for the incidents and orders from the tables' own
sequences, applies each story's steps in time order (cut at the end of the period: incidents still being worked stay
open), writes every timeline row with the data the engine writes and hash-chained by ``chain_hash`` (so
``timeline_verify`` passes), and the facts ``fold`` derives from those very rows (so ``recompute_analytics`` gives
the same). PostgreSQL is written with COPY, SQLite with ``executemany``; the timeline's append-only trigger stays
(it refuses UPDATE and DELETE, never INSERT). Seeded incidents are numbered ``H-<local date>-<id>``: recognisable,
and a second run never clashes. The same seed gives the same stories (the ids may differ).
"""

from __future__ import annotations

import bisect
import json
import multiprocessing
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models, transaction
from django.utils import timezone

from analytics.models import INCIDENT_FIELDS, ORDER_FIELDS, IncidentFact, OrderFact
from analytics.services.facts import state_kinds
from analytics.services.fold import Facts, fold, folds
from analytics.services.history import TYPE_WEIGHT, City, Order, Planner, Story, _when
from departments.models import WorkOrder
from departments.services.escalation import NOT_ACKNOWLEDGED
from departments.services.returns import RETURN_UPHELD
from departments.services.selection import NO_OTHER_UNIT_AVAILABLE, NO_UNIT_AVAILABLE, UNIT_NEAREST
from departments.services.work_orders import INCIDENT_ENDED, INCIDENT_STOOD_DOWN
from dispatch.core.models.timeline import chain_hash
from dispatch.core.timeline import GENESIS_HASH, reason_data
from dispatch.models import Incident, TimelineEvent
from workflows.models import WorkflowVersion

BATCH = 2000  # incidents per transaction
REASONS = {
    r.code: r
    for r in (
        NOT_ACKNOWLEDGED,
        RETURN_UPHELD,
        NO_OTHER_UNIT_AVAILABLE,
        NO_UNIT_AVAILABLE,
        UNIT_NEAREST,
        INCIDENT_ENDED,
        INCIDENT_STOOD_DOWN,
    )
}
HOURS = (
    0.25,
    0.18,
    0.14,
    0.12,
    0.14,
    0.25,
    0.55,
    1.0,
    1.35,
    1.3,
    1.15,
    1.1,
    1.05,
    1.05,
    1.05,
    1.1,
    1.25,
    1.45,
    1.4,
    1.1,
    0.9,
    0.7,
    0.5,
    0.35,
)
SEVERITY = ((1, 2, 3, 4, 5), (0.12, 0.3, 0.35, 0.16, 0.07), (0.05, 0.2, 0.35, 0.25, 0.15))  # values, usual, surge
DISTRICT_WEIGHTS = (1.6, 1.3, 1.0, 0.9, 0.7, 0.5)
_ENCODER = DjangoJSONEncoder(ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True)
class Period:
    """``start`` inclusive to ``end`` exclusive (aware); nothing is recorded after ``end``."""

    start: datetime
    end: datetime

    @classmethod
    def of(cls, *, year: int | None = None, days: int | None = None, now: datetime | None = None) -> Period:
        now = now or timezone.now()
        zone = timezone.get_default_timezone()
        if year is not None:
            start = datetime(year, 1, 1, tzinfo=zone)
            end = min(datetime(year + 1, 1, 1, tzinfo=zone), now)
        else:
            today = timezone.localtime(now, zone).date()
            start = datetime.combine(today - timedelta(days=days or 365), datetime.min.time(), tzinfo=zone)
            end = now
        if end <= start:
            raise ValueError(f"the period {start:%Y-%m-%d} to {end:%Y-%m-%d} is empty (in the future?)")
        return cls(start=start, end=end)


class Calendar:
    """When incidents happen: per local day a weight per event type (weekday, season, storm surge days), per hour a
    weight (night low, morning and evening peaks)."""

    def __init__(self, period: Period, codes: list[str], rng: random.Random) -> None:
        zone = timezone.get_default_timezone()
        first = timezone.localtime(period.start, zone).date()
        last = timezone.localtime(period.end, zone).date()
        self.days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
        season = [d for d in self.days if (6, 1) <= (d.month, d.day) <= (9, 15)]
        self.surge = set(rng.sample(season, min(len(season), 10))) if season else set()
        self.surge |= {d + timedelta(days=1) for d in self.surge}
        self.codes, self.period, self.zone = codes, period, zone
        self.midnight = [datetime.combine(d, datetime.min.time(), tzinfo=zone).timestamp() for d in self.days]
        self.type_cum: list[list[float]] = []
        totals = []
        for day in self.days:
            weights = [self._weight(code, day) for code in codes]
            self.type_cum.append(_cumulative(weights))
            totals.append(sum(weights))
        self.day_cum = _cumulative(totals)
        self.hour_cum = _cumulative(HOURS)

    def _weight(self, code: str, day: date) -> float:
        weight = TYPE_WEIGHT.get(code, 0.1)
        storm, surge = (6, 1) <= (day.month, day.day) <= (9, 15), day in self.surge
        if code == "waterlogging":
            weight *= 25 if surge else 3 if storm else 0.4
        elif code == "road_collapse":
            weight *= 3 if surge else 1.5 if storm else 1
        elif code == "air_pollution":
            weight *= 1.8 if day.month in (12, 1, 2) else 0.8 if storm else 1
        elif code == "traffic_accident":
            weight *= (1.3 if surge else 1) * (0.8 if day.weekday() >= 5 else 1.08)
        return weight

    def sample(self, rng: random.Random, n: int) -> list[tuple[float, int, int]]:
        """``n`` creation times (POSIX seconds), sorted, each with its day's index and its event type's index."""
        start, end = self.period.start.timestamp(), self.period.end.timestamp()
        out = []
        days = rng.choices(range(len(self.days)), cum_weights=self.day_cum, k=n)
        hours = rng.choices(range(24), cum_weights=self.hour_cum, k=n)
        for day, hour in zip(days, hours, strict=True):
            at = self.midnight[day] + hour * 3600 + rng.random() * 3600
            if not start <= at < end:
                at = start + rng.random() * (end - start)  # the period's first or last day is a part of one
                day = bisect.bisect_right(self.midnight, at) - 1
            kind = bisect.bisect_left(self.type_cum[day], rng.random() * self.type_cum[day][-1])
            out.append((at, day, min(kind, len(self.codes) - 1)))
        out.sort()
        return out


def _cumulative(weights: Any) -> list[float]:
    out, total = [], 0.0
    for w in weights:
        total += w
        out.append(total)
    return out


# --- the tables ----------------------------------------------------------------------------------------------------


class Table:
    """A model's table as written here: columns in order, which hold JSON or times (converted per backend), and the
    defaults of the columns a row does not give."""

    def __init__(self, model: type[models.Model], *, skip_pk: bool = False) -> None:
        fields = [f for f in model._meta.concrete_fields if not (skip_pk and f.primary_key)]
        self.name = model._meta.db_table
        self.attnames = [f.attname for f in fields]
        self.columns = [f.column for f in fields]
        self.json = [i for i, f in enumerate(fields) if isinstance(f, models.JSONField)]
        self.times = [i for i, f in enumerate(fields) if isinstance(f, models.DateTimeField)]
        # A column a story says nothing about (one added later) gets its field's default.
        self.defaults = [f.get_default() for f in fields]

    def row(self, values: dict[str, Any], sqlite: bool) -> tuple:
        row = [values.get(name, default) for name, default in zip(self.attnames, self.defaults, strict=True)]
        for i in self.json:
            row[i] = None if row[i] is None else json.dumps(row[i], cls=DjangoJSONEncoder, ensure_ascii=False)
        if sqlite:  # Django stores naive UTC text on SQLite
            for i in self.times:
                if row[i] is not None:
                    row[i] = str(row[i].astimezone(UTC).replace(tzinfo=None))
        return tuple(row)


def _write(table: Table, rows: list[tuple]) -> None:
    if not rows:
        return
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table.name} ({', '.join(table.columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join(["%s"] * len(table.columns))
            cursor.executemany(f"INSERT INTO {table.name} ({', '.join(table.columns)}) VALUES ({marks})", rows)  # noqa: S608


def _ids(model: type[models.Model], n: int) -> list[int]:
    """``n`` new ids from the table's own sequence (on SQLite: above the largest, under the write lock)."""
    if n == 0:
        return []
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)", [table, n])
            return [row[0] for row in cursor.fetchall()]
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")  # noqa: S608 - our own table name
        top = cursor.fetchone()[0]
        cursor.execute("SELECT COALESCE(MAX(seq), 0) FROM sqlite_sequence WHERE name = %s", [table])
        top = max(top, cursor.fetchone()[0])
        return list(range(top + 1, top + 1 + n))


_reasons: dict[str, dict] = {}


def _reason(code: str, params: dict) -> dict:
    """What a row stores of a reason (rendered once per distinct reason and parameters)."""
    key = code + repr(params)
    found = _reasons.get(key)
    if found is None:
        found = _reasons[key] = reason_data(REASONS[code](**params))
    return found


# --- a story applied -----------------------------------------------------------------------------------------------


@dataclass
class Applied:
    """A story's rows: the incident's and its orders' values, the timeline rows, and the facts."""

    incident: dict[str, Any]
    orders: list[Order]
    rows: list[dict[str, Any]]
    facts: Facts


def story_apply(story: Story, *, incident_id: int, end: datetime, city: City) -> Applied:
    """Apply the steps in time order up to ``end``: the rows they record (data as the engine writes it), the
    incident's and orders' final values, and the facts folded from those rows."""
    flow = story.flow
    incident: dict[str, Any] = {"sla_breached_at": None, "updated_at": story.created_at}
    for planned in story.orders:
        planned.attempts, planned.tried = 0, []
    rows: list[dict[str, Any]] = []
    for at, _n, order, kind, actor, changes, extra in sorted(story.steps, key=_when):
        if at >= end:
            break
        if order is None:
            incident.update(changes)
            incident["updated_at"] = at
            data = extra
        else:
            unit, attempt = order.unit, order.attempts
            for name, value in changes.items():
                setattr(order, name, value)
            if "unit" in changes and order.unit is not None:
                order.tried.append(order.unit[0])
            order.updated_at = at
            data = {
                "work_order": order.id,
                "department": order.department,
                "state": order.state,
                "unit": order.unit[1] if order.unit else None,
                "dispatch_round": order.dispatch_round,
                "ack_timeout_seconds": order.ack_timeout_seconds,
                "due_at": order.due_at.isoformat() if order.due_at else None,
            }
            for name, value in extra.items():
                if name == "_reason":
                    data.update(_reason(*value))
                elif name == "_from_unit":
                    data["from_unit"] = unit[1] if unit else None
                elif name == "_attempt":
                    data["attempt"] = attempt
                else:
                    data[name] = value
            if kind == "work_order.expired":
                data["unit"] = unit[1] if unit else None
        rows.append(
            {
                "incident": incident_id,
                "kind": kind,
                "at": at,
                "data": data,
                "actor_id": actor[0],
                "actor": actor[1],
                "work_order": order.id if order is not None else None,
                "_order": order,
            }
        )
    orders = [o for o in story.orders if any(r["_order"] is o for r in rows)]
    info = {
        o.id: {"dispatch_round": o.dispatch_round, "ack_timeout_seconds": o.ack_timeout_seconds, "due_at": o.due_at}
        for o in orders
    }
    facts = Facts(incident=None, states=state_kinds(_version(flow.version_id)))
    prev = GENESIS_HASH
    for seq, row in enumerate(rows, start=1):
        row["seq"], row["prev_hash"] = seq, prev
        prev = row["hash"] = chain_hash(
            prev_hash=prev,
            incident_id=incident_id,
            seq=seq,
            kind=row["kind"],
            actor=row["actor"],
            at=row["at"].isoformat(),
            data=row["data"],
        )
        if folds(row["kind"]):
            row["order"] = info.get(row["work_order"])
            facts = fold(facts, row)
    return Applied(incident=incident, orders=orders, rows=rows, facts=facts)


_versions: dict[int, WorkflowVersion] = {}


def _version(pk: int) -> WorkflowVersion:
    if pk not in _versions:
        _versions[pk] = WorkflowVersion.objects.get(pk=pk)
    return _versions[pk]


def _incident_values(story: Story, applied: Applied, incident_id: int, city: City) -> dict[str, Any]:
    flow, values = story.flow, applied.incident
    state = values["state"]
    local = timezone.localtime(story.created_at)
    sla = flow.sla(state)
    return {
        "id": incident_id,
        "number": f"H-{local:%Y%m%d}-{incident_id}",
        "event_type_id": flow.event_type_id,
        "workflow_version_id": flow.version_id,
        "state": state,
        "severity": story.severity,
        "title": f"{flow.spec.name.get('en', flow.code)}, {story.district[1]}",
        "description": "",
        "lat": story.lat,
        "lon": story.lon,
        "address": "",
        "district_id": story.district[0],
        "location_outside_city": False,
        "reporter_name_sealed": "",
        "reporter_phone_sealed": "",
        "reporter_confidential": False,
        "source": story.source,
        "external_id": "",
        "intake_hash": "",
        "dispatch_round": values["dispatch_round"],
        "state_entered_at": values["state_entered_at"],
        "sla_due_at": values["state_entered_at"] + timedelta(seconds=sla) if sla else None,
        "sla_clock": {"state": state, "used": 0} if sla else {},
        "sla_breached_at": values["sla_breached_at"],
        "urgency": story.severity,
        "activation_id": None,
        "merged_into_id": None,
        "merged_at": None,
        "merged_automatically": False,
        "report_count": 1,
        "exercise": story.exercise,
        "major_event_id": None,
        "created_by_id": city.dispatcher[0],
        "created_at": story.created_at,
        "updated_at": values["updated_at"],
    }


def _order_values(order: Order, incident_id: int, city: City) -> dict[str, Any]:
    returned = order.returned_at is not None
    return {
        "id": order.id,
        "incident_id": incident_id,
        "department_id": order.department_id,
        "unit_id": order.unit[0] if order.unit else None,
        "dispatch_round": order.dispatch_round,
        "state": order.state,
        "priority": order.priority,
        "ack_timeout_seconds": order.ack_timeout_seconds,
        "ack_due_at": order.offered_at + timedelta(seconds=order.ack_timeout_seconds)
        if order.state == "offered" and order.offered_at
        else None,
        "due_at": order.due_at,
        "attempts": order.attempts,
        "max_attempts": order.max_attempts,
        "escalation": None,
        "escalated_at": order.escalated_at,
        "tried_unit_ids": order.tried,
        "accepted_by_id": order.accepted_by_id,
        "offered_at": order.offered_at,
        "accepted_at": order.accepted_at,
        "completed_at": order.completed_at,
        "handling_seconds": order.handling_seconds,
        "paused_at": None,
        "pause_reason": "",
        "pause_note": "",
        "paused_seconds": 0.0,
        "breached_at": order.breached_at,
        "returned_at": order.returned_at,
        "returned_by_id": city.staff[order.department][0] if returned else None,
        "return_reason": order.return_reason,
        "return_note": "not ours" if returned else "",
        "return_count": order.return_count,
        "replaced_by_id": order.replaced_by.id if order.replaced_by is not None and order.replaced_by.id else None,
        "created_at": order.created_at,
        "updated_at": order.updated_at or order.created_at,
    }


# --- the seed ------------------------------------------------------------------------------------------------------


@dataclass
class SeedResult:
    seconds: float
    rows: dict[str, int]
    period: Period


@dataclass
class _Run:
    """What every batch of one seed shares (forked worker processes inherit it)."""

    city: City
    calendar: Calendar
    codes: list[str]
    times: list[tuple[float, int, int]]
    district_cum: list[float]
    tables: dict[str, Table]
    period: Period
    seed: int
    batch: int


_run: _Run | None = None  # the seed under way, for forked workers


def history_seed(
    *,
    incidents: int,
    period: Period,
    seed: int = 1,
    batch: int = BATCH,
    workers: int = 1,
    progress: Callable[[int, int, float], None] | None = None,
) -> SeedResult:
    """Write ``incidents`` invented incidents over ``period`` (see the module), ``batch`` per transaction; on
    PostgreSQL ``workers`` processes invent and write batches side by side (each incident's story is the same
    whichever process takes it)."""
    global _run
    began = time.perf_counter()
    city = City.load()
    codes = sorted(city.flows)
    for flow in city.flows.values():
        state_kinds(_version(flow.version_id))  # parsed once, before any fork
    calendar = Calendar(period, codes, random.Random(f"{seed}:calendar"))
    weights = DISTRICT_WEIGHTS[: len(city.districts)] + (0.5,) * max(0, len(city.districts) - len(DISTRICT_WEIGHTS))
    tables = {
        name: Table(model, skip_pk=name == "timeline")
        for name, model in (
            ("incidents", Incident),
            ("work_orders", WorkOrder),
            ("timeline", TimelineEvent),
            ("incident_facts", IncidentFact),
            ("order_facts", OrderFact),
        )
    }
    _run = _Run(
        city=city,
        calendar=calendar,
        codes=codes,
        tables=tables,
        period=period,
        seed=seed,
        batch=batch,
        times=calendar.sample(random.Random(f"{seed}:times"), incidents),
        district_cum=_cumulative(weights),
    )
    counts = dict.fromkeys(tables, 0)
    done = 0
    batches = list(enumerate(range(0, incidents, batch)))
    try:
        if workers > 1 and connection.vendor == "postgresql":
            connection.close()  # each process opens its own
            with multiprocessing.get_context("fork").Pool(workers) as pool:
                results = pool.imap_unordered(_seed_batch_in_worker, batches)
                for n, written in results:
                    done += n
                    for name, count in written.items():
                        counts[name] += count
                    if progress is not None:
                        progress(done, incidents, time.perf_counter() - began)
        else:
            for number, first in batches:
                n, written = _seed_batch(number, first)
                done += n
                for name, count in written.items():
                    counts[name] += count
                if progress is not None:
                    progress(done, incidents, time.perf_counter() - began)
    finally:
        _run = None
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            for table in tables.values():
                cursor.execute(f"ANALYZE {table.name}")
    return SeedResult(seconds=time.perf_counter() - began, rows=counts, period=period)


def _seed_batch_in_worker(task: tuple[int, int]) -> tuple[int, dict[str, int]]:
    try:
        return _seed_batch(*task)
    finally:
        connection.close()  # the pool's process may be given another batch: a fresh connection is cheap


def _seed_batch(number: int, first: int) -> tuple[int, dict[str, int]]:
    """Invent and write one batch (each incident its own random generator: the same story whichever process or
    batch takes it)."""
    run = _run
    assert run is not None
    city, tables, sqlite = run.city, run.tables, connection.vendor != "postgresql"
    planner = Planner(city, random.Random())
    stories = []
    for index, (at, day, kind) in enumerate(run.times[first : first + run.batch], start=first):
        planner.rng = rng = random.Random(f"{run.seed}:{index}")  # per incident: the same whatever the batches
        surge = run.calendar.days[day] in run.calendar.surge
        district = city.districts[bisect.bisect_left(run.district_cum, rng.random() * run.district_cum[-1])]
        severity = rng.choices(SEVERITY[0], weights=SEVERITY[2 if surge else 1])[0]
        stories.append(
            planner.story(
                created_at=datetime.fromtimestamp(round(at, 6), UTC),
                flow=city.flows[run.codes[kind]],
                district=district,
                severity=severity,
                surge=surge,
            )
        )
    out: dict[str, list[tuple]] = {name: [] for name in tables}
    with transaction.atomic():
        incident_ids = _ids(Incident, len(stories))
        order_ids = iter(_ids(WorkOrder, sum(len(s.orders) for s in stories)))
        for story, incident_id in zip(stories, incident_ids, strict=True):
            for order in story.orders:
                order.id = next(order_ids)
            applied = story_apply(story, incident_id=incident_id, end=run.period.end, city=city)
            out["incidents"].append(
                tables["incidents"].row(_incident_values(story, applied, incident_id, city), sqlite)
            )
            out["work_orders"].extend(
                tables["work_orders"].row(_order_values(o, incident_id, city), sqlite) for o in applied.orders
            )
            for row in applied.rows:
                out["timeline"].append(
                    tables["timeline"].row(
                        {
                            "incident_id": incident_id,
                            "seq": row["seq"],
                            "kind": row["kind"],
                            "actor_id": row["actor_id"],
                            "actor_label": row["actor"],
                            "work_order_id": row["work_order"],
                            "data": row["data"],
                            "at": row["at"],
                            "prev_hash": row["prev_hash"],
                            "hash": row["hash"],
                        },
                        sqlite,
                    )
                )
            facts = applied.facts
            assert facts.incident is not None  # every story starts with its creation
            out["incident_facts"].append(
                tables["incident_facts"].row({name: facts.incident[name] for name in INCIDENT_FIELDS}, sqlite)
            )
            out["order_facts"].extend(
                tables["order_facts"].row({name: values[name] for name in ORDER_FIELDS}, sqlite)
                for values in facts.orders.values()
            )
        for name, rows in out.items():  # foreign keys are checked at commit: the order of the tables is free
            _write(tables[name], rows)
    return len(stories), {name: len(rows) for name, rows in out.items()}


def progress_bar(stream: Any = sys.stderr) -> Callable[[int, int, float], None]:
    """A status line on ``stream``: incidents written, of how many, and the rate."""

    def show(done: int, total: int, seconds: float) -> None:
        stream.write(f"\r{done:,}/{total:,} incidents, {done / max(seconds, 1e-9):,.0f}/s, {seconds:,.0f} s")
        if done >= total:
            stream.write("\n")
        stream.flush()

    return show
