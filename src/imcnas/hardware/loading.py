"""Loading chips: built-in presets, hardware YAML files (``base:`` merging, essential fields) and ``--set``
overrides, turned into validated ``Chip`` records (``load_chip``).

``spec`` re-exports this module's public names at its end; the package ``__init__`` imports ``spec`` first, so
``Chip`` and ``chip_from_dict`` are defined when this module imports them."""
from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import yaml

from imcnas.errors import ConfigError, UnknownNameError
from imcnas.hardware.spec import Chip, chip_from_dict
from imcnas.yamlio import load_yaml

__all__ = ["ESSENTIAL_FIELDS", "PRESET_DIR", "apply_overrides", "chip_data", "list_presets", "load_chip",
           "parse_override"]

PRESET_DIR = Path(__file__).parent / "presets"
ESSENTIAL_FIELDS = (("device", "type"), ("technology", "node_nm"))  # a hardware file must name these (or base:)


# ---------------------------------------------------------------------------------------------- presets
def list_presets() -> list[str]:
    """Names of the built-in chip presets."""
    return list(_preset_names())


@functools.lru_cache(maxsize=1)
def _preset_names() -> tuple[str, ...]:
    return tuple(sorted(p.stem for p in PRESET_DIR.glob("*.yaml")))


@functools.lru_cache(maxsize=None)
def _preset_data(name: str) -> dict[str, Any]:
    """A preset's YAML as read (cached; callers copy it)."""
    return _complete_file_data(PRESET_DIR / f"{name}.yaml")


@functools.lru_cache(maxsize=None)
def _preset_chip(name: str) -> Chip:
    """A preset as a Chip (cached, internal: the reference that display names are diffed against)."""
    return chip_from_dict(copy.deepcopy(_preset_data(name)), f"preset {name}")

# ------------------------------------------------------------------------------------------------ files
def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: cannot read: {err}") from None
    data = load_yaml(text, str(path))  # strict: a field written twice is an error, not the last one
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of hardware fields at the top level")
    return data


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` merged into ``base`` (in place): sections merge field by field; a device of another type
    replaces the base's device (it starts from its own type's preset, as a ``device.type`` override does)."""
    for key, value in over.items():
        old = base.get(key)
        if isinstance(value, dict) and isinstance(old, dict):
            if key == "device" and "type" in value and value["type"] != old.get("type"):
                base[key] = copy.deepcopy(value)
            else:
                _merge(old, value)
        else:
            base[key] = copy.deepcopy(value)
    return base


def _complete_file_data(path: Path) -> dict[str, Any]:
    """A hardware file's fields, its ``base:`` (a preset name or another hardware file, relative to this one)
    resolved. Without ``base:`` the file must name the essential fields (``ESSENTIAL_FIELDS``): a file that
    gave only a crossbar would otherwise be a default chip nobody described. A file that also has an unknown
    or out-of-range field gets that error first (it is the more specific)."""
    data, missing = _file_data(path)
    if missing:
        chip_from_dict(copy.deepcopy(data), str(path))
        raise ConfigError(missing)
    return data


def _file_data(path: Path, depth: int = 0) -> tuple[dict[str, Any], str | None]:
    """A hardware file's fields with ``base:`` resolved, and the message naming a missing essential field."""
    data = _read_yaml(path)
    if "base" in data:
        ref = data.pop("base")
        if not isinstance(ref, str) or not ref.strip():
            raise ConfigError(f"{path}: 'base' must name a preset or a hardware file, got {ref!r}")
        if depth > 8:
            raise ConfigError(f"{path}: 'base' files nest more than 8 deep (a cycle?)")
        if ref in _preset_names():
            merged, missing = copy.deepcopy(_preset_data(ref)), None
        else:
            other = Path(ref) if Path(ref).is_absolute() else path.parent / ref
            if other.suffix not in (".yaml", ".yml") or not other.is_file():
                raise UnknownNameError(f"base of {path}: hardware preset", ref, list(_preset_names()))
            merged, missing = _file_data(other, depth + 1)
        merged.pop("name", None)
        return _merge(merged, data), missing
    for section, key in ESSENTIAL_FIELDS:
        part = data.get(section)
        if not isinstance(part, dict) or key not in part:
            return data, (f"{path}: missing '{section}.{key}': a hardware file names its device type and "
                          f"technology node, or starts from a preset with 'base: PRESET' "
                          f"(presets: {', '.join(_preset_names())})")
    return data, None


def parse_override(text: str) -> tuple[list[str], Any]:
    """Split ``path.to.field=value`` into its path and a YAML-parsed value."""
    if "=" not in text:
        raise ConfigError(f"override '{text}': expected path.to.field=value")
    key, raw = text.split("=", 1)
    if not key.strip():
        raise ConfigError(f"override '{text}': empty field path")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        raise ConfigError(f"override '{text}': cannot parse the value '{raw}'") from None
    return key.strip().split("."), value


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``--set`` overrides to a nested dict (in place) and return it."""
    # a device type change resets the device section to that type's preset, so it is applied first and the
    # other device overrides of the same call survive it
    ordered = sorted(overrides, key=lambda t: 0 if t.replace(" ", "").startswith("device.type=") else 1)
    for text in ordered:
        path, value = parse_override(text)
        node = data
        for part in path[:-1]:
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise ConfigError(f"override '{text}': '{part}' is not a section")
            node = child
        if path == ["device", "type"] and isinstance(value, str) and node.get("type", "rram") != value:
            node.clear()  # a new device type starts from its own preset, not the old device's numbers
            # (the same type again changes nothing: device.type=pcm on a PCM chip keeps its device)
        node[path[-1]] = value
    return data


def chip_data(spec: str | Path | Chip) -> tuple[dict[str, Any], str, Chip | None]:
    """The fields of a preset name, hardware file or Chip as a fresh nested dict, the origin that errors name,
    and the Chip that display names of its variants are diffed against (None: validate the dict for it).
    A file without ``name`` is named after its stem."""
    if isinstance(spec, Chip):
        return spec.model_dump(exclude_none=True), spec.name, spec if spec._base is None else spec._base
    path = Path(spec)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.exists():
            raise ConfigError(f"{path}: hardware file not found")
        data = _complete_file_data(path)
        data.setdefault("name", path.stem)
        return data, str(path), None
    if str(spec) in _preset_names():
        return copy.deepcopy(_preset_data(str(spec))), f"preset {spec}", _preset_chip(str(spec))
    raise UnknownNameError("hardware preset", str(spec), list(_preset_names()))


def load_chip(spec: str | Path | Chip, overrides: list[str] | None = None) -> Chip:
    """A Chip from a preset name, a YAML path or a Chip, with optional ``path=value`` overrides.

    A hardware file names at least ``device.type`` and ``technology.node_nm``, or starts from a preset (or
    another file) with ``base: NAME`` and overrides its fields. The chip keeps its name (a file without one is
    named after its stem); ``chip.display_name`` adds what the overrides changed."""
    data, origin, base = chip_data(spec)
    if not overrides:
        chip = chip_from_dict(data, origin)
        if isinstance(spec, Chip):
            chip._base = spec._base
        return chip
    if base is None:
        try:
            base = chip_from_dict(copy.deepcopy(data), origin)
        except ConfigError:
            base = None  # an invalid file that the overrides repair: no reference to name the variant by
    chip = chip_from_dict(apply_overrides(data, list(overrides)), origin)
    chip._base = base
    return chip
