"""Comparison of the cost model with NeuroSim V1.4 runs and published component figures.

Used by tests/hardware/test_validation.py, benchmarks/fit_costmodel.py and benchmarks/validate_references.py.
Every figure on our side comes from the public API (``estimate`` on a ``Chip`` built by ``load_chip``).
Each row is labelled by what it is:

* **calibration**: a constant of the model was fitted on it (NeuroSim training runs, ISAAC's ADC table);
* **self-check**: it reads back a table or formula the model contains (the ADC survey fit's own values);
* **validation**: independent of every constant (held-out NeuroSim runs, published figures not used).

NeuroSim comparisons run the workload NeuroSim simulates (valid convolutions, no padding) and use NeuroSim's
op count (2 x input-size MACs), so like is compared with like. NeuroSim's printed energies exclude its
post-layout factor zeta = 1.22 and its printed TOPS/W includes it; our NeuroSim presets apply zeta to energy,
so component energies are compared after dividing zeta out and TOPS/W as printed.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import yaml

from imcnas.hardware.report import estimate_batch
from imcnas.hardware.spec import Chip, load_chip
from imcnas.workload.ops import Workload
from imcnas.workload.table import from_layer_table

TOLERANCE = 0.25
ZETA = 1.22
# NeuroSim's categories in ours: its ADC energy holds the sense amp and the word-line charging of the array;
# "other" holds row drivers, mux, buffers and interconnect; its "other" area is our periphery, row drivers,
# buffers and digital units, and its chip area includes the subarrays' layout whitespace.
ENERGY_MAP = {"adc": ("adc", "array"), "accumulation": ("accumulation",),
              "other": ("dac", "buffer", "interconnect", "digital")}
AREA_MAP = {"array": ("array",), "adc": ("adc",), "accumulation": ("accumulation",),
            "other": ("periphery", "dac", "buffer", "digital"), "interconnect": ("interconnect",)}
NS_AREA_KEYS = {"array": "area_array_um2", "adc": "area_adc_um2", "accumulation": "area_accum_um2",
                "other": "area_other_um2", "interconnect": "area_ic_um2"}
NS_ENERGY_KEYS = {"adc": "dyn_adc_pJ", "accumulation": "dyn_accum_pJ", "other": "dyn_other_pJ",
                  "buffer": "buffer_energy_pJ", "interconnect": "ic_energy_pJ", "leakage": "leak_energy_pJ"}


@dataclass(frozen=True)
class Row:
    """One comparison."""

    reference: str
    quantity: str
    published: float
    estimate: float
    role: str = "validation"  # "calibration" | "self-check" | "validation"

    @property
    def error(self) -> float:
        """Relative error of the estimate."""
        return self.estimate / self.published - 1.0

    @property
    def ok(self) -> bool:
        """Within the tolerance."""
        return abs(self.error) <= TOLERANCE


def load_references(path: str | Path) -> dict[str, Any]:
    """Read a references YAML."""
    return yaml.safe_load(Path(path).read_text())


def neurosim_workload(network: str, networks: dict[str, Any]) -> tuple[Workload, float]:
    """The workload NeuroSim simulates for ``network`` (a layer table as NeuroSim's NetWork_*.csv) and
    NeuroSim's op count for it (2 x input-size MACs, main.cpp)."""
    layers = networks[network]["layers"]
    ops = sum(2.0 * r["in_hw"] ** 2 * r["in_c"] * r["k"] ** 2 * r["out_c"] for r in layers)
    return from_layer_table(f"{network}-neurosim", layers, positions="valid"), ops


def neurosim_chip(cfg: dict[str, Any]) -> Chip:
    """The NeuroSim preset of the run's device, with the run's Param.cpp settings."""
    keys = ("memcelltype", "subarray", "technode_nm", "numRowParallel", "levelOutput", "numColMuxed", "cellBit",
            "weight_bits", "input_bits", "R_on_ohm", "onoff_ratio")
    return _neurosim_chip(tuple((k, cfg[k]) for k in keys if k in cfg))


@lru_cache(maxsize=4096)
def _neurosim_chip(items: tuple[tuple[str, Any], ...]) -> Chip:
    cfg = dict(items)
    mem = str(cfg["memcelltype"]).lower()
    rows = int(str(cfg["subarray"]).split("x")[0])
    cols = 128  # NeuroSim keeps numColSubArray at its Param.cpp value; the command line sets the rows only
    over = [f"technology.node_nm={cfg['technode_nm']}", f"crossbar.rows={rows}", f"crossbar.cols={cols}",
            f"crossbar.parallel_rows={cfg['numRowParallel']}", f"adc.bits={int(np.log2(cfg['levelOutput']))}",
            f"adc.cols_per_adc={cfg.get('numColMuxed', 8)}", f"device.bits_per_cell={cfg.get('cellBit', 1)}",
            f"weights.bits={cfg.get('weight_bits', 8)}", f"inputs.bits={cfg.get('input_bits', 8)}"]
    if "R_on_ohm" in cfg and mem != "sram":
        over += [f"device.r_on_ohm={cfg['R_on_ohm']}", f"device.on_off={cfg.get('onoff_ratio', 17)}"]
    return load_chip(f"neurosim-{mem}-22nm", over)


def ours_vs_neurosim(runs: Iterable[dict[str, Any]], networks: dict[str, Any],
                     area_only: bool = False) -> list[dict[str, tuple[float, float]]]:
    """For each run: {metric: (ours, NeuroSim)} for area components, and (full runs) energies, clock,
    TOPS, TOPS/W. Runs of one network are priced in one vectorised pass."""
    runs = list(runs)
    out: list[dict[str, tuple[float, float]]] = [{} for _ in runs]
    for net in sorted({str(r.get("network", r.get("config", {}).get("network", "VGG8"))) for r in runs}):
        idx = [i for i, r in enumerate(runs) if str(r.get("network", r.get("config", {}).get("network", "VGG8"))) == net]
        work, ops = neurosim_workload(net, networks)
        cfgs = [runs[i] if area_only else runs[i]["config"] for i in idx]
        table = estimate_batch(work, [neurosim_chip(c) for c in cfgs])
        for j, i in enumerate(idx):
            out[i] = _metrics({k: v[j] for k, v in table.columns.items()}, runs[i], ops, area_only)
    return out


def _metrics(col: dict[str, float], run: dict[str, Any], ops: float, area_only: bool) -> dict[str, tuple[float, float]]:
    m: dict[str, tuple[float, float]] = {}
    if area_only:
        ns = {k: v * 1e6 for k, v in run["area_mm2"].items()}
        ns_keys = {"array": "array", "adc": "adc", "accumulation": "accum", "other": "other", "interconnect": "ic"}
        m["chip_area_mm2"] = (col["area_mm2"], run["area_mm2"]["chip"])
        for k, keys in AREA_MAP.items():
            m[f"area_{k}_mm2"] = (sum(col[f"area_{a}_mm2"] for a in keys), ns[ns_keys[k]] * 1e-6)
        return m
    o = run["outputs"]
    m["chip_area_mm2"] = (col["area_mm2"], o["chip_area_mm2"])
    for k, keys in AREA_MAP.items():
        m[f"area_{k}_mm2"] = (sum(col[f"area_{a}_mm2"] for a in keys), o[NS_AREA_KEYS[k]] * 1e-6)
    m["tops"] = (ops / col["period_ns"] / 1e3, o["tops"])
    m["tops_per_w"] = (ops / (col["energy_pj"] * 1e-12) / 1e12, o["tops_per_w"])
    m["clock_ns"] = (col["clock_ns"], o["clk_period_ns"])
    for k, keys in ENERGY_MAP.items():
        m[f"energy_{k}_pj"] = (sum(col[f"energy_{a}_pj"] for a in keys) / ZETA, o[NS_ENERGY_KEYS[k]])
    m["energy_buffer_pj"] = (col["energy_buffer_pj"] / ZETA, o["buffer_energy_pJ"])
    m["energy_interconnect_pj"] = (col["energy_interconnect_pj"] / ZETA, o["ic_energy_pJ"])
    m["energy_leakage_pj"] = (col["energy_leakage_pj"] / ZETA, o["leak_energy_pJ"])
    return m


def run_label(run: dict[str, Any]) -> str:
    """A short name for an area-only run (full runs carry their own)."""
    if "name" in run:
        return str(run["name"])
    return (f"{run['network']} {run['memcelltype'].lower()} {run['technode_nm']} nm {run['subarray']}x "
            f"p{run['numRowParallel']} L{run['levelOutput']} c{run['cellBit']}")
