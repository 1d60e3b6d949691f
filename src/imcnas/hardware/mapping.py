"""Workload -> crossbars, PEs and tiles, vectorised over chips.

Every array here has shape (n_chips, n_layers) (chip parameters broadcast as (n_chips, 1)). A static layer's
weight matrix of one group is rows (kh*kw*cin/groups) x cols (cout/groups); each weight occupies
``cols_per_weight`` physical columns (bit slices, doubled for a differential pair). Small groups (depthwise
convolutions) are packed block-diagonally into one crossbar. Copies of a layer (duplication) run in parallel.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from imcnas.hardware.params import ChipArrays


@dataclass
class Mapping:
    """Per-layer mapping figures, arrays of shape (n_chips, n_layers)."""

    row_tiles: np.ndarray  # crossbars stacked along the fan-in
    col_tiles: np.ndarray  # crossbars side by side along the outputs
    groups_per_xbar: np.ndarray  # groups packed block-diagonally into one crossbar
    xbars_per_copy: np.ndarray
    duplication: np.ndarray
    xbars: np.ndarray  # crossbars holding the layer, all copies
    tiles: np.ndarray  # tiles allocated to the layer
    row_groups: np.ndarray  # sequential analog reads per crossbar (rows / parallel rows)
    cells_used: np.ndarray  # cells holding weights, all copies

    @property
    def total_tiles(self) -> np.ndarray:
        """Tiles of the chip, per chip."""
        return self.tiles.sum(axis=1)

    @property
    def total_xbars(self) -> np.ndarray:
        """Crossbars holding weights, per chip."""
        return self.xbars.sum(axis=1)


def _balance_duplication(vectors: np.ndarray, cap: np.ndarray) -> np.ndarray:
    """Copies per layer so that layers with many output positions keep pace with the rest: the power of two
    nearest vectors / (fewest vectors of any layer with more than one), capped at ``cap``."""
    multi = np.where(vectors > 1, vectors, np.inf)
    ref = multi.min(axis=1, keepdims=True) if vectors.shape[1] else np.ones((vectors.shape[0], 1))
    ref = np.where(np.isfinite(ref), ref, 1.0)
    ratio = np.maximum(vectors / ref, 1.0)
    dup = 2.0 ** np.round(np.log2(ratio))
    return np.clip(dup, 1.0, cap)


def map_layers(rows: np.ndarray, cols: np.ndarray, groups: np.ndarray, vectors: np.ndarray,
               c: ChipArrays) -> Mapping:
    """Map static layers (1-D arrays of length n_layers) onto each chip of ``c``."""
    rows, cols, groups, vectors = (np.asarray(a, dtype=float)[None, :] for a in (rows, cols, groups, vectors))
    phys_cols = cols * c.cols_per_weight
    fits = (rows <= c.xbar_rows) & (phys_cols <= c.xbar_cols)
    pack = np.where(fits, np.minimum(np.floor(c.xbar_rows / rows), np.floor(c.xbar_cols / phys_cols)), 1.0)
    pack = np.clip(np.minimum(pack, groups), 1.0, None)
    row_tiles = np.ceil(rows / c.xbar_rows)
    col_tiles = np.ceil(phys_cols / c.xbar_cols)
    per_copy = np.ceil(groups / pack) * row_tiles * col_tiles
    dup = np.where(c.dup_balance, _balance_duplication(vectors * np.ones_like(per_copy), c.max_dup),
                   np.minimum(c.dup_fixed, np.maximum(vectors, 1.0)))
    xbars = per_copy * dup
    per_tile = c.xbars_per_pe * c.pes_per_tile
    tiles = np.where(c.layer_per_tile, np.ceil(xbars / per_tile), xbars / per_tile)
    rows_in_xbar = np.minimum(rows * pack, c.xbar_rows)
    row_groups = np.ceil(rows_in_xbar / c.active_rows)
    cells = rows * phys_cols * groups * dup
    return Mapping(row_tiles, col_tiles, pack, per_copy, dup, xbars, tiles, row_groups, cells)
