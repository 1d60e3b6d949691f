"""Public entry points of the cost model: ``estimate`` (one chip, a CostReport) and ``estimate_batch``
(many chips, a CostTable of columns)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from imcnas.errors import EnduranceError, MappingError
from imcnas.hardware.cost import AREA_COMPONENTS, ENERGY_COMPONENTS, price, totals
from imcnas.hardware.dynamic import DIGITAL_PARTS, op_rows
from imcnas.hardware.layout import cells_per_weight, check_layout
from imcnas.hardware.params import chip_arrays
from imcnas.hardware.spec import Chip, load_chip
from imcnas.workload.ops import Workload


@dataclass
class CostReport:
    """Cost of one workload on one chip: totals, per-component breakdowns and a per-layer table."""

    chip: str
    workload: str
    totals: dict[str, float]
    energy_breakdown_pj: dict[str, float]
    area_breakdown_mm2: dict[str, float]
    layers: list[dict[str, Any]] = field(default_factory=list)
    # every op with its kind (crossbar / dynamic / digital / unsupported), ``Workload.op_table``
    ops: list[dict[str, Any]] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)  # ops the tracer could not price (``Workload.unsupported``)
    # the digital units' energy by kind: "flops" (one adder op per flop: ReLU, batch norm, pooling, adds, ...),
    # softmax, norm, gelu, sigmoid, embedding (ops per element from the chip's Digital tables),
    # dynamic_matmul and aggregate (those that ran digitally); they sum to energy_breakdown_pj["digital"]
    digital_breakdown_pj: dict[str, float] = field(default_factory=dict)
    # every dynamic matmul (attention QK^T / AV) and graph aggregation: where it ran (unit: crossbar / digital),
    # energy_pj (write_energy_pj of it rewriting crossbars), latency_ns
    dynamic_ops: list[dict[str, Any]] = field(default_factory=list)

    def __getattr__(self, name: str) -> float:
        totals = self.__dict__.get("totals", {})
        if name in totals:
            return totals[name]
        raise AttributeError(name)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict: headline keys at the top, ``breakdown``, ``layers`` (crossbar layers), ``ops`` (every
        op with its kind: crossbar / dynamic / digital / unsupported) and ``unsupported`` (op names) below."""
        return {
            "chip": self.chip, "workload": self.workload, **self.totals,
            "breakdown": {"energy_pj": self.energy_breakdown_pj, "area_mm2": self.area_breakdown_mm2},
            "layers": self.layers, "ops": self.ops, "unsupported": self.unsupported,
            "digital_breakdown_pj": self.digital_breakdown_pj, "dynamic_ops": self.dynamic_ops,
        }


class CostTable:
    """Costs of one workload on many chips: a dict of equal-length numpy columns. ``chips`` are the chips'
    display names (``Chip.display_name``: preset plus overrides), worked out on first use."""

    def __init__(self, chips: Sequence[str | Chip], columns: dict[str, np.ndarray]) -> None:
        self._chips: list[str | Chip] = list(chips)
        self._names: list[str] | None = None
        self.columns = columns

    @property
    def chips(self) -> list[str]:
        if self._names is None:
            self._names = [c if isinstance(c, str) else c.display_name for c in self._chips]
        return self._names

    def __len__(self) -> int:
        return len(self._chips)

    def __getitem__(self, key: str) -> np.ndarray:
        return self.columns[key]

    def __repr__(self) -> str:
        names = list(self.columns)
        shown = ", ".join(names[:4]) + (", ..." if len(names) > 4 else "")
        return f"CostTable({len(self)} chips x {len(names)} columns: {shown})"

    def to_records(self) -> list[dict[str, Any]]:
        """One dict per chip."""
        return [{"chip": name, **{k: float(v[i]) for k, v in self.columns.items()}}
                for i, name in enumerate(self.chips)]

    def to_pandas(self) -> Any:
        """A ``pandas.DataFrame``: a ``chip`` column, then one column per cost (pandas is optional)."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("CostTable.to_pandas() needs pandas: pip install pandas") from None
        return pd.DataFrame({"chip": self.chips, **{k: np.asarray(v) for k, v in self.columns.items()}})


def _as_workload(work: Workload | Any) -> Workload:
    if isinstance(work, Workload):
        return work
    from imcnas.workload.zoo import load_model  # torch only when a model must be traced
    from imcnas.workload.tracer import trace
    import torch.nn as nn

    if isinstance(work, str):
        model, example, name = load_model(work)
        traced = trace(model, example, name=name)
        bits = getattr(model, "imcnas_layer_bits", None)
        return traced.with_layer_bits(bits) if bits else traced
    if isinstance(work, tuple) and len(work) == 2 and isinstance(work[0], nn.Module):
        return trace(work[0], work[1])
    raise TypeError("estimate() takes a Workload, a model name, or (nn.Module, example_input)")


def _check_layouts(work: Workload, chip: Chip) -> None:
    """Per-layer weight bits must fit the chip's cell layout (``layout.check_layout``, as the accuracy side)."""
    d = chip.device
    for op in work.matrix_ops:
        bits = op.meta.get("w_bits")
        if bits is not None:
            cells = cells_per_weight(int(bits), d.bits_per_cell, chip.weights.cells_per_weight)
            check_layout(int(bits), cells, d.bits_per_cell, d.type, where=f"layer '{op.name}'")


def _check_fits(work: Workload, chip: Chip, p: dict[str, Any]) -> None:
    fixed = chip.hierarchy.tiles
    if fixed == "auto" or p["tiles_needed"][0] <= fixed:
        return
    used = np.cumsum(p["mapping"].tiles[0])
    first = int(np.argmax(used > fixed))
    op = work.matrix_ops[first]
    raise MappingError(f"layer '{op.name}' does not fit: the network needs {p['tiles_needed'][0]:.0f} tiles "
                       f"but hardware.hierarchy.tiles = {fixed}; use --set hierarchy.tiles=auto to size the chip "
                       f"to the model")


def _check_endurance(chip: Chip, p: dict[str, Any]) -> None:
    """Refuse a chip whose cells would wear out rewriting crossbars per inference (one line, ConfigError)."""
    needed, endurance = float(p["writes_per_cell"][0]), float(p["endurance"][0])
    if needed <= endurance:
        return
    what = " and ".join(f"{k}=crossbar" for k in ("dynamic_ops_on", "aggregation_on") if getattr(chip, k) == "crossbar")
    per = needed / chip.lifetime_inferences
    raise EnduranceError(f"device {chip.device.type} endures {endurance:.3g} write cycles per cell, but {what} "
                      f"rewrites each cell {per:g} times per inference, {needed:.3g} times over "
                      f"lifetime_inferences={chip.lifetime_inferences:.3g}; run them digitally, choose a device "
                      f"that survives rewrites (sram, mram) or lower lifetime_inferences")


def estimate(work: Workload | Any, chip: Chip | str) -> CostReport:
    """Energy, latency and area of ``work`` (a Workload, zoo name or (model, input)) on ``chip``."""
    work = _as_workload(work)
    chip = chip if isinstance(chip, Chip) else load_chip(chip)
    if chip.hybrid is not None:  # layers on several macro types (hardware/hybrid.py)
        from imcnas.hardware.hybrid import estimate_hybrid

        return estimate_hybrid(work, chip)
    _check_layouts(work, chip)
    arrays = chip_arrays([chip])
    p = price(work, arrays)
    _check_fits(work, chip, p)
    _check_endurance(chip, p)
    tot = {k: float(v[0]) for k, v in totals(p).items()}
    tot["macs"] = float(work.macs)
    tot["weights"] = float(work.weights)
    m = p["mapping"]
    weights_alloc = m.tiles[0] * m.tile_span[0] ** 2 * np.where(m.novel[0], m.pes_nm, 1.0)
    # a layer's area: its share of the tiles times everything that is replicated per tile (all but digital)
    tile_area_mm2 = sum(float(v[0, 0]) for k, v in p["area"].items() if k != "digital") * 1e-6
    tile_share = m.tiles[0] / max(float(m.tiles[0].sum()), 1e-12)
    b = float(max(work.batch, 1))
    energy = {k: v[0].tolist() for k, v in p["layer_energy"].items()}
    cols = {
        "crossbars": (m.mapped_subarrays[0] * m.copies[0]).tolist(), "duplication": m.copies[0].tolist(),
        "tiles": m.tiles[0].tolist(),
        "utilization": np.where(weights_alloc > 0, m.cells_used[0] / np.maximum(weights_alloc, 1e-30), 0.0).tolist(),
        "area_mm2": (tile_share * tile_area_mm2).tolist(), "latency_ns": p["layer_latency"][0].tolist(),
    }
    layers = []
    for j, op in enumerate(work.matrix_ops):
        e = {k: v[j] for k, v in energy.items()}
        layers.append({
            "name": op.name, "module": op.module, "rows": op.rows, "cols": op.cols, "groups": op.groups,
            "vectors": op.vectors / b, "macs": op.macs / b, **{k: v[j] for k, v in cols.items()},
            "energy_pj": sum(e.values()), "energy_breakdown_pj": e,
        })
    return CostReport(
        chip=chip.display_name, workload=work.name, totals=tot,
        energy_breakdown_pj={k: float(p["energy"][k][0, 0]) for k in ENERGY_COMPONENTS},
        area_breakdown_mm2={k: float(p["area"][k][0, 0] * 1e-6) for k in AREA_COMPONENTS},
        layers=layers, ops=work.op_table(), unsupported=list(work.unsupported),
        digital_breakdown_pj={k: float(p["digital_energy"][k][0, 0]) for k in DIGITAL_PARTS},
        dynamic_ops=op_rows(work, arrays, p),
    )


def estimate_batch(work: Workload | Any, chips: Sequence[Chip | str]) -> CostTable:
    """Price ``work`` on many chips in one vectorised pass. Chips whose fixed tile count is too small, or
    whose cells would wear out rewriting crossbars per inference (``lifetime_writes_per_cell`` above
    ``endurance_cycles``), get ``feasible = 0`` instead of an error."""
    work = _as_workload(work)
    chips = [c if isinstance(c, Chip) else load_chip(c) for c in chips]
    if any(c.hybrid is not None for c in chips):
        raise MappingError("estimate_batch prices single-macro chips in one pass; price hybrid chips with "
                           "estimate (one chip at a time)")
    p = price(work, chip_arrays(chips))
    cols = {k: np.asarray(v, dtype=float) for k, v in totals(p).items()}
    for comp in ENERGY_COMPONENTS:
        cols[f"energy_{comp}_pj"] = p["energy"][comp][:, 0]
    for comp in AREA_COMPONENTS:
        cols[f"area_{comp}_mm2"] = p["area"][comp][:, 0] * 1e-6
    for kind in DIGITAL_PARTS:
        cols[f"digital_{kind}_pj"] = p["digital_energy"][kind][:, 0]
    cols["lifetime_writes_per_cell"] = p["writes_per_cell"]
    cols["endurance_cycles"] = p["endurance"]
    return CostTable(chips=chips, columns=cols)
