"""Reading user YAML strictly: plain safe YAML (no tags that build objects) and no duplicate keys, which
plain ``yaml.safe_load`` silently resolves to the last one."""
from __future__ import annotations

from typing import Any

import yaml

from imcnas.errors import ConfigError

__all__ = ["load_yaml"]


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a mapping with the same key twice."""


def _mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            continue  # SafeLoader reports unhashable keys itself
        if key in seen:
            raise ConfigError(f"line {key_node.start_mark.line + 1}: key '{key}' appears twice in one mapping "
                              f"(first on line {seen[key] + 1})")
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def load_yaml(text: str, origin: str) -> Any:
    """Parse YAML text; errors (syntax, tags, duplicate keys) are one-line ConfigErrors naming ``origin``."""
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except ConfigError as err:
        raise ConfigError(f"{origin}: {err}") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{origin}: cannot read YAML: {str(err).splitlines()[0]}") from None
