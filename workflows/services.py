"""Publishing workflow definitions as new immutable versions."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from django.utils.translation import gettext as _

from dispatch.core.definitions import directory_publish, normalized_checksum, version_publish
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
    return normalized_checksum(definition.to_normalized())


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
    return version_publish(
        owners=EventType, versions=WorkflowVersion, owner_field="event_type", content_field="definition",
        code=definition.code, name=definition.name, normalized=definition.to_normalized(),
        source=source or json.dumps(data, ensure_ascii=False, indent=2), actor=actor,
    )


def workflows_load_directory(*, directory: Path = DEFINITIONS_DIR) -> list[tuple[str, int, bool]]:
    """Publish every ``*.yaml`` in ``directory``, all or nothing; returns ``(code, version, created)`` for each."""
    departments = known_departments()

    def check(text: str) -> tuple[str | None, list[str]]:
        try:
            return parse_definition(load_yaml(text), departments=departments).code, []
        except DefinitionInvalid as exc:
            return None, exc.errors

    def publish(text: str) -> tuple[str, int, bool]:
        version, created = workflow_publish(actor=None, raw=text)
        return version.event_type.code, version.version, created

    return directory_publish(directory=directory, check=check, publish=publish,
                             invalid=_("Invalid workflow definitions."))
