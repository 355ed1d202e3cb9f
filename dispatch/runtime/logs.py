"""JSON log lines for audit records (authentication, denied access, PII reveals)."""

import json
import logging

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record):
        body = {"at": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"), "level": record.levelname,
                "logger": record.name, "message": record.getMessage()}
        body.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        return json.dumps(body, ensure_ascii=False, default=str)
