"""What the server did with the surge benchmark's load, read from its database: routing backlog, stream heads,
routing latency from the timeline, events lost by the consoles and the audit of expected events."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from benchmarks.drive import Phase

ROUTED_KINDS = ("work_order.offered", "work_order.queued")


class Measurements:
    """The database side of ``benchmarks.drive.Bench`` (a mixin: it uses the bench's ``db`` connection, None when
    the server's database is not known, and its ``consoles``, ``options`` and ``note``)."""

    async def query(self, sql: str, params=None) -> list[tuple]:
        async with self.db.cursor() as cursor:
            await cursor.execute(sql, params)
            return await cursor.fetchall()

    async def backlog(self) -> int | None:
        if self.db is None:
            return None
        rows = await self.query("SELECT count(*) FROM dispatch_outboxjob WHERE kind = 'incident.route' AND state = 'pending'")
        return rows[0][0]

    async def heads(self) -> dict[str, int] | None:
        if self.db is None:
            return None
        return dict(await self.query("SELECT stream, last FROM dispatch_streamcounter"))

    async def wait_drained(self, phase: Phase, t0: float) -> float | None:
        """Seconds from the phase start until no routing job is pending (None without database access)."""
        if self.db is None:
            return None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.options.drain_timeout
        while loop.time() < deadline:
            if await self.backlog() == 0:
                return round(loop.time() - t0, 3)
            await asyncio.sleep(0.2)
        self.note(f"{phase.profile}: routing backlog not drained within {self.options.drain_timeout}s")
        return None

    async def wait_caught_up(self, phase: Phase, timeout: float = 30) -> None:
        heads = await self.heads()
        if heads is None:
            await asyncio.sleep(1.0)
            return
        phase.marks["heads"] = heads
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all((c.last or 0) >= heads.get(c.stream, 0) for c in self.consoles):
                return
            await asyncio.sleep(0.1)

    def consoles_lost(self, phase: Phase) -> dict:
        heads = phase.marks.get("heads")
        out = {"gaps": sum(len(c.gaps) for c in self.consoles), "duplicates": sum(c.duplicates for c in self.consoles),
               "received": sum(c.received for c in self.consoles), "drops": sum(c.drops for c in self.consoles)}
        out["lost"] = (sum(c.lost(heads.get(c.stream, 0)) for c in self.consoles) if heads is not None
                       else sum(b - a + 1 for c in self.consoles for a, b in c.gaps))
        if phase.kind == "incident" and phase.marks.get("storm_s") is not None:
            out["storm_caught_up"] = phase.caught_up
            out["storm_consoles"] = len(self.consoles)
        return out

    async def measure_routing(self, phase: Phase) -> None:
        """Commit -> every work order of the first dispatch round offered, from the timeline; for a hotline report
        that waited for its triage, from the triage's commit (the latest transition before the first offer)."""
        if self.db is None or not phase.incidents:
            return
        ids = [i for i, _ in phase.incidents]
        rows = await self.query(
            """
            SELECT c.incident_id, c.at, max(f.first_at), count(f.work_order_id)
            FROM (
                SELECT e.incident_id, max(e.at) AS at FROM dispatch_timelineevent e
                WHERE e.kind IN ('incident.created', 'incident.transitioned') AND e.incident_id = ANY(%s)
                  AND e.at <= coalesce((SELECT min(t.at) FROM dispatch_timelineevent t
                                        WHERE t.incident_id = e.incident_id AND t.kind = ANY(%s)), e.at)
                GROUP BY e.incident_id
            ) c
            LEFT JOIN (
                SELECT wo.incident_id, wo.id AS work_order_id, min(t.at) AS first_at
                FROM departments_workorder wo JOIN dispatch_timelineevent t ON t.work_order_id = wo.id
                WHERE wo.dispatch_round = 1 AND t.kind = ANY(%s) AND wo.incident_id = ANY(%s)
                GROUP BY wo.incident_id, wo.id
            ) f ON f.incident_id = c.incident_id
            GROUP BY c.incident_id, c.at
            """,
            [ids, list(ROUTED_KINDS), list(ROUTED_KINDS), ids],
        )
        unrouted, routed_at = 0, {}
        for incident_id, created_at, last_offered, orders in rows:
            if not orders:
                unrouted += 1
                continue
            phase.routing.record((last_offered - created_at).total_seconds() * 1000)
            routed_at[incident_id] = last_offered.timestamp()
        phase.marks["unrouted"] = unrouted + (len(ids) - len(rows))
        phase.marks["orders"] = sum(r[3] for r in rows)
        burst_end = phase.marks.get("burst_end_s")
        if burst_end is not None:
            end_wall = phase.marks["wall_start"] + burst_end
            until_end = [routed_at[i] for i, scheduled in phase.incidents if scheduled < end_wall and i in routed_at]
            phase.marks["drain_after_burst_s"] = round(max(0.0, max(until_end) - end_wall), 3) if until_end else None
            phase.marks["backlog_peak"] = max((n for _, n in phase.backlog), default=None)
        phase.marks["expected_orders"] = await self.query(
            "SELECT wo.id, d.code FROM departments_workorder wo JOIN departments_department d ON d.id = wo.department_id "
            "WHERE wo.dispatch_round = 1 AND wo.incident_id = ANY(%s)", [ids])

    def audit(self, phase: Phase) -> dict | None:
        """Expected events never received, checked on one console of each stream: an incident.created for
        every incident accepted (console stream), an offer for every first-round work order (its streams)."""
        if phase.kind != "incident" or "expected_orders" not in phase.marks:
            return None
        missing = 0
        for console in self.consoles:
            if not console.audit:
                continue
            if console.stream == "console":
                missing += sum(1 for i, _ in phase.incidents if i not in console.created_seen)
                missing += sum(1 for wo, _ in phase.marks["expected_orders"] if wo not in console.offered_seen)
            else:
                code = console.stream.split(".", 1)[1]
                missing += sum(1 for wo, c in phase.marks["expected_orders"] if c == code and wo not in console.offered_seen)
        del phase.marks["expected_orders"]
        return {"missing_expected": missing}
