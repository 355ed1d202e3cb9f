"""The audit records' table (``identity.AuditRecord``) as a logging handler of ``liandong.audit``: every record that
goes to the JSON log is also a row, whichever code wrote it (settings: LOGGING)."""

from __future__ import annotations

import asyncio
import logging

from dispatch.runtime.logs import record_fields

_writing: set = set()  # rows being written from an event loop (a task needs a reference until it is done)


class AuditTableHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        try:
            fields = record_fields(record)
            row = {
                "event": str(fields.pop("event", record.getMessage()))[:64],
                "username": str(fields.pop("username", None) or "")[:150],
                "address": str(fields.pop("address", None) or "")[:64],
                "data": fields,
                "level": record.levelname,
            }
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                loop = None
            if loop is None:
                _insert(row, record.created)
            else:  # an event loop's thread may not touch the database: the row is written from a thread
                from channels.db import database_sync_to_async

                task = loop.create_task(database_sync_to_async(_insert)(row, record.created))
                _writing.add(task)
                task.add_done_callback(_writing.discard)
        except Exception:  # noqa: BLE001 - logging must never break what is being logged
            self.handleError(record)


def _insert(row: dict, created: float) -> None:
    from datetime import UTC, datetime

    from identity.models import AuditRecord

    AuditRecord.objects.create(at=datetime.fromtimestamp(created, tz=UTC), **row)
