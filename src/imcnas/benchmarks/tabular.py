"""What the tabular benchmark problems share: their space, objective checks, objective columns, the true front's
unique vectors, the hypervolume reference point and hypervolumes.

A problem class mixes :class:`TabularFront` in and defines ``OBJECTIVES`` (every objective it knows, in the column
order of ``enumerate_all``'s Y), ``objectives`` (its default choice), ``choices()``, ``enumerate_all()`` and
``front_indices(objectives)``; these read only those.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from imcnas.errors import ConfigError
from imcnas.space.params import Choice
from imcnas.space.searchspace import SearchSpace

__all__ = ["TabularFront", "grid_chip", "position"]


def position(values: Sequence[Any], value: Any) -> int | None:
    """Index of ``value`` in ``values`` (strings and bools never match numbers), or None."""
    for i, v in enumerate(values):
        if isinstance(value, (str, bool, np.bool_)) != isinstance(v, (str, bool)):
            continue
        if v == value:
            return i
    return None


def grid_chip(base: Any, rows: int, adc_bits: int, device: str) -> Any:
    """A grid point of the tabular problems' hardware: ``base`` with square crossbars of ``rows``, ``adc_bits``
    and ``device``. Another device type takes that type's preset with the base's bits per cell (the weight
    slicing stays the same, only device physics changes), at the smallest node its data support when the
    base's node is below it (RRAM at 22 nm)."""
    from imcnas.hardware import load_chip
    from imcnas.hardware.devices import DEVICE_PRESETS

    sets = [f"crossbar.rows={rows}", f"crossbar.cols={rows}", f"adc.bits={adc_bits}"]
    if device != base.device.type:
        sets += [f"device.type={device}", f"device.bits_per_cell={base.device.bits_per_cell}"]
        low = DEVICE_PRESETS[device].get("min_node_nm") if device in DEVICE_PRESETS else None
        if low is not None and base.technology.node_nm < low[0]:
            sets.append(f"technology.node_nm={low[0]}")
    chip = load_chip(base, sets)
    chip.name = f"{base.name}[rows={rows},adc={adc_bits},{device}]"
    return chip


class TabularFront:
    """The shared answer of a tabular problem whose every design is enumerated."""

    OBJECTIVES: tuple[str, ...] = ()
    objectives: tuple[str, ...] = ()

    def choices(self) -> dict[str, list[Any]]:  # pragma: no cover - defined by the problem
        raise NotImplementedError

    def enumerate_all(self) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - defined by the problem
        raise NotImplementedError

    def front_indices(self, objectives: Sequence[str] | None = None) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def space(self) -> SearchSpace:
        """The problem as an ``imcnas.space.SearchSpace`` of Choice parameters."""
        return SearchSpace({name: Choice(tuple(vals)) for name, vals in self.choices().items()})

    def _positions(self, sample: Mapping[str, Any]) -> list[int]:
        """Position of each parameter's value in :meth:`choices`, in their order; a one-line ConfigError names a
        missing or unknown key or a value that is not a choice."""
        if not isinstance(sample, Mapping):
            raise ConfigError(f"a sample is a dict of parameter values, got {type(sample).__name__}")
        ch = self.choices()
        for key in sample:
            if key not in ch:
                raise ConfigError(f"sample key '{key}' is not a parameter of {getattr(self, 'name', 'the problem')}; "
                                  f"known: {', '.join(ch)}")
        pos = []
        for key, values in ch.items():
            if key not in sample:
                raise ConfigError(f"sample is missing key '{key}'")
            i = position(values, sample[key])
            if i is None:
                raise ConfigError(f"sample key '{key}': {sample[key]!r} is not one of {values}")
            pos.append(i)
        return pos

    def _check_objectives(self, objectives: Sequence[str] | None) -> tuple[str, ...]:
        objs = tuple(objectives) if objectives is not None else self.objectives
        for o in objs:
            if o not in self.OBJECTIVES:
                raise ConfigError(f"unknown objective '{o}'; known: {', '.join(self.OBJECTIVES)}")
        if not objs:
            raise ConfigError("at least one objective is needed")
        return objs

    def objective_matrix(self, objectives: Sequence[str] | None = None) -> np.ndarray:
        """Y restricted to ``objectives`` (default: the problem's), one row per design."""
        objs = self._check_objectives(objectives)
        return self.enumerate_all()[1][:, [self.OBJECTIVES.index(o) for o in objs]]

    def true_front(self, objectives: Sequence[str] | None = None) -> np.ndarray:
        """The Pareto front: unique non-dominated objective vectors, sorted by the first objective."""
        Y = self.objective_matrix(objectives)
        return np.unique(Y[self.front_indices(objectives)], axis=0)

    def reference_point(self, objectives: Sequence[str] | None = None) -> np.ndarray:
        """Hypervolume reference: the true front's nadir plus 10 % of its range (ideal to nadir) per
        objective, the usual choice for benchmarks with a known front (e.g. ZDT's (1.1, 1.1))."""
        F = self.true_front(objectives)
        lo, hi = F.min(axis=0), F.max(axis=0)
        span = np.where(hi > lo, hi - lo, np.maximum(np.abs(hi), 1.0))
        return hi + 0.1 * span

    def hypervolume(self, points: np.ndarray, objectives: Sequence[str] | None = None) -> float:
        """Hypervolume of ``points`` (n, k objective values) w.r.t. :meth:`reference_point` (pymoo HV);
        points outside the reference box add nothing."""
        from pymoo.indicators.hv import HV

        ref = self.reference_point(objectives)
        P = np.atleast_2d(np.asarray(points, dtype=float))
        if P.shape[1] != len(ref):
            raise ConfigError(f"points have {P.shape[1]} objectives, the reference point {len(ref)}")
        P = P[(P < ref).all(axis=1)]
        return float(HV(ref_point=ref)(P)) if len(P) else 0.0

    def true_hypervolume(self, objectives: Sequence[str] | None = None) -> float:
        """Hypervolume of the true front (the best any search can reach)."""
        return self.hypervolume(self.true_front(objectives), objectives)
