"""How one weight is laid out in cells: the single decision that the cost model, the accuracy simulation and
the spec validation all call (numpy only, no torch).

Two layouts exist:

* **sliced**: ``cells x bits_per_cell >= weight bits``; each cell holds one slice of the weight's bits, the
  slices are shift-added after the ADC (NeuroSim, ISAAC);
* **equal significance**: fewer cells than the bits need; every cell holds the whole weight in analog and
  the cells' currents add (IBM HERMES, aihwkit). Only an analog, multi-level device can do that: a binary
  cell (SRAM, STT-MRAM) cannot hold an 8-bit weight, so that combination is an error.
"""
from __future__ import annotations

import math

import numpy as np

from imcnas.errors import ConfigError

BINARY_DEVICES = ("sram", "mram")


def cells_per_weight(w_bits: int, bits_per_cell: int, explicit: int | None = None) -> int:
    """Cells (per side of a signed pair) one weight occupies: the explicit count, else ceil(bits / cell bits)."""
    return int(explicit) if explicit else math.ceil(w_bits / bits_per_cell)


def is_sliced(w_bits: int, cells: int, bits_per_cell: int) -> bool:
    """True when the cells slice the weight's bits (else every cell holds the whole weight in analog)."""
    return cells * bits_per_cell >= w_bits


def check_layout(w_bits: int, cells: int, bits_per_cell: int, device: str, where: str = "weights") -> None:
    """Raise a one-line ConfigError when ``cells`` cells of ``bits_per_cell`` bits cannot hold the weight."""
    if is_sliced(w_bits, cells, bits_per_cell):
        return
    if device in BINARY_DEVICES:
        need = math.ceil(w_bits / bits_per_cell)
        raise ConfigError(
            f"{where}: {cells} cell(s) x device.bits_per_cell={bits_per_cell} hold {cells * bits_per_cell} bit(s), "
            f"fewer than weights.bits={w_bits}, and a binary {device} cell cannot hold the weight in analog: "
            f"set weights.cells_per_weight >= {need} (or leave it unset) or lower weights.bits")


def cells_array(w_bits: np.ndarray, bits_per_cell: np.ndarray, explicit: np.ndarray) -> np.ndarray:
    """Vectorised ``cells_per_weight``: ``explicit`` is 0 where the count is derived."""
    return np.where(explicit > 0, explicit, np.ceil(w_bits / bits_per_cell))
