"""Versioned definitions: data an administrator publishes as immutable, checksummed versions, the newest
active (workflow definitions in ``workflows``, response plans in ``plans``). Each app parses and validates its
own grammar; what they share lives here: the checksum of a normalized definition, publishing a new version
unless the active one is identical, and loading a folder of YAML files all or nothing.

An owner model has ``code``, ``name`` and ``active_version``; its version model has ``version``, ``source``,
``checksum``, ``created_by`` and a JSON field with the normalized definition.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.db import transaction
from django.db.models import Max

from dispatch.core.errors import Invalid

audit_log = logging.getLogger("liandong.audit")


def normalized_checksum(normalized: dict) -> str:
    """The checksum of a normalized definition: the same content gives the same checksum, whatever its order."""
    body = json.dumps(normalized, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(body.encode()).hexdigest()


def version_publish(
    *, owners: Any, versions: Any, owner_field: str, content_field: str,
    code: str, name: dict, normalized: dict, source: str, actor: Any,
) -> tuple[Any, bool]:
    """Make ``normalized`` the active version of the owner ``code`` (``owners``: the owner model, ``versions``:
    its version model, ``owner_field`` / ``content_field``: the version's fields for them), created if new and
    numbered after the last one. Returns ``(version, created)``: a definition identical to the active version publishes nothing. The
    owner row is locked, so two publishers never take the same number."""
    checksum = normalized_checksum(normalized)
    with transaction.atomic():
        owner, _created = owners.objects.select_for_update(no_key=True).get_or_create(code=code, defaults={"name": name})
        active = owner.active_version
        if active is not None and active.checksum == checksum:
            return active, False
        last = versions.objects.filter(**{owner_field: owner}).aggregate(n=Max("version"))["n"]
        version = versions.objects.create(
            **{owner_field: owner, content_field: normalized}, version=(last or 0) + 1, source=source,
            checksum=checksum, created_by=actor if actor is not None and actor.pk else None,
        )
        owner.active_version = version
        owner.name = name
        owner.save(update_fields=["active_version", "name"])
        audit_log.info("definition.published", extra={
            "event": "definition.published", "username": getattr(actor, "username", None),
            "definition": versions._meta.label, "code": code, "version": version.version, "checksum": checksum})
    return version, True


def directory_publish(
    *, directory: Path, check: Callable[[str], tuple[str | None, list[str]]],
    publish: Callable[[str], tuple[str, int, bool]], invalid: str,
) -> list[tuple[str, int, bool]]:
    """Publish every ``*.yaml`` in ``directory`` (``publish(text)`` -> ``(code, version, created)``), all or
    nothing: every file is first checked (``check(text)`` -> ``(code, problems)``) and each file's code must be
    its name, so one bad file leaves the database untouched (``Invalid`` with ``invalid`` and every problem)."""
    problems: list[str] = []
    texts: list[str] = []
    for path in sorted(directory.glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        code, found = check(text)
        problems.extend(f"{path.name}: {problem}" for problem in found)
        if found:
            continue
        if code != path.stem:
            problems.append(f"{path.name}: code {code!r} does not match the file name")
        texts.append(text)
    if problems:
        raise Invalid(invalid, {"definition": problems})
    with transaction.atomic():
        return [publish(text) for text in texts]
