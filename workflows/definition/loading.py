"""Loading a definition's YAML text (safely, refusing duplicate keys)."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import yaml

from .spec import DefinitionInvalid


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that refuses duplicate mapping keys (PyYAML silently keeps the last one)."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
    seen = set()
    for key_node, _value in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            hash(key)
        except TypeError:
            raise DefinitionInvalid([f"line {key_node.start_mark.line + 1}: a key must be a plain name"]) from None
        if key in seen:
            raise DefinitionInvalid([f"line {key_node.start_mark.line + 1}: duplicate name {key!r}"])
        seen.add(key)
    return loader.construct_mapping(node, deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_yaml(text: str) -> dict[str, Any]:
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise DefinitionInvalid([f"not valid YAML: {exc}"]) from exc
    if not isinstance(data, dict):
        raise DefinitionInvalid(["the definition must be a mapping"])
    return data
