"""NAS-Bench-Graph joined with the imcnas cost model: a tabular GNN problem whose Pareto front is known exactly.

Accuracy comes from NAS-Bench-Graph (Qin et al., NeurIPS 2022 Datasets and Benchmarks; the ``nas-bench-graph``
package's ``light/<dataset>.bench`` tables): 26,206 non-isomorphic architectures of four operator nodes over
nine topologies, each trained on the real dataset with fixed hyper-parameters, validation and test accuracy
recorded. Energy, latency and area come from :func:`imcnas.estimate_batch` applied to the ``gnn`` family's
:class:`~imcnas.space.families.gnn.GraphNet` of each architecture on a grid of chips. Enumerating every
(architecture, chip) pair gives the true front.

The cost half (dataset settings, the priced graph, workloads assembled from traced pieces, pricing on the chip
grid) is :mod:`imcnas.benchmarks.nbg_costs`; its names are importable from here too. Architectures with the same
cost signature share one estimate, so the whole space prices in tens of seconds rather than the hours tracing
each network would take.

The search space is the raw product the bench's own NNI wrapper searches (``runnni.py``): 9 topologies x 9^4
operator choices = 59,049 architectures, each read through ``Arch(link, ops).valid_hash()`` to its
non-isomorphic representative; isomorphic architectures are one design (same row values, same
:meth:`NASBenchGraphProblem.design_key`). Strategies search over plain Choice parameters, so this needs no
constraint. The nine all-skip architectures (one per topology) are not in the bench (no operator, nothing
learnt): they score 100 % error and, on each chip, the largest energy, latency and area of that chip's
architectures, so that every real design dominates them; they are never on a front.

Accuracy does not depend on the chip here: the bench trained full-precision networks on GPUs. The hardware grid
therefore only moves the cost, and the cheapest chips of the grid dominate; the accuracy of a crossbar, ADC or
device is not modelled (the same caveat as :class:`~imcnas.benchmarks.AnalogNASProblem`).
"""
from __future__ import annotations

import itertools
import time
from collections import Counter
from functools import lru_cache
from typing import Any, Mapping, Sequence

import numpy as np

from imcnas.benchmarks.tabular import TabularFront, grid_chip
from imcnas.benchmarks.analognas import nondominated_mask
from imcnas.benchmarks.nbg_costs import (COST_OBJECTIVES, DATASETS, GraphDataset, arch_dict, get_dataset,
                                         graph_inputs, grid_costs, price_signature, seed_cost_cache, signature,
                                         signature_workload)
from imcnas.errors import ConfigError
from imcnas.hardware import Chip, load_chip
from imcnas.space.families.gnn import LINKS, OPS

__all__ = ["COST_OBJECTIVES", "DATASETS", "GraphDataset", "NASBenchGraphProblem", "OBJECTIVES", "arch_dict",
           "canonical_map", "cost_cache", "decode_hash", "graph_inputs", "load_bench", "seed_cost_cache",
           "signature", "signature_counts", "signature_workload"]

OBJECTIVES: tuple[str, ...] = ("error", "valid_error") + COST_OBJECTIVES
ARCH_KEYS: tuple[str, ...] = ("arch.link",) + tuple(f"arch.op{i}" for i in range(4))
N_ARCHS = len(LINKS) * len(OPS) ** 4  # 59,049 raw (link, ops) combinations
HASH_BASE = len(OPS) + 1  # valid_hash: link position, then the 4 op positions as base-10 digits


def _package() -> Any:
    try:
        import nas_bench_graph
    except ImportError as err:
        raise ImportError("NASBenchGraphProblem needs the 'nas-bench-graph' package (pip install "
                          f"'imcnas[bench]'): {err}") from None
    return nas_bench_graph


def _arch_table() -> np.ndarray:
    """(59,049, 5) positions: link in LINKS, op0..op3 in OPS; the raw architecture index order (link slowest)."""
    return np.array(list(itertools.product(range(len(LINKS)), *[range(len(OPS))] * 4)), dtype=np.int8)


def decode_hash(h: int) -> tuple[str, list[str]]:
    """The (link, ops) of a bench key: ``valid_hash`` writes the link position and the op positions as base-10
    digits."""
    digits = []
    for _ in range(4):
        h, d = divmod(int(h), HASH_BASE)
        digits.append(OPS[d])
    return LINKS[h], digits[::-1]


@lru_cache(maxsize=1)
def canonical_map() -> np.ndarray:
    """Per raw architecture (index order of :func:`_arch_table`): its bench key (``Arch.valid_hash()``),
    -1 for the all-skip architectures."""
    nbg = _package()
    out = np.empty(N_ARCHS, dtype=np.int64)
    for a, row in enumerate(_arch_table()):
        ops = [OPS[i] for i in row[1:]]
        out[a] = -1 if all(o == "skip" for o in ops) else nbg.Arch([int(c) for c in LINKS[row[0]]], ops).valid_hash()
    return out


@lru_cache(maxsize=8)
def load_bench(dataset: str) -> dict[str, np.ndarray]:
    """The bench table of ``dataset``: ``hash`` (sorted keys) and per key ``perf`` (test accuracy, fraction),
    ``valid_perf``, ``latency`` (s, the bench's GPU measurement) and ``para`` (parameters, millions)."""
    get_dataset(dataset)
    bench = _package().light_read(dataset)
    keys = np.array(sorted(bench), dtype=np.int64)
    out = {"hash": keys}
    for f in ("perf", "valid_perf", "latency", "para"):
        out[f] = np.array([float(bench[int(k)][f]) for k in keys])
    return out


class NASBenchGraphProblem(TabularFront):
    """GNN architecture (topology + 4 operators) x chip grid -> NAS-Bench-Graph accuracy and cost.

    Samples are flat dicts: ``arch.link`` (one of the ``gnn`` family's LINKS, e.g. ``"0123"``), ``arch.op0`` ..
    ``arch.op3`` (its OPS), ``crossbar.rows`` (crossbar.cols follows it), ``adc.bits`` and ``device.type``.
    Objectives (all minimised): ``error`` = 100 - test accuracy %, ``valid_error`` = 100 - validation accuracy
    %, ``energy_pj`` / ``latency_ns`` / ``area_mm2`` per inference (one forward pass over the whole graph).

    Base chip: ``neurosim-rram-22nm`` (DNN_NeuroSim V1.4's RRAM macro at 22 nm, 1 bit per cell, 5-bit ADCs,
    throughput-balancing duplication). GNN weights are static Linear layers, the case a weight-stationary RRAM
    macro is built for; its preset is calibrated against NeuroSim's reference runs, and ``device.type=sram``
    gives the same macro with SRAM cells at the same node (NeuroSim's other calibrated cell). A device value
    equal to the base chip's keeps its calibrated device; another type takes that type's preset device with the
    base chip's bits per cell (at the smallest node that device's data support when the base node is below
    it). Aggregation runs on the digital units (the chip's default).
    """

    OBJECTIVES = OBJECTIVES
    name = "nasbench-graph"

    def __init__(self, dataset: str = "cora", base_chip: str | Chip = "neurosim-rram-22nm",
                 rows: Sequence[int] = (64, 128, 256), adc_bits: Sequence[int] = (3, 4, 5, 6, 7),
                 devices: Sequence[str] = ("rram", "sram"),
                 objectives: Sequence[str] = ("error", "energy_pj")) -> None:
        self.dataset = str(dataset)
        self.data = get_dataset(self.dataset)
        _package()
        self.base = base_chip if isinstance(base_chip, Chip) else load_chip(base_chip)
        self._hw: dict[str, list[Any]] = {"crossbar.rows": [int(r) for r in rows],
                                          "adc.bits": [int(b) for b in adc_bits],
                                          "device.type": [str(d) for d in devices]}
        for k, v in self._hw.items():
            if not v:
                raise ConfigError(f"hardware grid '{k}' is empty")
        self.objectives = self._check_objectives(objectives)
        self._hw_grid = list(itertools.product(*self._hw.values()))
        self.chips = [self._make_chip(*hw) for hw in self._hw_grid]
        self._grid_key = (self.dataset, self.base.model_dump_json(), tuple(tuple(v) for v in self._hw.values()))
        self._costs = grid_costs(self._grid_key)
        self._chip_arrays: Any = None
        self._archs = _arch_table()
        self._canon: np.ndarray | None = None  # raw arch -> position in the bench table, n_bench for all-skip
        self._table: tuple[np.ndarray, np.ndarray] | None = None
        self._design_Y: np.ndarray | None = None  # (n_bench + 1, n_chips, 5)
        self.enumeration_s: float | None = None

    @property
    def description(self) -> str:
        """One line for the benchmark report."""
        return (f"{self.n_bench:,} NAS-Bench-Graph architectures on {self.data.label} ({N_ARCHS:,} link x operator "
                f"choices; isomorphic ones are one design) x {self.n_chips} chips = {self.n_designs:,} designs; "
                "accuracy from NAS-Bench-Graph (GPU-trained: independent of the hardware), energy from the cost "
                "model")

    # ------------------------------------------------------------------------------------------ space
    def choices(self) -> dict[str, list[Any]]:
        """Parameter name -> its values (architecture first, then the hardware grid)."""
        return {"arch.link": list(LINKS), **{f"arch.op{i}": list(OPS) for i in range(4)},
                **{k: list(v) for k, v in self._hw.items()}}

    @property
    def n_chips(self) -> int:
        """Chips in the hardware grid."""
        return len(self.chips)

    @property
    def n_bench(self) -> int:
        """Architectures in the bench (non-isomorphic representatives)."""
        return len(load_bench(self.dataset)["hash"])

    @property
    def size(self) -> int:
        """Rows of :meth:`enumerate_all`: 59,049 raw architectures x chips."""
        return N_ARCHS * self.n_chips

    @property
    def n_designs(self) -> int:
        """Distinct designs: (bench architectures + the all-skip one) x chips."""
        return (self.n_bench + 1) * self.n_chips

    def _make_chip(self, rows: int, adc_bits: int, device: str) -> Chip:
        return grid_chip(self.base, rows, adc_bits, device)

    def index(self, sample: Mapping[str, Any]) -> int:
        """Row of ``sample`` in :meth:`enumerate_all`; a one-line ConfigError names a bad key or value."""
        pos = self._positions(sample)
        arch = int(np.ravel_multi_index(pos[:5], (len(LINKS),) + (len(OPS),) * 4))
        chip = int(np.ravel_multi_index(pos[5:], tuple(len(v) for v in self._hw.values())))
        return arch * self.n_chips + chip

    def sample_at(self, index: int) -> dict[str, Any]:
        """The sample of row ``index`` of :meth:`enumerate_all`."""
        if not 0 <= int(index) < self.size:
            raise ConfigError(f"design index {index} out of range 0..{self.size - 1}")
        arch, chip = divmod(int(index), self.n_chips)
        row = self._archs[arch]
        out: dict[str, Any] = {"arch.link": LINKS[row[0]], **{f"arch.op{i}": OPS[j] for i, j in enumerate(row[1:])}}
        out.update(zip(self._hw, self._hw_grid[chip]))
        return out

    def _canonical(self) -> np.ndarray:
        if self._canon is None:
            keys = load_bench(self.dataset)["hash"]
            h = canonical_map()
            pos = np.searchsorted(keys, h)
            valid = h >= 0
            if not np.all(keys[np.minimum(pos[valid], len(keys) - 1)] == h[valid]):
                raise ConfigError(f"NAS-Bench-Graph '{self.dataset}': some architectures have no bench entry")
            self._canon = np.where(valid, pos, len(keys)).astype(np.int64)
        return self._canon

    def design_key(self, sample: Mapping[str, Any]) -> int:
        """The design a sample is: its bench architecture (isomorphic samples share it) and chip."""
        arch, chip = divmod(self.index(sample), self.n_chips)
        return int(self._canonical()[arch]) * self.n_chips + chip

    # ------------------------------------------------------------------------------------------ evaluation
    def _cost(self, sig: tuple) -> np.ndarray:
        got = self._costs.get(sig)
        if got is None:
            from imcnas.hardware.params import chip_arrays

            if self._chip_arrays is None:
                self._chip_arrays = chip_arrays(self.chips)
            got = self._costs[sig] = price_signature(self.dataset, sig, self.chips, self._chip_arrays)
        return got

    def _designs(self) -> np.ndarray:
        """(n_bench + 1, n_chips, 5) objectives of every bench architecture on every chip (OBJECTIVES order);
        the last architecture is the all-skip one."""
        if self._design_Y is None:
            b = load_bench(self.dataset)
            sigs = [signature(*decode_hash(h), self.data.pre) for h in b["hash"]]
            ids: dict[tuple, int] = {}
            sig_of = np.array([ids.setdefault(s, len(ids)) for s in sigs])
            costs = np.stack([self._cost(s) for s in ids])  # (n_sigs, n_chips, 3)
            n = len(b["hash"])
            Y = np.empty((n + 1, self.n_chips, len(OBJECTIVES)))
            Y[:n, :, 0] = (100.0 - 100.0 * b["perf"])[:, None]
            Y[:n, :, 1] = (100.0 - 100.0 * b["valid_perf"])[:, None]
            Y[:n, :, 2:] = costs[sig_of]
            Y[n, :, :2] = 100.0
            Y[n, :, 2:] = Y[:n, :, 2:].max(axis=0)  # the all-skip penalty: dominated by every architecture
            self._design_Y = Y
        return self._design_Y

    def evaluate(self, sample: Mapping[str, Any]) -> dict[str, float]:
        """All objectives of one design: a table lookup for accuracy plus the (cached) cost of its network."""
        i = self.index(sample)
        arch, chip = divmod(i, self.n_chips)
        y = self._designs()[self._canonical()[arch], chip]
        return {k: float(v) for k, v in zip(OBJECTIVES, y)}

    def enumerate_all(self) -> tuple[np.ndarray, np.ndarray]:
        """Every design: ``(choice_index, Y)`` with choice_index (size, 8) int8 positions in :meth:`choices`
        (row = raw architecture * n_chips + chip) and Y (size, len(OBJECTIVES)) float in OBJECTIVES order.
        Cached; the first call's time is in ``enumeration_s``."""
        if self._table is None:
            t0 = time.perf_counter()
            Y = self._designs()[self._canonical()].reshape(-1, len(OBJECTIVES))
            hw_pos = np.array(list(itertools.product(*(range(len(v)) for v in self._hw.values()))), dtype=np.int8)
            idx = np.concatenate([np.repeat(self._archs, self.n_chips, axis=0),
                                  np.tile(hw_pos, (N_ARCHS, 1))], axis=1)
            self._table = (idx, Y)
            self.enumeration_s = time.perf_counter() - t0
        return self._table

    # ------------------------------------------------------------------------------------------ the answer
    def front_indices(self, objectives: Sequence[str] | None = None) -> np.ndarray:
        """Rows of every non-dominated design (ties and isomorphic duplicates included), found exhaustively.

        Exact: isomorphic architectures have equal rows, so the front is found over the bench architectures x
        chips; a design non-dominated over all of them is non-dominated among its own chip's, so only the
        survivors of each chip's filter are compared globally. Every raw row of a front design is returned."""
        objs = self._check_objectives(objectives)
        self.enumerate_all()
        D = self._designs()[:, :, [OBJECTIVES.index(o) for o in objs]]  # (n_bench + 1, n_chips, k)
        cand = [np.flatnonzero(nondominated_mask(D[:, c])) * self.n_chips + c for c in range(self.n_chips)]
        flat = D.reshape(-1, len(objs))
        rows = np.concatenate(cand)
        front = np.zeros(len(flat), dtype=bool)
        front[rows[nondominated_mask(flat[rows])]] = True  # design rows: bench position * n_chips + chip
        raw = self._canonical()[:, None] * self.n_chips + np.arange(self.n_chips)[None, :]  # (N_ARCHS, n_chips)
        return np.flatnonzero(front[raw.ravel()])


def cost_cache(problem: NASBenchGraphProblem) -> tuple[tuple, dict[tuple, np.ndarray]]:
    """The costs priced so far for ``problem``'s dataset and grid, to hand to another process."""
    return problem._grid_key, dict(problem._costs)


def signature_counts(dataset: str = "cora") -> Counter:
    """How many bench architectures share each cost signature (a diagnostic)."""
    ds = get_dataset(dataset)
    return Counter(signature(*decode_hash(h), ds.pre) for h in load_bench(dataset)["hash"])
