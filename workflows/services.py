"""Publishing workflow definitions as new immutable versions."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import Max
from django.utils.translation import gettext as _

from dispatch.core.errors import Invalid
from workflows.definition import Definition, DefinitionInvalid, load_yaml, parse_definition
from workflows.models import EventType, WorkflowVersion

if TYPE_CHECKING:
    from dispatch.models import User

DEFINITIONS_DIR = Path(__file__).resolve().parent / "definitions"


_department_codes: list[Callable[[], set[str]]] = []


def department_codes_source(source: Callable[[], set[str]]) -> None:
    """Tell definition validation where department codes come from (``DepartmentsConfig.ready`` does), so
    that this app imports none of departments' models."""
    _department_codes[:] = [source]


def known_departments() -> set[str]:
    """Codes a definition may dispatch to; without a source (no departments app), every code is unknown."""
    return _department_codes[0]() if _department_codes else set()


def definition_checksum(definition: Definition) -> str:
    body = json.dumps(definition.to_normalized(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(body.encode()).hexdigest()


def workflow_publish(*, actor: User | None, raw: dict | str, source: str = "") -> tuple[WorkflowVersion, bool]:
    """Validate and publish a definition (YAML text or a loaded mapping) as the active version.

    Returns ``(version, created)``; a definition identical to the active version publishes nothing.
    Raises ``Invalid`` listing every problem. Running incidents keep the version they started with.
    """
    try:
        data = load_yaml(raw) if isinstance(raw, str) else raw
        definition = parse_definition(data, departments=known_departments())
    except DefinitionInvalid as exc:
        raise Invalid(_("The workflow definition is invalid."), {"definition": exc.errors}) from exc
    if isinstance(raw, str):
        source = source or raw
    checksum = definition_checksum(definition)
    with transaction.atomic():
        event_type, _created = EventType.objects.select_for_update().get_or_create(
            code=definition.code, defaults={"name": definition.name}
        )
        active = event_type.active_version
        if active is not None and active.checksum == checksum:
            return active, False
        number = (event_type.versions.aggregate(n=Max("version"))["n"] or 0) + 1
        version = WorkflowVersion.objects.create(
            event_type=event_type, version=number, definition=definition.to_normalized(),
            source=source or json.dumps(data, ensure_ascii=False, indent=2), checksum=checksum,
            created_by=actor if actor is not None and actor.pk else None,
        )
        event_type.active_version = version
        event_type.name = definition.name
        event_type.save(update_fields=["active_version", "name"])
    return version, True


def workflows_load_directory(*, directory: Path = DEFINITIONS_DIR) -> list[tuple[str, int, bool]]:
    """Publish every ``*.yaml`` in ``directory``; returns ``(code, version, created)`` for each.

    All files are validated before any is published, so a bad file leaves the database untouched.
    """
    problems: list[str] = []
    texts: list[str] = []
    departments = known_departments()
    for path in sorted(directory.glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        try:
            definition = parse_definition(load_yaml(text), departments=departments)
        except DefinitionInvalid as exc:
            problems.extend(f"{path.name}: {e}" for e in exc.errors)
            continue
        if definition.code != path.stem:
            problems.append(f"{path.name}: code {definition.code!r} does not match the file name")
        texts.append(text)
    if problems:
        raise Invalid(_("Invalid workflow definitions."), {"definition": problems})
    results = []
    with transaction.atomic():
        for text in texts:
            version, created = workflow_publish(actor=None, raw=text)
            results.append((version.event_type.code, version.version, created))
    return results
