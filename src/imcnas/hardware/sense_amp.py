"""NeuroSim V1.4's current-mode multi-level sense amplifier (MultilevelSenseAmp.cpp, LSTP, 300 K): sensing
time and column power per node, from the circuit simulations that NeuroSim tabulates. numpy only.

The sensing time is set by the two extreme reference resistances (the closest levels are the slowest to
resolve); column conduction is charged once, as column power x sensing time, inside the sense amplifier
(not as V^2/R x read pulse). Tables are piecewise in ln(R) or R; between nodes the result is interpolated
log-linearly in the node, never extrapolated (the spec refuses nodes outside the table).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from imcnas.hardware.technology import NODES_NM

# Sensing time, s, as a function of the reference resistance x (ohm): segments (upper bound, kind, a, b),
# kind "log": a ln x + b, "lin": a x + b (MultilevelSenseAmp.cpp:712-903, ColumnLatency_Table).
_LAT = {
    130: [(1832, "log", -1.18573e-10, 2.54175e-9), (np.inf, "lin", 3.78659e-14, 2.60629e-9)],
    90: [(4832, "log", -1.08914e-10, 2.43204e-9), (np.inf, "lin", 2.8688e-14, 2.31147e-9)],
    65: [(4832, "log", -8.11436e-11, 2.2554e-9), (np.inf, "lin", 2.12366e-14, 2.14339e-9)],
    45: [(4832, "log", -1.12976e-10, 2.16762e-9), (np.inf, "lin", 1.54619e-14, 1.60263e-9)],
    32: [(4832, "log", -1.31777e-10, 2.03151e-9), (np.inf, "lin", 1.15509e-14, 1.19475e-9)],
    22: [(4832, "log", -1.32118e-10, 1.7552e-9), (np.inf, "lin", 8.02517e-15, 8.51803e-10)],
    14: [(812, "log", -7.01209e-11, 1.21771e-9), (2962, "log", -2.11644e-11, 8.96216e-10),
         (np.inf, "lin", 6.18337e-15, 8.17633e-10)],
    10: [(1128, "log", -7.20238e-11, 1.18578e-9), (4832, "log", -1.81368e-11, 8.16065e-10),
         (np.inf, "lin", 4.72185e-15, 7.28474e-10)],
    7: [(4832, "log", -4.67061e-11, 1.03708e-9), (np.inf, "lin", 3.72084e-15, 7.02172e-10)],
    5: [(4832, "log", -4.33009e-11, 9.79525e-10), (7847, "log", -3.15954e-12, 6.53005e-10),
        (np.inf, "lin", 2.77641e-15, 6.46706e-10)],
    3: [(4832, "log", -3.62939e-11, 9.04595e-10), (7847, "log", -8.05167e-12, 6.69134e-10),
        (np.inf, "lin", 2.02367e-15, 6.04792e-10)],
    2: [(4832, "log", -3.70119e-11, 8.91946e-10), (12742, "log", -7.45304e-12, 6.42667e-10),
        (np.inf, "lin", 1.74295e-15, 5.82625e-10)],
    1: [(4832, "log", -3.81168e-11, 8.78701e-10), (12742, "log", -2.01799e-11, 7.25185e-10),
        (np.inf, "lin", 1.19486e-15, 5.35253e-10)],
}
# Column-capacitance correction of the sensing time above a threshold resistance (:1150-1153):
# (reference capacitance F, dC s, R2 ohm, threshold ohm)
_LAT_CAP = {130: (26.62e-15, 2.0e-9, 1e5, 1.95e3), 90: (18.4e-15, 1.5e-9, 1e5, 4.83e3),
            65: (13.3e-15, 1.2e-9, 1e5, 4.83e3), 45: (9.21e-15, 0.81e-9, 1e5, 4.83e3),
            32: (6.55e-15, 0.55e-9, 1e5, 4.83e3), 22: (4.5e-15, 0.31e-9, 1e5, 12.7e3),
            14: (2.86e-15, 0.29e-9, 1e5, 12.7e3), 10: (2.04e-15, 0.27e-9, 1e5, 12.7e3),
            7: (1.43e-15, 0.13e-9, 1e5, 12.7e3), 5: (1.02e-15, 0.09e-9, 1e5, 12.7e3),
            3: (0.61e-15, 0.05e-9, 1e5, 12.7e3), 2: (0.4e-15, 0.034e-9, 1e5, 20.06e3),
            1: (0.2e-15, 0.013e-9, 1e5, 20.06e3)}
# Column power per comparator level, W, as a function of R' = R x 0.5 V / V_read (:483-709, LSTP current mode)
_A, _B = 4832.0, 379269.0
_POW = {
    130: [(_A, "lin", -4.12599e-11, 1.48536e-6), (_B, "log", -2.6617e-7, 3.56576e-6),
          (np.inf, "log", -1.25872e-7, 1.81453e-6)],
    90: [(_A, "lin", -1.67004e-11, 8.54958e-7), (_B, "log", -1.50719e-7, 2.0858e-6),
         (np.inf, "log", -8.89685e-8, 1.3007e-6)],
    65: [(_A, "lin", -6.08647e-12, 4.82814e-7), (_B, "log", -8.03449e-8, 1.16437e-6),
         (np.inf, "log", -6.01171e-8, 8.9355e-7)],
    45: [(_A, "lin", -3.96471e-12, 3.44344e-7), (_B, "log", -5.66235e-8, 8.27849e-7),
         (np.inf, "log", -4.32673e-8, 6.46111e-7)],
    32: [(_A, "lin", -6.72783e-12, 4.19847e-7), (_B, "log", -7.28881e-8, 1.02677e-6),
         (np.inf, "log", -4.35333e-8, 6.4697e-7)],
    22: [(_A, "lin", -2.85373e-11, 9.16744e-7), (_B, "log", -1.63133e-7, 2.1687e-6),
         (np.inf, "log", -5.8712e-8, 8.64648e-7)],
    14: [(7847, "lin", -3.11213e-13, 5.34821e-8), (np.inf, "log", -9.64978e-9, 1.44527e-7)],
    10: [(20691, "lin", -3.27225e-13, 5.54082e-8), (np.inf, "log", -9.99199e-9, 1.49539e-7)],
    7: [(20691, "lin", -2.62089e-13, 4.7357e-8), (np.inf, "log", -8.49198e-9, 1.27848e-7)],
    5: [(20691, "lin", -1.4179e-13, 3.31434e-8), (np.inf, "log", -5.76552e-9, 8.89536e-8)],
    3: [(20691, "lin", -1.17664e-13, 2.96368e-8), (np.inf, "log", -5.09202e-9, 7.91852e-8)],
    2: [(20691, "lin", -2.01487e-13, 4.21066e-8), (np.inf, "log", -7.43005e-9, 1.13414e-7)],
    1: [(20691, "lin", -1.68865e-13, 3.80513e-8), (np.inf, "log", -6.64737e-9, 1.02221e-7)],
}


def _pack(table: dict) -> tuple[np.ndarray, ...]:
    """Segments of every node as (13, 3) arrays: upper bounds, log flags, a, b (padded with the last)."""
    rows = [table[int(n)] for n in NODES_NM]
    pad = [r + [r[-1]] * (3 - len(r)) for r in rows]
    return tuple(np.array([[seg[i] for seg in r] for r in pad], dtype=float if i != 1 else object)
                 for i in range(4))


def _compile(table: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    hi, kind, a, b = _pack(table)
    return hi.astype(float), (kind == "log").astype(float), a.astype(float), b.astype(float)


_LAT_C = _compile(_LAT)
_POW_C = _compile(_POW)
_CAP_C = np.array([_LAT_CAP[int(n)] for n in NODES_NM])  # (13, 4)
_LN_NODES = np.log(NODES_NM)


def _eval(x: np.ndarray, coeffs: tuple[np.ndarray, ...]) -> np.ndarray:
    """A piecewise table at ``x`` with its node's coefficients (each (..., 3): bounds, log flags, a, b)."""
    hi, is_log, a, b = coeffs
    lx = np.log(np.maximum(x, 1e-9))
    seg = [np.where(is_log[..., k] > 0, a[..., k] * lx, a[..., k] * x) + b[..., k] for k in range(3)]
    return np.where(x < hi[..., 0], seg[0], np.where(x < hi[..., 1], seg[1], seg[2]))


@lru_cache(maxsize=256)
def _prepared(nodes: tuple[float, ...], shape: tuple[int, ...]) -> dict:
    """The table rows around each node and the log-interpolation weight (cached: chips share few nodes)."""
    ln = np.log(np.asarray(nodes, dtype=float)).reshape(shape)
    below = np.clip(np.searchsorted(-_LN_NODES, -ln, side="left"), 0, len(NODES_NM) - 1)  # first node <= node
    above = np.clip(below - 1, 0, len(NODES_NM) - 1)
    span = _LN_NODES[above] - _LN_NODES[below]
    t = np.where(span > 0, (ln - _LN_NODES[below]) / np.where(span > 0, span, 1.0), 0.0)
    side = lambda idx: {"lat": tuple(c[idx] for c in _LAT_C), "pow": tuple(c[idx] for c in _POW_C),
                        "cap": tuple(_CAP_C[idx, i] for i in range(4))}
    return {"t": t, "exact": bool(np.all(t == 0)), "lo": side(below), "hi": side(above)}


def _at_nodes(node: np.ndarray, fn) -> np.ndarray:
    """``fn(table side)`` interpolated between the table nodes around ``node``."""
    prep = _prepared(tuple(node.ravel().tolist()), node.shape)
    lo = fn(prep["lo"])
    if prep["exact"]:
        return lo
    return lo + prep["t"] * (fn(prep["hi"]) - lo)


def sensing_time_ns(node_nm: np.ndarray, r_ref: np.ndarray, c_col_ff: np.ndarray) -> np.ndarray:
    """Time to resolve a column against reference resistance ``r_ref`` (ohm) with column capacitance
    ``c_col_ff``, ns."""
    node, r, ccol = np.broadcast_arrays(np.asarray(node_nm, float), np.asarray(r_ref, float),
                                        np.asarray(c_col_ff, float) * 1e-15)

    def at(side: dict) -> np.ndarray:
        ref, dc, r2, thr = side["cap"]
        return _eval(r, side["lat"]) + np.where(r > thr, dc / (r2 - thr) * (r - thr) * (ccol - ref) / ref, 0.0)

    return np.maximum(_at_nodes(node, at), 1e-12) * 1e9


def column_power_uw(node_nm: np.ndarray, r_col: np.ndarray, v_read: np.ndarray) -> np.ndarray:
    """Power one column (and its comparator bank) draws at column resistance ``r_col`` (ohm), uW per level."""
    node, r, v = np.broadcast_arrays(np.asarray(node_nm, float), np.asarray(r_col, float), np.asarray(v_read, float))
    rp = r * 0.5 / v
    return np.maximum(_at_nodes(node, lambda side: _eval(rp, side["pow"])), 0.0) * 1e6


def reference_resistances(r0: np.ndarray, parallel_rows: np.ndarray, levels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The fastest and slowest reference resistances of an L-level sense amp reading ``parallel_rows`` cells
    of on-resistance ``r0``: R0 L / ((L-1) n) and R0 L / (2 n) (MultilevelSenseAmp.cpp:66-108)."""
    return r0 * levels / ((levels - 1) * parallel_rows), r0 * levels / (2 * parallel_rows)
