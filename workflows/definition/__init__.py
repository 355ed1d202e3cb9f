"""Workflow definitions: parsing and validation (pure; no database access).

A definition is data (YAML or JSON, see ``workflows/definitions/*.yaml`` and README "Workflow
definitions"). ``parse_definition`` checks everything at once and raises ``DefinitionInvalid`` with
every problem found, each prefixed by where it is (``states.reported.sla: ...``).

The package: ``spec`` (constants, ``DefinitionInvalid`` and the parsed dataclasses), ``loading``
(``load_yaml``), ``fields`` (checks of single fields, ``parse_duration``) and ``parse``
(``parse_definition``, section by section, then the checks across sections).
"""

from .fields import parse_duration
from .loading import load_yaml
from .parse import parse_definition
from .spec import (
    BASE_ROLES,
    DEFAULT_ACK_TIMEOUTS,
    DEFAULT_DUPLICATES,
    DEFAULT_MAX_ATTEMPTS,
    DEPARTMENT_ROLES,
    DISPATCH_KEYS,
    DURATION_RE,
    MAX_DURATION_SECONDS,
    NAME_RE,
    PRIORITIES,
    SOURCES,
    STATE_KEYS,
    TOP_KEYS,
    TRANSITION_KEYS,
    AutoAttachSpec,
    Definition,
    DefinitionInvalid,
    DispatchSpec,
    DuplicatesSpec,
    StateSpec,
    TransitionSpec,
)

__all__ = [
    "AutoAttachSpec",
    "DEFAULT_DUPLICATES",
    "DuplicatesSpec",
    "BASE_ROLES",
    "DEFAULT_ACK_TIMEOUTS",
    "DEFAULT_MAX_ATTEMPTS",
    "DEPARTMENT_ROLES",
    "DISPATCH_KEYS",
    "DURATION_RE",
    "MAX_DURATION_SECONDS",
    "NAME_RE",
    "PRIORITIES",
    "SOURCES",
    "STATE_KEYS",
    "TOP_KEYS",
    "TRANSITION_KEYS",
    "Definition",
    "DefinitionInvalid",
    "DispatchSpec",
    "StateSpec",
    "TransitionSpec",
    "load_yaml",
    "parse_definition",
    "parse_duration",
]
