"""AnalogNAS-Bench joined with the imcnas cost model: a tabular problem whose Pareto front is known exactly.

Accuracy comes from AnalogNAS-Bench (the ``analog-nasbench`` package): all 15,625 NAS-Bench-201 cells trained
on CIFAR-10 with hardware-aware training for a PCM chip (aihwkit PCM-like noise, 8-bit inputs/outputs, global
drift compensation) and evaluated after drift for 60 s, 1 h, 1 day and 30 days. Energy, latency and area come
from :func:`imcnas.estimate_batch` applied to the NB201 network of each cell (dead ops pruned, see
:mod:`imcnas.space.families.nb201`) on a grid of chips. Enumerating every (cell, chip) pair gives the true
front.

Edge order of the bench keys: 6-tuples of op ids (0 skip, 1 none, 2 conv3x3, 3 conv1x1, 4 avg-pool) on the
edges (1<-0, 2<-0, 3<-0, 2<-1, 3<-1, 3<-2), NASLib's op-index order. The data fix this order up to its mirror
image (of all 720 edge assignments only these two send exactly the 341 cells whose ``none`` edges cut the
input from the output to 10 %); the bench's training script builds each cell with NASLib's
``NasBench201SearchSpace.set_spec``, which uses this order, and that settles the mirror. The cost is the same
under the mirror image in any case (tests/benchmarks/test_analognas.py checks both).

Accuracy does not depend on the chip here: the bench measured one PCM configuration (256-row tiles, 8-bit
DAC/ADC). The hardware grid therefore only moves the cost, and the cheapest chips of the grid dominate; the
accuracy of an ADC or device other than the bench's is not modelled.
"""
from __future__ import annotations

import itertools
import time
import warnings
from functools import lru_cache
from typing import Any, Mapping, Sequence

import numpy as np

from imcnas.benchmarks.tabular import TabularFront, grid_chip
from imcnas.errors import ConfigError
from imcnas.hardware import Chip, estimate_batch, load_chip
from imcnas.space.families.nb201 import OPS, cell_signature, nb201_workload, to_op_indices

__all__ = ["AnalogNASProblem", "COST_OBJECTIVES", "DRIFT_METRICS", "OBJECTIVES", "load_bench_accuracy",
           "nondominated_mask"]

DRIFT_METRICS: dict[str, str] = {"hwa": "analog_accuracy", "60s": "analog_drift_60", "1h": "analog_drift_3600",
                                 "1d": "analog_drift_86400", "30d": "analog_drift_2592000"}
COST_OBJECTIVES: tuple[str, ...] = ("energy_pj", "latency_ns", "area_mm2")
OBJECTIVES: tuple[str, ...] = tuple(f"error_{k}" for k in DRIFT_METRICS) + COST_OBJECTIVES
CELL_KEYS: tuple[str, ...] = tuple(f"cell.e{i}" for i in range(6))
N_CELLS = len(OPS) ** len(CELL_KEYS)


def _cell_table() -> np.ndarray:
    """(15,625, 6) op positions in OPS: the cell index order (e0 slowest, OPS order)."""
    return np.array(list(itertools.product(range(len(OPS)), repeat=len(CELL_KEYS))), dtype=np.int8)


@lru_cache(maxsize=1)
def load_bench_accuracy() -> dict[str, np.ndarray]:
    """Accuracy (%) of every cell for each key of DRIFT_METRICS, as arrays in cell index order."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the package imports the deprecated pkg_resources
            from analognasbench.data import AnalogNASBench

            bench = AnalogNASBench()
    except ImportError as err:
        raise ImportError("AnalogNASProblem needs the 'analog-nasbench' package (pip install 'imcnas[bench]'; "
                          f"it also needs setuptools<81): {err}") from None
    out = {k: np.empty(N_CELLS) for k in DRIFT_METRICS}
    for c, row in enumerate(_cell_table()):
        arch = bench.data[to_op_indices([OPS[i] for i in row])]
        for k, metric in DRIFT_METRICS.items():
            v = getattr(arch, metric)
            out[k][c] = float(getattr(v, "value", v))
    return out


def nondominated_mask(Y: np.ndarray) -> np.ndarray:
    """True for rows of ``Y`` (n, k; minimised) that no other row dominates. Equal rows are all kept."""
    Y = np.asarray(Y, dtype=float)
    n, k = Y.shape
    if n == 0:
        return np.zeros(0, dtype=bool)
    if k == 1:
        return Y[:, 0] == Y[:, 0].min()
    U, inv = np.unique(Y, axis=0, return_inverse=True)  # lexicographic order: no row dominates an earlier one
    inv = inv.reshape(-1)
    if k == 2:
        a, b = U[:, 0], U[:, 1]
        new = np.r_[True, a[1:] != a[:-1]]
        gid = np.cumsum(new) - 1
        gmin = b[new]  # rows sorted by b within equal a: the first is the group's best
        best_before = np.r_[np.inf, np.minimum.accumulate(gmin)[:-1]]
        keep = (b == gmin[gid]) & (gmin[gid] < best_before[gid])
        return keep[inv]
    keep = np.zeros(len(U), dtype=bool)
    front = np.empty((0, k))
    for s in range(0, len(U), 1024):
        B = U[s:s + 1024]
        alive = np.arange(len(B))
        if len(front):  # unique rows: <= in every objective means dominates
            alive = alive[~((front[:, None, :] <= B[None]).all(-1)).any(0)]
        inner = (B[alive][:, None, :] <= B[alive][None]).all(-1)
        np.fill_diagonal(inner, False)
        alive = alive[~inner.any(0)]
        keep[s + alive] = True
        front = np.vstack([front, B[alive]])
    return keep[inv]


_COSTS: dict[tuple, dict[tuple, np.ndarray]] = {}  # grid key -> cell signature -> (n_chips, 3) costs


class AnalogNASProblem(TabularFront):
    """NB201 cell (6 categorical edges) x chip grid -> accuracy after drift (AnalogNAS-Bench) and cost.

    Samples are flat dicts: ``cell.e0`` .. ``cell.e5`` (op names on the NB201 edges in string order 1<-0,
    2<-0, 2<-1, 3<-0, 3<-1, 3<-2), ``crossbar.rows`` (crossbar.cols follows it), ``adc.bits`` and
    ``device.type``. Objectives (all minimised): ``error_<t>`` = 100 - accuracy % for t in hwa (no drift),
    60s, 1h, 1d, 30d, and ``energy_pj`` / ``latency_ns`` / ``area_mm2`` per inference.

    Base chip: ``pcm-14nm`` (IBM HERMES-class PCM core, 256x256 crossbars, 8-bit DAC/ADC), the configuration
    closest to the one AnalogNAS-Bench trained for (PCM, 256-row tiles, 8-bit DAC and ADC). A device value equal
    to the base chip's keeps its calibrated device; another type replaces it by that type's preset device with
    the base chip's bits per cell, so the weight slicing stays the same and only device physics changes (at
    the smallest node that device's data support when the base chip's node is below it: RRAM at 22 nm).
    """

    OBJECTIVES = OBJECTIVES
    name = "analognas-nb201"

    def __init__(self, base_chip: str | Chip = "pcm-14nm", rows: Sequence[int] = (64, 128, 256, 512),
                 adc_bits: Sequence[int] = (4, 5, 6, 7, 8), devices: Sequence[str] = ("pcm", "rram"),
                 objectives: Sequence[str] = ("error_1d", "energy_pj")) -> None:
        self.base = base_chip if isinstance(base_chip, Chip) else load_chip(base_chip)
        self._hw: dict[str, list[Any]] = {"crossbar.rows": [int(r) for r in rows],
                                          "adc.bits": [int(b) for b in adc_bits],
                                          "device.type": [str(d) for d in devices]}
        self.objectives = self._check_objectives(objectives)
        self._hw_grid = list(itertools.product(*self._hw.values()))
        self.chips = [self._make_chip(*hw) for hw in self._hw_grid]
        self._grid_key = (self.base.model_dump_json(), tuple(tuple(v) for v in self._hw.values()))
        self._costs = _COSTS.setdefault(self._grid_key, {})
        self._cells = _cell_table()
        self._sig_of_cell: np.ndarray | None = None
        self._sigs: list[tuple[int, ...]] = []
        self._table: tuple[np.ndarray, np.ndarray] | None = None
        self.enumeration_s: float | None = None

    # ------------------------------------------------------------------------------------------ space
    def choices(self) -> dict[str, list[Any]]:
        """Parameter name -> its values (cell edges first, then the hardware grid)."""
        return {**{k: list(OPS) for k in CELL_KEYS}, **{k: list(v) for k, v in self._hw.items()}}

    @property
    def n_chips(self) -> int:
        """Chips in the hardware grid."""
        return len(self.chips)

    @property
    def size(self) -> int:
        """Designs in the problem: 15,625 cells x chips."""
        return N_CELLS * self.n_chips

    def _make_chip(self, rows: int, adc_bits: int, device: str) -> Chip:
        return grid_chip(self.base, rows, adc_bits, device)

    def index(self, sample: Mapping[str, Any]) -> int:
        """Row of ``sample`` in :meth:`enumerate_all`; a one-line ConfigError names a bad key or value."""
        pos = self._positions(sample)
        cell = int(np.ravel_multi_index(pos[:6], (len(OPS),) * 6))
        chip = int(np.ravel_multi_index(pos[6:], tuple(len(v) for v in self._hw.values())))
        return cell * self.n_chips + chip

    def sample_at(self, index: int) -> dict[str, Any]:
        """The sample of row ``index`` of :meth:`enumerate_all`."""
        if not 0 <= int(index) < self.size:
            raise ConfigError(f"design index {index} out of range 0..{self.size - 1}")
        cell, chip = divmod(int(index), self.n_chips)
        out: dict[str, Any] = {k: OPS[i] for k, i in zip(CELL_KEYS, self._cells[cell])}
        out.update(zip(self._hw, self._hw_grid[chip]))
        return out

    # ------------------------------------------------------------------------------------------ evaluation
    def _signatures(self) -> np.ndarray:
        if self._sig_of_cell is None:
            ids: dict[tuple[int, ...], int] = {}
            sig = np.empty(N_CELLS, dtype=np.int32)
            for c, row in enumerate(self._cells):
                sig[c] = ids.setdefault(cell_signature([OPS[i] for i in row]), len(ids))
            self._sigs = list(ids)
            self._sig_of_cell = sig
        return self._sig_of_cell

    def _cost(self, sig: tuple[int, ...], arch: Sequence[str]) -> np.ndarray:
        got = self._costs.get(sig)
        if got is None:
            t = estimate_batch(nb201_workload(arch), self.chips)
            got = self._costs[sig] = np.stack([t[k] for k in COST_OBJECTIVES], axis=1)
        return got

    def evaluate(self, sample: Mapping[str, Any]) -> dict[str, float]:
        """All objectives of one design: a table lookup for accuracy plus the (cached) cost of its cell."""
        i = self.index(sample)
        cell, chip = divmod(i, self.n_chips)
        acc = load_bench_accuracy()
        arch = [OPS[j] for j in self._cells[cell]]
        cost = self._cost(cell_signature(arch), arch)[chip]
        out = {f"error_{k}": 100.0 - float(acc[k][cell]) for k in DRIFT_METRICS}
        out.update({k: float(v) for k, v in zip(COST_OBJECTIVES, cost)})
        return out

    def enumerate_all(self) -> tuple[np.ndarray, np.ndarray]:
        """Every design: ``(choice_index, Y)`` with choice_index (size, 9) int8 positions in :meth:`choices`
        (row = cell * n_chips + chip) and Y (size, len(OBJECTIVES)) float in OBJECTIVES order. Cached; the
        first call's time is in ``enumeration_s``."""
        if self._table is None:
            t0 = time.perf_counter()
            acc = load_bench_accuracy()
            sig = self._signatures()
            first = np.unique(sig, return_index=True)[1]
            costs = np.stack([self._cost(self._sigs[s], [OPS[j] for j in self._cells[c]])
                              for s, c in enumerate(first)])  # (n_sigs, n_chips, 3)
            err = np.stack([100.0 - acc[k] for k in DRIFT_METRICS], axis=1)  # (cells, 5)
            Y = np.concatenate([np.repeat(err, self.n_chips, axis=0),
                                costs[sig].reshape(-1, len(COST_OBJECTIVES))], axis=1)
            hw_pos = np.array(list(itertools.product(*(range(len(v)) for v in self._hw.values()))), dtype=np.int8)
            idx = np.concatenate([np.repeat(self._cells, self.n_chips, axis=0),
                                  np.tile(hw_pos, (N_CELLS, 1))], axis=1)
            self._table = (idx, Y)
            self.enumeration_s = time.perf_counter() - t0
        return self._table

    # ------------------------------------------------------------------------------------------ the answer
    def front_indices(self, objectives: Sequence[str] | None = None) -> np.ndarray:
        """Rows of every non-dominated design (ties included), found exhaustively.

        Exact and fast: a design is dominated by the same cell on a chip with dominating cost, or by a cell of
        the same cost signature with dominating errors on the same chip, so only the survivors of those two
        small filters are compared globally."""
        objs = self._check_objectives(objectives)
        Y = self.objective_matrix(objs)
        cost_cols = [j for j, o in enumerate(objs) if o in COST_OBJECTIVES]
        err_cols = [j for j, o in enumerate(objs) if o not in COST_OBJECTIVES]
        sig = self._signatures()
        cand = []
        for s in range(len(self._sigs)):
            cells = np.flatnonzero(sig == s)
            rows0 = cells * self.n_chips
            chips = np.arange(self.n_chips)
            if cost_cols:
                chips = chips[nondominated_mask(Y[rows0[0] + chips][:, cost_cols])]
            if err_cols:
                cells = cells[nondominated_mask(Y[cells * self.n_chips][:, err_cols])]
            cand.append((cells[:, None] * self.n_chips + chips[None, :]).ravel())
        rows = np.concatenate(cand)
        rows = np.sort(rows[nondominated_mask(Y[rows])])
        return rows
