"""Quality indicators of Pareto fronts: hypervolume (HV) and inverted generational distance (IGD), via pymoo.

All points are in minimisation form (see :mod:`imcnas.analysis.pareto`). Objectives in different units
(pJ, mm^2, accuracy) are made comparable by min-max normalisation with given bounds (:func:`normalize`).

Reference point rule (:func:`reference_point`): the nadir of the given points (the worst value of each
objective over their non-dominated subset) plus ``margin`` times the range (nadir - ideal) of each objective;
where the range is 0 the margin is taken of ``|nadir|`` (or of 1 when the nadir is 0). With normalised
points (ideal -> 0, nadir -> 1) the reference point is therefore ``1 + margin`` in every objective, and the
hypervolume lies in ``[0, (1 + margin) ** m]``. Pass a fixed ``ref`` to compare runs.

The hypervolume a study reports (terminal progress bar and ``report.html`` alike) is
:func:`study_hypervolume`; its docstring states the definition.
"""
from __future__ import annotations

import math
from typing import Sequence, Union

import numpy as np

from imcnas.analysis.pareto import MetricLike, as_matrix, complete_trials, nondominated, resolve_metrics
from imcnas.search.trial import Trial

Vector = Union[Sequence[float], np.ndarray]
Bounds = tuple[Vector, Vector]

__all__ = ["STUDY_HV_DEFINITION", "STUDY_HV_REF", "Bounds", "front_bounds", "front_hypervolume", "hv_history",
           "hypervolume", "igd", "normalize", "reference_point", "study_bounds", "study_hv_history",
           "study_hypervolume"]

STUDY_HV_REF = 1.1  # the reference point of study_hypervolume, in every normalised objective
STUDY_HV_DEFINITION = (
    "Hypervolume (HV) here: each objective is min-max normalised over all complete trials of the study "
    "(maximised objectives negated first; best value -> 0, worst -> 1; duplicate-sample records left out), "
    "and the region dominated by the front is measured up to the reference point 1.1 in every objective, "
    "so HV lies in [0, 1.1^m] for m objectives. The terminal's progress bar shows the same quantity.")


def _matrix(points: np.ndarray | Sequence[Sequence[float]], m: int | None = None) -> np.ndarray:
    F = np.asarray(points, dtype=float)
    if F.size == 0:
        return np.zeros((0, m or (F.shape[-1] if F.ndim == 2 else 0)))
    if F.ndim == 1:
        F = F[None, :]
    if F.ndim != 2:
        raise ValueError(f"points must be a 2-D array (n x m), got shape {F.shape}")
    return F[np.isfinite(F).all(axis=1)]


def front_bounds(points_min: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(ideal, nadir) of the points: the best value of each objective over all points, and the worst value
    over their non-dominated subset."""
    F = _matrix(points_min)
    if len(F) == 0:
        raise ValueError("front_bounds: no finite points")
    return F.min(axis=0), F[nondominated(F)].max(axis=0)


def normalize(points_min: np.ndarray, lower: Vector, upper: Vector) -> np.ndarray:
    """Min-max normalisation ``(p - lower) / (upper - lower)`` per objective (a zero range divides by 1), so
    hypervolumes of objectives in different units are comparable; NaN rows stay NaN."""
    F = np.asarray(points_min, dtype=float)
    lo, hi = np.asarray(lower, dtype=float), np.asarray(upper, dtype=float)
    span = hi - lo
    span = np.where(span > 0, span, 1.0)
    return (F - lo) / span


def reference_point(points_min: np.ndarray, margin: float = 0.1,
                    ref: Vector | None = None) -> np.ndarray:
    """The HV reference point: ``ref`` when given, else the nadir of the points plus ``margin`` x range
    (module docstring)."""
    if ref is not None:
        r = np.asarray(ref, dtype=float).ravel()
        F = np.asarray(points_min, dtype=float)
        if F.ndim == 2 and F.size and r.size != F.shape[1]:
            raise ValueError(f"reference point has {r.size} values for {F.shape[1]} objectives")
        return r
    ideal, nadir = front_bounds(points_min)
    span = nadir - ideal
    span = np.where(span > 0, span, np.where(np.abs(nadir) > 0, np.abs(nadir), 1.0))
    return nadir + margin * span


def hypervolume(points_min: np.ndarray, ref: Vector) -> float:
    """Hypervolume dominated by the points and bounded by ``ref`` (pymoo HV); points that do not strictly
    dominate ``ref`` contribute nothing, no points give 0."""
    from pymoo.indicators.hv import HV

    r = np.asarray(ref, dtype=float).ravel()
    F = _matrix(points_min, r.size)
    if F.shape[1] != r.size:
        raise ValueError(f"reference point has {r.size} values for {F.shape[1]} objectives")
    F = F[(F < r).all(axis=1)]
    if len(F) == 0:
        return 0.0
    return float(HV(ref_point=r)(F))


def extend_front(front: np.ndarray, y: np.ndarray) -> np.ndarray | None:
    """The non-dominated set ``front`` (rows, minimised) with point ``y`` added, or None when ``y`` is weakly
    dominated by it (the set, and so its hypervolume, do not change); for counting HV after each evaluation."""
    if bool((front <= y).all(axis=1).any()):
        return None
    return np.vstack([front[~(y <= front).all(axis=1)], y])


def igd(points_min: np.ndarray, true_front: np.ndarray) -> float:
    """Inverted generational distance of the points to ``true_front`` (pymoo IGD: mean distance from each
    true-front point to its nearest point); ``inf`` when there are no points. Normalise both first when the
    objectives have different units."""
    from pymoo.indicators.igd import IGD

    pf = _matrix(true_front)
    F = _matrix(points_min, pf.shape[1])
    if len(pf) == 0:
        raise ValueError("igd: the true front is empty")
    if len(F) == 0:
        return math.inf
    return float(IGD(pf)(F))


def _points(trials: Sequence[Trial], metrics: Sequence[MetricLike],
            bounds: Bounds | None) -> np.ndarray:
    F = as_matrix(trials, metrics)
    return normalize(F, *bounds) if bounds is not None else F


def front_hypervolume(trials: Sequence[Trial], metrics: Sequence[MetricLike],
                      ref: Vector | None = None,
                      bounds: Bounds | None = None) -> float:
    """Hypervolume of the COMPLETE trials (e.g. a progress bar's "current hypervolume").

    ``bounds=(lower, upper)`` normalises the minimisation-form values first (``ref`` is then in normalised
    units). Without ``ref`` the reference point comes from the trials themselves (:func:`reference_point`),
    so values are comparable over time only with a fixed ``ref`` and ``bounds``.
    """
    done = complete_trials(trials, resolve_metrics(metrics))
    if not done:
        return 0.0
    F = _points(done, metrics, bounds)
    return hypervolume(F, reference_point(F, ref=ref))


def hv_history(trials: Sequence[Trial], metrics: Sequence[MetricLike],
               ref: Vector | None = None,
               bounds: Bounds | None = None) -> list[tuple[int, float]]:
    """``(trial_number, hv)`` for every trial in number order: the hypervolume of the COMPLETE trials among
    those numbered up to it. Non-decreasing for a fixed ``ref``; without one, ``ref`` is the reference point
    of all complete trials (so the last value is the final front's HV). ``bounds`` as in
    :func:`front_hypervolume`."""
    ms = resolve_metrics(metrics)
    ordered = sorted(trials, key=lambda t: t.number)
    done = complete_trials(ordered, ms)
    if not done:
        return [(t.number, 0.0) for t in ordered]
    F_all = _points(done, ms, bounds)
    r = reference_point(F_all, ref=ref)
    row = {t.number: F_all[i] for i, t in enumerate(done)}
    front = np.zeros((0, len(ms)))
    hv, out = 0.0, []
    for t in ordered:
        p = row.get(t.number)
        if p is not None and not bool(((front <= p).all(axis=1)).any()):  # not weakly dominated: HV may grow
            front = np.vstack([front[~(p <= front).all(axis=1)], p])
            hv = hypervolume(front, r)
        out.append((t.number, hv))
    return out


# ------------------------------------------------------------------------------------------ the study's HV
def _study_points(trials: Sequence[Trial], metrics: Sequence[MetricLike]) -> tuple[list[Trial], np.ndarray]:
    done = [t for t in complete_trials(trials, resolve_metrics(metrics)) if t.info.get("duplicate_of") is None]
    return done, as_matrix(done, metrics)


def study_bounds(trials: Sequence[Trial], metrics: Sequence[MetricLike]) -> Bounds | None:
    """``(lower, upper)``: the best and worst minimisation-form value of each objective over the COMPLETE
    trials (duplicate-sample records left out), or None when there are none. The bounds of
    :func:`study_hypervolume`."""
    _, F = _study_points(trials, metrics)
    if len(F) == 0:
        return None
    return F.min(axis=0), F.max(axis=0)


def study_hypervolume(trials: Sequence[Trial], metrics: Sequence[MetricLike]) -> float:
    """The hypervolume of a study's front, as the terminal and the report show it.

    Definition: take the COMPLETE trials with a finite value for every metric, leaving out duplicate-sample
    records (``info["duplicate_of"]`` set: they repeat an earlier trial). Negate maximised objectives, then
    min-max normalise each objective over those trials (best value -> 0, worst -> 1; an objective with a
    single value -> 0). The hypervolume is the volume dominated by the normalised points and bounded by the
    reference point ``1.1`` in every objective (:data:`STUDY_HV_REF`), so it lies in ``[0, 1.1 ** m]`` for
    ``m`` objectives (1.1 ** m only if one trial is best in everything). No complete trials give 0.

    The bounds move as trials arrive, so a running value is relative to the study so far; the final value
    of :func:`study_hv_history` equals this one.
    """
    done, F = _study_points(trials, metrics)
    if len(F) == 0:
        return 0.0
    lo, hi = F.min(axis=0), F.max(axis=0)
    return hypervolume(normalize(F, lo, hi), [STUDY_HV_REF] * F.shape[1])


def study_hv_history(trials: Sequence[Trial], metrics: Sequence[MetricLike]) -> list[tuple[int, float]]:
    """``(trial_number, hv)`` for every trial in number order: the hypervolume of the trials numbered up to
    it, normalised with the bounds of ALL the given trials (:func:`study_bounds`) and reference point 1.1,
    so the curve is non-decreasing and ends at ``study_hypervolume(trials, metrics)``."""
    bounds = study_bounds(trials, metrics)
    ms = resolve_metrics(metrics)
    keep = [t for t in trials if t.info.get("duplicate_of") is None]
    if bounds is None:
        return [(t.number, 0.0) for t in sorted(trials, key=lambda t: t.number)]
    hist = dict(hv_history(keep, ms, ref=[STUDY_HV_REF] * len(ms), bounds=bounds))
    out, hv = [], 0.0
    for t in sorted(trials, key=lambda t: t.number):
        hv = hist.get(t.number, hv)  # a duplicate record keeps the value before it
        out.append((t.number, hv))
    return out
