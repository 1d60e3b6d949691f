"""Display names: a chip's name plus the fields that differ from the chip it was derived from
(``pcm-14nm[adc.bits=6,crossbar.rows=256]``), so variants of one preset are told apart in tables and plots."""
from __future__ import annotations

import hashlib
from typing import Any

from pydantic import BaseModel

from imcnas.hardware.loading import _preset_chip, _preset_names
from imcnas.hardware.spec import Chip, Device

__all__ = ["NAME_LIMIT", "chip_diff", "display_name"]

NAME_LIMIT = 48  # display names longer than this list their changes as a count and a hash

def _flatten(model: BaseModel, prefix: str, out: dict[str, Any]) -> dict[str, Any]:
    for key, value in model.__dict__.items():
        if isinstance(value, BaseModel):
            _flatten(value, f"{prefix}{key}.", out)
        else:
            out[prefix + key] = value
    return out


def chip_diff(chip: Chip, base: Chip) -> dict[str, Any]:
    """Dotted fields (sorted) where ``chip`` differs from ``base``, name and source aside. When the device type
    differs, the device is compared with that type's own preset (as a ``device.type`` override resets it)."""
    mine, ref = {}, {}
    for key, value in chip.__dict__.items():
        if key in ("name", "source"):
            continue
        other = base.__dict__[key]
        if isinstance(value, BaseModel):
            if other is None:  # an optional section (hybrid) the base does not have
                _flatten(value, f"{key}.", mine)
                continue
            if value.__dict__ == other.__dict__:
                continue
            if key == "device" and value.type != other.type:
                other = Device(type=value.type)
            _flatten(value, f"{key}.", mine)
            _flatten(other, f"{key}.", ref)
        elif value != other:
            mine[key], ref[key] = value, other
    if chip.device.type != base.device.type:
        ref["device.type"] = base.device.type
    missing = object()
    return {k: mine[k] for k in sorted(mine) if mine[k] != ref.get(k, missing)}


def _fmt_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, float):
        short = f"{value:g}"
        return short if float(short) == value else repr(value)
    return str(value)


def display_name(chip: Chip) -> str:
    """A name that tells chips apart: the chip's name plus the fields that differ from the chip it was derived
    from, sorted: ``pcm-14nm[adc.bits=6,crossbar.rows=256]``. The reference is the preset the chip is named
    after (so chips built in Python with ``model_copy`` are named too), else the preset, file or Chip that
    ``load_chip`` applied overrides to. When the result would be longer than ``NAME_LIMIT`` (48) characters,
    the changes are given as their count and the first 8 hex digits of the SHA-1 of the full list:
    ``pcm-14nm[7 fields #1a2b3c4d]`` (stable across runs and machines). A name that already carries a
    ``[...]`` suffix, or a chip with no known reference, keeps its name."""
    name = chip.name
    if "[" in name:
        return name
    base = _preset_chip(name) if name in _preset_names() else chip._base
    if base is None:
        return name
    diff = chip_diff(chip, base)
    if not diff:
        return name
    body = ",".join(f"{k}={_fmt_value(v)}" for k, v in diff.items())
    full = f"{name}[{body}]"
    if len(full) <= NAME_LIMIT:
        return full
    return f"{name}[{len(diff)} fields #{hashlib.sha1(body.encode()).hexdigest()[:8]}]"
