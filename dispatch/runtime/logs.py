"""JSON log lines for audit records (authentication, denied access, PII reveals; the table: identity/audit.py)."""

import json
import logging

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def record_fields(record: logging.LogRecord) -> dict:
    """What the caller gave a record (``extra=``), as JSON values (anything else as its text)."""
    return json.loads(json.dumps({k: v for k, v in vars(record).items() if k not in _STANDARD}, default=str))


class JsonFormatter(logging.Formatter):
    def format(self, record):
        body = {"at": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"), "level": record.levelname,
                "logger": record.name, "message": record.getMessage()}
        body.update(record_fields(record))
        return json.dumps(body, ensure_ascii=False, default=str)
