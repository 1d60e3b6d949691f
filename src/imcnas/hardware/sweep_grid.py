"""Grid parsing for hardware sweeps: ``FIELD=VALUES`` texts (``a:b``, ``a:b:step``, ``v1,v2,...`` or one
value) or a ``{field: [values]}`` mapping, checked against the ``Chip`` fields, as (value, override text) pairs."""
from __future__ import annotations

import json
import math
from typing import Any, Mapping, Sequence

import numpy as np
import yaml
from pydantic import BaseModel

from imcnas.errors import ConfigError
from imcnas.hardware.spec import Chip

__all__ = ["MAX_CHIPS", "parse_grid"]

MAX_CHIPS = 100_000


def _field_exists(path: Sequence[str]) -> bool:
    model: type[BaseModel] = Chip
    for i, part in enumerate(path):
        info = model.model_fields.get(part)
        if info is None:
            return False
        ann = info.annotation
        section = isinstance(ann, type) and issubclass(ann, BaseModel)
        if section != (i < len(path) - 1):  # sections lead to a field; a field ends the path
            return False
        if section:
            model = ann
    return True


def _number(text: str, where: str) -> int | float:
    for kind in (int, float):
        try:
            value = kind(text.strip())
        except ValueError:
            continue
        if math.isfinite(value):
            return value
    raise ConfigError(f"{where}: '{text}' is not a number")


def _range(spec: str, where: str) -> list[tuple[Any, str]]:
    parts = spec.split(":")
    if len(parts) not in (2, 3):
        raise ConfigError(f"{where}: a range is a:b or a:b:step")
    lo, hi = _number(parts[0], where), _number(parts[1], where)
    if len(parts) == 2:
        if not (isinstance(lo, int) and isinstance(hi, int)):
            raise ConfigError(f"{where}: a:b takes integers (give a step for other numbers: a:b:step)")
        step: int | float = 1
    else:
        step = _number(parts[2], where)
    if step <= 0:
        raise ConfigError(f"{where}: the step must be positive")
    if hi < lo:
        raise ConfigError(f"{where}: the range {lo}:{hi} is empty (a must not exceed b)")
    n = int(math.floor((hi - lo) / step + 1e-9)) + 1
    if n > MAX_CHIPS:
        raise ConfigError(f"{where}: {n} values, more than {MAX_CHIPS}")
    if all(isinstance(v, int) for v in (lo, hi, step)):
        values: list[Any] = [lo + i * step for i in range(n)]
    else:
        values = [round(lo + i * step, 12) for i in range(n)]
    return [(v, json.dumps(v)) for v in values]


def _grid_text(text: str) -> tuple[str, list[tuple[Any, str]]]:
    where = f"grid '{text}'"
    if "=" not in text:
        raise ConfigError(f"{where}: expected FIELD=VALUES (a:b, a:b:step or v1,v2,...)")
    key, raw = (s.strip() for s in text.split("=", 1))
    if not key:
        raise ConfigError(f"{where}: empty field path")
    if not raw:
        raise ConfigError(f"{where}: no values")
    if ":" in raw and "," not in raw:
        return key, _range(raw, where)
    items = []
    for token in raw.split(","):
        token = token.strip()
        if not token:
            raise ConfigError(f"{where}: an empty value in the list")
        try:
            value = yaml.safe_load(token)
        except yaml.YAMLError:
            raise ConfigError(f"{where}: cannot parse the value '{token}'") from None
        if isinstance(value, (dict, list)):
            raise ConfigError(f"{where}: '{token}' is not a single value")
        items.append((value, token))
    return key, items


def parse_grid(text: str) -> tuple[str, list[Any]]:
    """``FIELD=VALUES`` -> (field, values); a one-line ConfigError on bad syntax or an unknown field."""
    ((key, items),) = _grids([text]).items()
    return key, [v for v, _ in items]


def _check_field(key: str, where: str) -> None:
    if key in ("name", "source") or not _field_exists(key.split(".")):
        raise ConfigError(f"{where}: '{key}' is not a hardware field (see 'imcnas hardware show PRESET')")


def _grids(grid: Mapping[str, Sequence[Any]] | Sequence[str]) -> dict[str, list[tuple[Any, str]]]:
    out: dict[str, list[tuple[Any, str]]] = {}
    if isinstance(grid, Mapping):
        pairs = []
        for key, values in grid.items():
            values = [values] if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__") else values
            values = [v.item() if isinstance(v, np.generic) else v for v in values]
            pairs.append((str(key), [(v, json.dumps(v)) for v in values], f"grid '{key}'"))
    else:
        pairs = [(*_grid_text(str(t)), f"grid '{t}'") for t in grid]
    for key, items, where in pairs:
        _check_field(key, where)
        if key in out:
            raise ConfigError(f"{where}: '{key}' is swept twice")
        if not items:
            raise ConfigError(f"{where}: no values")
        unique = list(dict.fromkeys((json.dumps(v, sort_keys=True), t) for v, t in items))
        out[key] = [(json.loads(j), t) for j, t in unique]
    if not out:
        raise ConfigError("give at least one grid: FIELD=VALUES, e.g. adc.bits=3:8")
    return out
