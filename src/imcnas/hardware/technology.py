"""Per-node technology table, 130 ... 1 nm, as NeuroSim V1.4 tabulates it (LSTP roadmap, 300 K).

Physics by tables, not by power laws of the node name: every quantity comes from the table row of its node;
between table nodes it is interpolated log-linearly in the node (never extrapolated: nodes outside
130 ... 1 nm are refused by the spec). Sources are NeuroSim V1.4 (github neurosim/DNN_NeuroSim_V1.4, commit
ac828e6, folder Inference_pytorch/NeuroSIM): Technology.cpp (supply, gate capacitance, on/off currents),
constant.h (standard-cell height, contacted poly pitch), Param.cpp (SRAM bit cell, read voltage).
numpy only.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

ArrayLike = np.ndarray | float

NODES_NM = np.array([130, 90, 65, 45, 32, 22, 14, 10, 7, 5, 3, 2, 1], dtype=float)

# Technology.cpp LSTP supply (lines 128-1300 by node)
VDD_V = np.array([1.3, 1.2, 1.1, 1.0, 0.9, 0.85, 0.8, 0.75, 0.7, 0.7, 0.7, 0.65, 0.6])
# Param.cpp:351-363 read voltage of the cells / column (the sense amp's operating point)
V_READ_V = np.array([0.58, 0.58, 0.55, 0.51, 0.51, 0.55, 0.277, 0.28, 0.264, 0.253, 0.248, 0.28, 0.272])
# Gate capacitance of a minimum NMOS (W = MIN_NMOS_SIZE x F = 2F), fF. Planar nodes (Technology.cpp:128-753,
# formula.cpp:66): (capIdealGate + capOverlap + capFringe) x 2F with capOverlap = 0.2 capIdealGate.
# FinFET / GAA nodes (Technology.cpp:57 caplist): one fin (or sheet stack) per 2F of width, caplist aF each.
_CAP_IDEAL = np.array([1.8574e-9, 1.5413e-9, 1.1926e-9, 8.930709e-10, 8.375279e-10, 5.245e-10])
_CAP_FRINGE = np.array([9.530642e-10, 9.601334e-10, 9.62148e-10, 8.849901e-10, 6.856677e-10, 8.004e-10])
_PLANAR_CGATE_FF = (1.2 * _CAP_IDEAL + _CAP_FRINGE) * 2 * NODES_NM[:6] * 1e-9 * 1e15
_FIN_CGATE_FF = np.array([103.816, 97.549, 100.497, 81.859, 72.572, 79.74, 66.94]) * 1e-3
CGATE_MIN_FF = np.concatenate([_PLANAR_CGATE_FF, _FIN_CGATE_FF])
# On-current of a minimum NMOS, uA (Technology.cpp Ion_n x width: planar 2F, FinFET one fin of
# effective width 2H+W / the listed effective width, GAA sheets x stacks)
_ION_PLANAR_UA_PER_UM = np.array([300.7, 346.3, 400.0, 500.2, 600.2, 791.9])
_ION_FIN_A_PER_M = np.array([595.045, 599.237, 562.048, 578.494, 641.463, 526.868, 460.979])
_FIN_WEFF_NM = np.array([92.0, 98.0, 107.0, 106.0, 101.0, 42.0 * 3, 32.0 * 4])
ION_MIN_UA = np.concatenate([_ION_PLANAR_UA_PER_UM * 2 * NODES_NM[:6] * 1e-3, _ION_FIN_A_PER_M * _FIN_WEFF_NM * 1e-3])
# Off-current per unit width, A/m (Technology.cpp: 100e-6 at all planar LSTP nodes; currentlist_off below)
_IOFF_FIN = np.array([1e-4, 1.27e-4, 1.47e-4, 1.38e-4, 1.58e-4, 7.33e-5, 1.69e-4])
IOFF_MIN_NA = np.concatenate([100e-6 * 2 * NODES_NM[:6] * 1e-9, _IOFF_FIN * _FIN_WEFF_NM * 1e-9]) * 1e9
# constant.h: standard-cell height (units of F) and contacted poly pitch (units of F)
CELL_HEIGHT_F = np.array([28, 28, 28, 28, 28, 28, 41.142, 33.0, 34.285, 36.0, 48.0, 57.0, 80.0])
POLY_PITCH_F = np.array([3.8, 3.8, 3.8, 3.8, 3.8, 3.8, 5.571, 6.4, 8.1428, 10.2, 16.0, 22.5, 40.0])
# Param.cpp:270-333: SRAM compute bit cell height x width in F (logic SRAM rules grow in F below 22 nm)
SRAM_CELL_H_F = np.array([10, 10, 10, 10, 10, 10, 10.6, 12.8, 16.0, 19.2, 30.0, 42.0, 80.0])
SRAM_CELL_W_F = np.array([28, 28, 28, 28, 28, 28, 30.8, 31.25, 34.43, 43.75, 68.26, 120.0, 144.0])
# Param.cpp:151-160 sizingfactor_MUX: the column-mux decoder's driver width in minimum sizes (1 where the
# table has no entry, i.e. 32 nm and above)
MUX_DRIVER_SIZING = np.array([1, 1, 1, 1, 1, 110, 130, 80, 60, 50, 25, 25, 30], dtype=float)
# Nodes below this are FinFET (14 ... 3 nm) or nanosheet (2, 1 nm) in NeuroSim's tables
FINFET_BELOW_NM = 18.0
# Wire capacitance per length (Param.cpp / NeuroSim's 0.2 fF/um at every node)
WIRE_CAP_FF_PER_UM = 0.2

_LOG_NODES = np.log(NODES_NM[::-1])
_COLUMNS = {  # name -> (table, interpolate in log of the value)
    "vdd": (VDD_V, False), "v_read": (V_READ_V, False), "cgate_ff": (CGATE_MIN_FF, True),
    "ion_ua": (ION_MIN_UA, True), "ioff_na": (IOFF_MIN_NA, True), "cell_height_f": (CELL_HEIGHT_F, True),
    "poly_pitch_f": (POLY_PITCH_F, True), "sram_h_f": (SRAM_CELL_H_F, True), "sram_w_f": (SRAM_CELL_W_F, True),
    "mux_sizing": (MUX_DRIVER_SIZING, True),
}
_STACK = np.stack([np.log(t[::-1]) if lg else t[::-1] for t, lg in _COLUMNS.values()])  # (columns, nodes)
_LOGGED = np.array([lg for _, lg in _COLUMNS.values()])


def _lookup(nodes: tuple[float, ...]) -> np.ndarray:
    x = np.log(np.asarray(nodes, dtype=float))
    hi = np.clip(np.searchsorted(_LOG_NODES, x), 1, len(_LOG_NODES) - 1)
    t = np.clip((x - _LOG_NODES[hi - 1]) / (_LOG_NODES[hi] - _LOG_NODES[hi - 1]), 0.0, 1.0)
    vals = _STACK[:, hi - 1] * (1 - t) + _STACK[:, hi] * t
    return np.where(_LOGGED[:, None], np.exp(vals), vals)


@lru_cache(maxsize=512)
def _cached(nodes: tuple[float, ...], shape: tuple[int, ...]) -> dict[str, np.ndarray]:
    vals = _lookup(nodes)
    out = {k: vals[i].reshape(shape) for i, k in enumerate(_COLUMNS)}
    for v in out.values():
        v.flags.writeable = False  # shared between calls
    return out


def at(node_nm: ArrayLike) -> dict[str, np.ndarray]:
    """Every table column at ``node_nm`` (one lookup for all; cached for small sets of nodes)."""
    node = np.asarray(node_nm, dtype=float)
    if node.size <= 64:
        return _cached(tuple(node.ravel().tolist()), node.shape)
    uniq, inverse = np.unique(node, return_inverse=True)  # many chips, few nodes
    vals = _cached(tuple(uniq.tolist()), uniq.shape) if uniq.size <= 64 else dict(zip(_COLUMNS, _lookup(tuple(uniq.tolist()))))
    return {k: v[inverse].reshape(node.shape) for k, v in vals.items()}


def vdd(node_nm: ArrayLike) -> ArrayLike:
    """Nominal supply of the node (LSTP)."""
    return at(node_nm)["vdd"]


def v_read(node_nm: ArrayLike) -> ArrayLike:
    """NeuroSim's cell read voltage at the node."""
    return at(node_nm)["v_read"]


def cgate_ff(node_nm: ArrayLike) -> ArrayLike:
    """Gate capacitance of one minimum transistor (fF)."""
    return at(node_nm)["cgate_ff"]


def ion_ua(node_nm: ArrayLike) -> ArrayLike:
    """On-current of one minimum transistor (uA)."""
    return at(node_nm)["ion_ua"]


def ioff_na(node_nm: ArrayLike) -> ArrayLike:
    """Off (leakage) current of one minimum transistor (nA)."""
    return at(node_nm)["ioff_na"]


def gate_area_um2(node_nm: ArrayLike) -> ArrayLike:
    """Area of one minimum inverter (one poly pitch pair wide, one standard cell high), um^2: the unit in
    which logic areas are counted (formula.cpp CalculateGateArea: width 2 x CPP, height = cell height)."""
    f_um = np.asarray(node_nm, dtype=float) * 1e-3
    t = at(node_nm)
    return 2 * t["poly_pitch_f"] * t["cell_height_f"] * f_um**2


def sram_cell_f2(node_nm: ArrayLike) -> ArrayLike:
    """SRAM compute-cell area in F^2 at the node."""
    t = at(node_nm)
    return t["sram_h_f"] * t["sram_w_f"]
