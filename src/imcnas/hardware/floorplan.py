"""Workload -> subarrays, processing elements (PEs) and tiles, sized in weights as NeuroSim V1.4 does
(Chip.cpp ChipDesignInitialize / ChipFloorPlan), vectorised over chips.

* A layer's weight matrix is ``R`` rows (kh x kw x cin) by ``C`` physical columns (cout x columns per weight).
  Small groups (depthwise convolutions) are packed block-diagonally into one subarray.
* **Novel mapping** (NeuroSim's default): layers whose kernel area is the one most layers share, and whose
  fan-in fills a subarray, put one kernel position per PE; a tile holds ``kernel area`` PEs of ``P_nm`` x
  ``P_nm`` weights. Other layers use **conventional** tiles of ``T`` x ``T`` weights made of PEs of ``T/2``.
* PE and tile sizes are powers of two of the widest layer, at least 2x (PE) / 4x (tile) the subarray rows,
  chosen to maximise utilisation of the allocated weights (so the floorplan, not a fixed count of crossbars,
  decides what a larger subarray costs).
* Pipelining duplicates early layers so they keep pace: copies = ceil((H / bound)^2) with
  bound = ceil(H_max / degree), degree = min(sqrt(max copies), H_max / H_min) (NeuroSim's speedUpDegree);
  copies that fit in a tile's spare PEs/subarrays are free.
Every array is (n_chips, n_layers) or (n_chips,).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np

from imcnas.hardware.params import ChipArrays


def _memo(fn):
    """Cache a Floorplan method's result on the instance (a floorplan prices one set of chips)."""
    def wrapper(self, *args):
        key = "_memo_" + fn.__name__
        if key not in self.__dict__:
            self.__dict__[key] = fn(self, *args)
        return self.__dict__[key]

    wrapper.__doc__ = fn.__doc__
    wrapper.__name__ = fn.__name__
    return wrapper


@dataclass
class Floorplan:
    """Per-chip and per-layer floorplan figures."""

    novel: np.ndarray  # (n, L) bool: the layer uses novel-mapping tiles
    tiles: np.ndarray  # (n, L) tiles allocated to the layer, copies included
    copies: np.ndarray  # (n, L) weight copies working in parallel (pipeline speed-up)
    mapped_subarrays: np.ndarray  # (n, L) subarrays holding one copy of the weights
    row_blocks: np.ndarray  # (n, L) subarrays stacked along one block's fan-in (partial sums to add)
    tile_size: np.ndarray  # (n,) conventional tile size T (weights per side)
    pe_cm: np.ndarray  # (n,) conventional PE size
    pe_nm: np.ndarray  # (n,) novel-mapping PE size
    pes_nm: float  # PEs per novel-mapping tile (the shared kernel area)
    cells_used: np.ndarray  # (n, L) cells holding weights, copies included
    R: np.ndarray  # (n, L) weight rows of a layer (groups packed)
    input_bits_total: float  # feature-map elements entering all layers (sizes the global buffer)
    C: np.ndarray  # (n, L) physical weight columns of a layer (of one block of packed groups)
    blocks: np.ndarray  # (n, L) blocks of packed groups (1 for an ungrouped layer)
    tile_span: np.ndarray  # (n, L) weights per side of the layer's tile (T or P_nm)

    @property
    def tiles_cm(self) -> np.ndarray:
        """Conventional tiles of the chip, (n,)."""
        return np.where(self.novel, 0.0, self.tiles).sum(axis=1)

    @property
    def tiles_nm(self) -> np.ndarray:
        """Novel-mapping tiles of the chip, (n,)."""
        return np.where(self.novel, self.tiles, 0.0).sum(axis=1)

    @property
    def total_tiles(self) -> np.ndarray:
        """All tiles, (n,): whole tiles (a layer's share rounds up once when layers share tiles)."""
        return np.ceil(self.tiles.sum(axis=1) - 1e-9)

    # ---- hierarchy figures, (n, 1): NeuroSim's PE / tile / chip contents (ProcessingUnit.cpp, Tile.cpp,
    # Chip.cpp ChipInitialize)
    @_memo
    def pe_side(self, c: ChipArrays) -> tuple[np.ndarray, np.ndarray]:
        """Subarrays per PE side, for conventional and novel-mapping PEs."""
        k_cm = np.ceil(np.sqrt(np.ceil(self.pe_cm[:, None] / c.xbar_rows) * np.ceil(self.pe_cm[:, None] / c.xbar_cols)))
        k_nm = np.ceil(np.sqrt(np.ceil(self.pe_nm[:, None] / c.xbar_rows) * np.ceil(self.pe_nm[:, None] / c.xbar_cols)))
        return k_cm, k_nm

    @_memo
    def tile_pes(self) -> tuple[np.ndarray, np.ndarray]:
        """PEs per tile side: conventional ceil(T / P_cm); novel mapping sqrt(kernel area)."""
        return np.ceil(self.tile_size / self.pe_cm)[:, None], np.full_like(self.tile_size[:, None], np.ceil(np.sqrt(self.pes_nm)))

    @_memo
    def chip_tiles(self, c: ChipArrays) -> np.ndarray:
        """Tiles the chip has: the fixed count, else what the workload needs, (n,)."""
        return np.where(c.fixed_tiles[:, 0] > 0, c.fixed_tiles[:, 0], self.total_tiles)

    @_memo
    def _tile_counts(self, c: ChipArrays) -> tuple[np.ndarray, np.ndarray]:
        scale = self.chip_tiles(c) / np.maximum(self.total_tiles, 1e-12)
        return (self.tiles_cm * scale)[:, None], (self.tiles_nm * scale)[:, None]

    @_memo
    def subarrays_allocated(self, c: ChipArrays) -> np.ndarray:
        """All subarrays of the chip's tiles, (n, 1)."""
        k_cm, k_nm = self.pe_side(c)
        s_cm, s_nm = self.tile_pes()
        t_cm, t_nm = self._tile_counts(c)
        return t_cm * s_cm**2 * self.pe_subarrays(c, self.pe_cm) + t_nm * self.pes_nm * self.pe_subarrays(c, self.pe_nm)

    def empty_grid_slots(self, c: ChipArrays) -> np.ndarray:
        """Subarray places a PE's square grid leaves empty (k x k slots for fewer subarrays): layout area
        NeuroSim's PE keeps (ProcessingUnit.cpp: PE area = k^2 subarray boxes), (n, 1)."""
        k_cm, k_nm = self.pe_side(c)
        s_cm, _ = self.tile_pes()
        t_cm, t_nm = self._tile_counts(c)
        return (t_cm * s_cm**2 * (k_cm**2 - self.pe_subarrays(c, self.pe_cm))
                + t_nm * self.pes_nm * (k_nm**2 - self.pe_subarrays(c, self.pe_nm)))

    @staticmethod
    def pe_subarrays(c: ChipArrays, pe: np.ndarray) -> np.ndarray:
        """Subarrays of a PE of ``pe`` weights per side."""
        return np.ceil(pe[:, None] / c.xbar_rows) * np.ceil(pe[:, None] / c.xbar_cols)

    def tree_bits(self, c: ChipArrays, out_bits: np.ndarray) -> np.ndarray:
        """Adder bits of the PE, tile and chip adder trees, (n, 1)."""
        k_cm, k_nm = self.pe_side(c)
        s_cm, s_nm = self.tile_pes()
        t_cm, t_nm = self._tile_counts(c)
        per_adc = np.floor(c.xbar_cols / c.cols_per_adc) / c.xbar_cols

        def pe(k: np.ndarray) -> np.ndarray:
            return np.ceil(k * c.xbar_cols * per_adc) * (k - 1) * (out_bits + np.log2(np.maximum(k, 1)))

        tile_cm = np.ceil(s_cm * self.pe_cm[:, None] * per_adc) * (s_cm**2 - 1) * (out_bits + k_cm)
        tile_nm = np.ceil(self.pe_nm[:, None] * per_adc) * (self.pes_nm - 1) * (out_bits + k_nm)
        return t_cm * (s_cm**2 * pe(k_cm) + tile_cm) + t_nm * (self.pes_nm * pe(k_nm) + tile_nm)

    def register_bits(self, c: ChipArrays, out_bits: np.ndarray, in_elems: np.ndarray) -> np.ndarray:
        """Flip-flop bits of PE and tile buffers (register files) and the chip's global buffer, (n, 1)."""
        k_cm, k_nm = self.pe_side(c)
        s_cm, s_nm = self.tile_pes()
        t_cm, t_nm = self._tile_counts(c)
        n_adc = np.floor(c.xbar_cols / c.cols_per_adc)

        def pe(k: np.ndarray) -> np.ndarray:
            return c.in_bits * c.xbar_rows + n_adc * (out_bits + np.ceil(np.log2(np.maximum(k, 1))))

        def tile(s: np.ndarray, k: np.ndarray) -> np.ndarray:
            bits = s * c.in_bits * c.xbar_rows + (out_bits + k + np.ceil(np.log2(np.maximum(s, 1)))) * s * n_adc
            return np.where(c.tile_sram, 0.0, bits)

        glob = c.in_bits * in_elems.sum() / 2
        return t_cm * (s_cm**2 * pe(k_cm) + tile(s_cm, k_cm)) + t_nm * (self.pes_nm * pe(k_nm) + tile(s_nm, k_nm)) + glob

    @_memo
    def tile_bus_bits(self, c: ChipArrays) -> tuple[np.ndarray, np.ndarray]:
        """H-tree width of a conventional and a novel-mapping tile: all its PEs' columns."""
        s_cm, _ = self.tile_pes()
        return s_cm * self.pe_cm[:, None], self.pes_nm * self.pe_nm[:, None]

    @_memo
    def bus_width(self, c: ChipArrays) -> np.ndarray:
        """Global bus width: every tile's outputs and partial sums, halved until it fits the interconnect
        width (Chip.cpp:389-406), (n, 1)."""
        want = ((self.tile_span + self.tile_span / c.cols_per_adc) * self.tiles).sum(axis=1, keepdims=True)
        halvings = np.ceil(np.log2(np.maximum(want / c.noc_width, 1.0)))
        return np.maximum(want / 2**halvings, 1.0)

    def tile_traffic(self, c: ChipArrays, cl: ChipArrays, vectors: np.ndarray,
                     sub_bits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Bits one tile of the layer takes in (input bits) and sends out (partial sums), (n, L)."""
        k_cm, k_nm = self.pe_side(c)
        s_cm, _ = self.tile_pes()
        pes = np.where(self.novel, self.pes_nm, s_cm)
        pe_bits = sub_bits + np.where(self.novel, k_nm, k_cm)
        stages = np.ceil(np.log2(np.maximum(pes, 1.0)))
        rows = np.where(self.novel, self.R / np.sqrt(self.pes_nm), np.minimum(self.R, self.tile_span))
        b_in = rows * vectors * cl.in_bits
        b_out = np.minimum(self.C, self.tile_span) / cl.cols_per_weight * (pe_bits + stages) * vectors
        return b_in, b_out

    @_memo
    def tile_bus(self, c: ChipArrays) -> np.ndarray:
        """H-tree width of each layer's tiles, (n, L)."""
        s_cm, _ = self.tile_pes()
        return np.where(self.novel, self.pes_nm * self.pe_nm[:, None], s_cm * self.pe_cm[:, None])

    def buffer_cycles(self, c: ChipArrays, cl: ChipArrays, vectors: np.ndarray, sub_bits: np.ndarray,
                      out_elems: np.ndarray, traffic: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        """Clock cycles a layer's tile buffers and the global buffer need to stream its inputs and outputs
        (Tile.cpp:117-232 and 530-600, Chip.cpp:907-926); not shortened by copies, (n, L).

        A tile's input (output) buffer holds one input (partial-sum) word per PE row: a register file of
        ``width_bits^2``-bit cores with ``width_bits``-bit ports when it is that large, else one core as wide
        as a whole word set. Partial sums leave at the tile accumulator's width."""
        core_side = c.buffer_width
        core = core_side**2
        k_cm, k_nm = self.pe_side(c)
        s_cm, _ = self.tile_pes()
        pes = np.where(self.novel, self.pes_nm, s_cm)  # NeuroSim's numPE: per side (conventional), all (novel)
        k = np.where(self.novel, k_nm, k_cm)
        n_adc = np.floor(c.xbar_cols / c.cols_per_adc)
        pe_bits = sub_bits + k  # numBitPEOutput (Tile.cpp:126, 181)
        stages = np.ceil(np.log2(np.maximum(pes, 1.0)))
        bus = np.where(self.novel, self.pes_nm * self.pe_nm[:, None], s_cm * self.pe_cm[:, None])

        def stream(bits: np.ndarray, size: np.ndarray, word: np.ndarray) -> np.ndarray:
            small = size < core
            port = np.where(small, word, core_side)
            cores = np.where(small, 1.0, np.ceil(size / core))
            return bits / port / np.minimum(cores, np.ceil(bus / port))

        b_in, b_out = traffic
        t_tile = stream(b_in, pes * cl.in_bits * c.xbar_rows, pes * c.xbar_rows) \
            + stream(b_out, (pe_bits + stages) * pes * n_adc, (pe_bits + stages) * pes)
        # global buffer: 128 x 128-bit register-file cores with 128-bit ports (Chip.cpp:428)
        g_in, g_out = self.R / np.where(self.novel, np.sqrt(self.pes_nm), 1.0) * vectors * cl.in_bits, out_elems * cl.in_bits
        giw = 4 * core_side
        g_cores = np.maximum(np.ceil(c.in_bits * self.input_bits_total / 2 / giw**2), 1.0)
        t_glob = (g_in + g_out) / giw / np.minimum(g_cores, np.ceil(self.bus_width(c) / giw))
        return t_tile + t_glob


def _pow2_ceil(x: np.ndarray) -> np.ndarray:
    return 2.0 ** np.ceil(np.log2(np.maximum(x, 1.0)))


def shared_kernel_area(kernel_area: np.ndarray) -> float:
    """The kernel area (kh x kw > 1) that most layers share, first one on ties; 0 when none."""
    return _shared_kernel_area(tuple(float(k) for k in kernel_area))


@lru_cache(maxsize=1024)
def _shared_kernel_area(kernel_area: tuple[float, ...]) -> float:
    best, count = 0.0, 0
    for k in kernel_area:
        n = kernel_area.count(k)
        if k != 1 and n > count:
            best, count = k, n
    return best


def _best_size(start: np.ndarray, floor: np.ndarray, util_fn) -> np.ndarray:
    """NeuroSim's size search: from ``start`` halving while above ``floor``, keep the size of best utilisation
    (the first on ties); ``start`` itself when it is not above the floor. All candidates at once: (n, K)."""
    steps = int(np.max(np.ceil(np.log2(np.maximum(start / floor, 1.0))))) if start.size else 0
    if steps == 0:
        return start
    sizes = start / 2.0 ** np.arange(steps)[None, :]  # (n, K)
    u = np.where(sizes > floor, util_fn(sizes[:, :, None]), -1.0)  # util_fn: (n, K, 1) -> (n, K)
    best = np.argmax(u, axis=1)[:, None]  # the first of the best
    return np.where(u.max(axis=1, keepdims=True) > 0, start / 2.0**best, start)


PLAN_FIELDS = ("xbar_rows", "xbar_cols", "novel_mapping", "max_dup", "dup_balance", "dup_fixed", "pipeline",
               "layer_per_tile", "xbars_per_pe", "pes_per_tile")  # every chip field ``plan`` reads


def plan_cached(work_arrays: dict[str, np.ndarray], store: dict, c: ChipArrays,
                cols_per_weight: np.ndarray) -> Floorplan:
    """``plan`` for one chip, memoised in ``store`` (kept with the workload) by the chip fields the floorplan
    depends on: chips that differ only in ADC, device or node share it. Many chips at once are planned
    directly. A fresh copy is returned, so per-chip figures derived from it are never shared."""
    wa = work_arrays
    args = (wa["rows"], wa["cols"], wa["groups"], wa["kernel_area"], wa["in_hw"], wa["vectors"], wa["in_elems"])
    if c.n != 1:
        return plan(*args, c, cols_per_weight)
    key = tuple(float(getattr(c, f)[0, 0]) for f in PLAN_FIELDS) + tuple(np.ravel(cols_per_weight).tolist())
    if key not in store:
        if len(store) > 256:
            store.clear()
        store[key] = plan(*args, c, cols_per_weight)
    return replace(store[key])


def plan(rows: np.ndarray, cols: np.ndarray, groups: np.ndarray, kernel_area: np.ndarray, in_hw: np.ndarray,
         vectors: np.ndarray, in_elems: np.ndarray, c: ChipArrays, cols_per_weight: np.ndarray) -> Floorplan:
    """Floorplan of static layers (1-D arrays of length L) on every chip of ``c``."""
    nr, nc = c.xbar_rows, c.xbar_cols
    rows, groups, kk = rows[None, :], groups[None, :], kernel_area[None, :]
    phys = cols[None, :] * cols_per_weight
    pack = np.clip(np.minimum(np.floor(nr / rows), np.floor(nc / phys)), 1.0, None)
    pack = np.minimum(pack, groups)
    blocks = np.ceil(groups / pack)  # block-diagonal blocks of ``pack`` groups each, stacked along the rows
    R = rows * pack * blocks
    C = phys * pack
    pes_nm = shared_kernel_area(kernel_area)
    novel = c.novel_mapping & (kk == pes_nm) & (R >= nr) & (pes_nm > 0)
    cin = R / np.maximum(kk, 1.0)
    cube = _pow2_ceil(C)
    big = np.full_like(R, 0.0)
    max_nm = np.where(novel, cube, big).max(axis=1, keepdims=True)
    max_cm = np.where(~novel, cube, big).max(axis=1, keepdims=True)
    w = R * C

    w_nm = np.where(novel, w, 0.0).sum(axis=1)[:, None]
    w_cm = np.where(~novel, w, 0.0).sum(axis=1)[:, None]
    nm3, cm3 = novel[:, None, :], ~novel[:, None, :]

    def util_nm(p: np.ndarray) -> np.ndarray:  # p: (n, K, 1)
        n_t = np.where(nm3, np.ceil(cin[:, None, :] / p) * np.ceil(C[:, None, :] / p), 0.0).sum(axis=2)
        return w_nm / np.maximum(n_t * p[..., 0] ** 2 * max(pes_nm, 1.0), 1.0)

    def util_cm(t: np.ndarray) -> np.ndarray:
        n_t = np.where(cm3, np.ceil(R[:, None, :] / t) * np.ceil(C[:, None, :] / t), 0.0).sum(axis=2)
        return w_cm / np.maximum(n_t * t[..., 0] ** 2, 1.0)

    p_nm = _best_size(np.maximum(max_nm, 2 * nr), 2 * nr, util_nm)
    t_cm = _best_size(np.maximum(max_cm, 4 * nr), 4 * nr, util_cm)
    p_cm = t_cm / 2
    # a chip that fixes its PE and tile contents (e.g. ISAAC: 8 crossbars per IMA, 12 IMAs per tile)
    fixed = (c.xbars_per_pe > 0) | (c.pes_per_tile > 0)
    pe_side = np.ceil(np.sqrt(np.maximum(c.xbars_per_pe, 1.0)))
    p_fix = pe_side * np.minimum(nr, nc)
    t_fix = p_fix * np.ceil(np.sqrt(np.maximum(c.pes_per_tile, 1.0)))
    p_cm, t_cm = np.where(fixed, p_fix, p_cm), np.where(fixed, t_fix, t_cm)
    # pipeline copies (speed-up), NeuroSim's rule on the input feature-map side
    conv = (kk > 1) & (vectors[None, :] > 1)  # convolutions over a map (a dense layer has one position)
    h_max = in_hw[0] if in_hw.size else 1.0
    h_min = np.min(np.where(conv[0], in_hw, np.inf)) if conv.any() else h_max
    h_min = h_max if not np.isfinite(h_min) else h_min
    degree = np.minimum(np.floor(np.sqrt(c.max_dup)), max(np.floor(h_max / max(h_min, 1.0)), 1.0))
    bound = np.ceil(h_max / degree)
    speed = np.maximum(np.ceil((in_hw[None, :] / bound) ** 2), 1.0)
    speed = np.where(c.dup_balance, np.minimum(speed, c.max_dup), c.dup_fixed)
    speed = np.where(c.pipeline | ~c.dup_balance, speed, 1.0)
    # copies that fit in spare PEs / subarrays of the layer's own tile are free (PEDesign / SubArrayDup)
    rr = np.where(novel, cin, R)
    size = np.where(novel, p_nm, t_cm)
    pe = np.where(novel, p_nm, p_cm)
    small = ~novel & ((R <= t_cm) | (C <= t_cm))
    pe_dup = np.where(small, np.maximum(np.floor(np.ceil(t_cm / pe) / np.ceil(R / pe)), 1.0)
                      * np.maximum(np.floor(np.ceil(t_cm / pe) / np.ceil(C / pe)), 1.0), 1.0)
    sa_small = (rr <= pe) | (C <= pe)
    sa_dup = np.where(sa_small, np.maximum(np.floor(np.ceil(pe / nr) / np.ceil(rr / nr)), 1.0)
                      * np.maximum(np.floor(np.ceil(pe / nc) / np.ceil(C / nc)), 1.0), 1.0)
    free = pe_dup * sa_dup
    tiles = np.ceil(rr / size) * np.ceil(speed / free) * np.ceil(C / size)
    # tiles shared between layers: each layer takes its share of weights (the chip rounds up once)
    shared = R * C * np.maximum(speed, 1.0) / (size**2 * np.where(novel, max(pes_nm, 1.0), 1.0))
    tiles = np.where(c.layer_per_tile, tiles, shared)
    row_blocks = np.ceil(rows * pack / nr)
    mapped = blocks * row_blocks * np.ceil(C / nc)
    copies = np.maximum(speed, 1.0)
    return Floorplan(novel=novel, tiles=tiles, copies=copies, mapped_subarrays=mapped, row_blocks=row_blocks,
                     tile_size=t_cm[:, 0], pe_cm=p_cm[:, 0], pe_nm=p_nm[:, 0], pes_nm=max(pes_nm, 1.0),
                     cells_used=rows * phys * groups * copies, R=R, C=C, blocks=blocks, tile_span=size, input_bits_total=float(in_elems.sum()))
