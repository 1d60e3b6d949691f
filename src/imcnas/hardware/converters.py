"""Built-in component estimators on the plug-in registry (:mod:`imcnas.plugins`): column converters and array
compute schemes. numpy only; every method takes the chips' column arrays (:class:`~imcnas.hardware.params.
ChipArrays`, shape (n, 1) each) and returns arrays that broadcast over chips, so a plug-in prices many chips in
one call like the built-ins.

A **converter** (``adc.law`` in the hardware YAML) has

- ``energy_pj(c, rate_hz)``: energy of one conversion;
- ``area_um2(c, rate_hz)``: area of one converter;
- ``conversion_ns(c, t_clk_ns)`` (optional): time of one conversion; without it a SAR takes ``bits + 1``
  clock cycles and a flash one (``adc.type``), or ``1 / sample_rate`` when the YAML gives a rate;
- ``in_array = True`` for a readout that is a circuit of the array itself (NeuroSim's multilevel sense amp,
  priced with the subarray in periphery.py); stand-alone converters leave it False.

A **compute scheme** (``device.compute``) has ``cell_energy_pj(c, sa, conduct)``: the energy of one cell on an
active row in one read (``conduct``: the V^2 G t of a resistive read, 0 for a sense-amp chip).

A measured ``adc.energy_pj`` / ``adc.area_um2`` in the YAML replaces any converter's own value.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from imcnas import plugins
from imcnas.hardware import adc as A
from imcnas.hardware import components as K

SURVEY_SOURCE = ("B. Murmann, ADC Performance Survey 1997-2023, as fitted by Accelergy's ADC plug-in "
                 "(adc_data/model.yaml)")
SABERI_SOURCE = ("ISAAC's ADC (Kull ISSCC'13, 8 b 1.2 GS/s, 32 nm) scaled in resolution by Saberi et al. 2011, "
                 "as tabulated in Accelergy's ISAAC library")
_ADC_PARAMS = {"adc.bits": "resolution", "technology.node_nm": "node", "adc.sample_rate_ghz": "sample rate"}


class LawConverter:
    """A stand-alone ADC priced by one of adc.py's published laws."""

    in_array = False

    def __init__(self, law: str) -> None:
        self.law = law

    def energy_pj(self, c: Any, rate_hz: np.ndarray) -> np.ndarray:
        """Energy per conversion from the law."""
        return A.adc_energy_pj(self.law, c.adc_bits, c.node, rate_hz)

    def area_um2(self, c: Any, rate_hz: np.ndarray) -> np.ndarray:
        """Area of one converter from the law."""
        return A.adc_area_um2(self.law, c.adc_bits, c.node, rate_hz)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LawConverter) and other.law == self.law

    def __hash__(self) -> int:
        return hash(("law", self.law))


class SenseAmp:
    """NeuroSim V1.4's current-mode multilevel sense amplifier: a circuit of the array (periphery.py)."""

    in_array = True

    def energy_pj(self, c: Any, rate_hz: np.ndarray) -> np.ndarray:
        """Priced with the subarray (periphery.subarray); zero here."""
        return np.zeros_like(c.adc_bits)

    def area_um2(self, c: Any, rate_hz: np.ndarray) -> np.ndarray:
        """Priced with the subarray (periphery.subarray); zero here."""
        return np.zeros_like(c.adc_bits)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SenseAmp)

    def __hash__(self) -> int:
        return hash("sense_amp")


class CurrentSum:
    """Current summing on the bit line: each cell on an active row conducts V^2 G over the read pulse."""

    def cell_energy_pj(self, c: Any, sa: Any, conduct: np.ndarray) -> np.ndarray:
        """Input activity times the conduction energy."""
        act = np.where(c.is_dac | c.is_pwm, 1.0, c.input_ones)
        return act * conduct


class ChargeShare:
    """Charge-domain compute: every cell switches its capacitor (and its share of the column) each step."""

    def cell_energy_pj(self, c: Any, sa: Any, conduct: np.ndarray) -> np.ndarray:
        """(C_cell + 2 C_column-per-cell) V^2 per cell and step."""
        return (c.cell_cap_ff * 1e-3 + 2 * sa.c_cell_ff * 1e-3) * c.vdd**2


def tree_adder_bits(rows: np.ndarray) -> np.ndarray:
    """Full-adder bits of a binary adder tree summing ``rows`` one-bit products: level k has rows / 2^k adders
    of k bits, sum_k k rows / 2^k = rows (2 - (L + 2) / 2^L) over L = ceil(log2 rows) levels."""
    levels = np.ceil(np.log2(np.maximum(rows, 2.0)))
    return rows * (2.0 - (levels + 2.0) / 2.0**levels)


class AdderTree:
    """Digital SRAM CIM readout: each column's 1-bit products (input bit AND weight bit) summed exactly by an
    adder tree over the rows read at once, no ADC (the all-digital macros of Chih et al., ISSCC 2021). One
    "conversion" is one tree evaluation; it is pipelined, one per clock. ``exact``: the accuracy simulation
    reads it losslessly (no ADC quantisation)."""

    in_array = False
    exact = True

    def energy_pj(self, c: Any, rate_hz: np.ndarray) -> np.ndarray:
        """One tree evaluation: its full-adder bits at the adder's switched load (components.adder_energy_pj)."""
        return K.adder_energy_pj(tree_adder_bits(c.active_rows), c.node, c.vdd)

    def area_um2(self, c: Any, rate_hz: np.ndarray) -> np.ndarray:
        """One tree: its full-adder bits at the adder bit's area (components.AREA_GATES)."""
        return tree_adder_bits(c.active_rows) * K.AREA_GATES["adder_bit"] * K.gate_area(c.node)

    def conversion_ns(self, c: Any, t_clk: np.ndarray) -> np.ndarray:
        """Pipelined: one evaluation per clock."""
        return t_clk

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AdderTree)

    def __hash__(self) -> int:
        return hash("adder_tree")


class DigitalAnd:
    """Digital CIM cell: a 1-bit multiplier (NOR of the inverted input and weight bits) per cell; its output
    switches when the input bit is 1 (activity ``input_ones``); two gate loads (the gate and the tree input)."""

    def cell_energy_pj(self, c: Any, sa: Any, conduct: np.ndarray) -> np.ndarray:
        """Two gate loads times the input activity; no column conduction."""
        return 2.0 * K.gate_load_pj(c.node, c.vdd) * np.where(c.is_dac | c.is_pwm, 1.0, c.input_ones)


def _register() -> None:
    plugins.register("converter", "survey", LawConverter("survey"), params=_ADC_PARAMS,
                     description="stand-alone ADC, energy and area from the Murmann-survey fit",
                     supports={"bits": (1, 16)}, sources=(SURVEY_SOURCE,))
    plugins.register("converter", "saberi", LawConverter("saberi"), params=_ADC_PARAMS,
                     description="stand-alone SAR ADC scaled from ISAAC's 8-bit converter",
                     supports={"bits": (1, 16)}, sources=(SABERI_SOURCE,))
    plugins.register("converter", "sense_amp", SenseAmp(),
                     params={"adc.bits": "levels", "crossbar.parallel_rows": "reference resistances",
                             "device.r_on_ohm": "cell current"},
                     description="NeuroSim V1.4's current-mode multilevel sense amplifier (in the array)",
                     supports={"bits": (1, 8)}, sources=("NeuroSim V1.4 MultilevelSenseAmp.cpp",))
    plugins.register("compute", "current", CurrentSum(), params={"device.read_voltage_v": "read voltage",
                                                                 "device.read_pulse_ns": "read pulse"},
                     sources=("NeuroSim V1.4 SubArray.cpp",))
    plugins.register("converter", "adder_tree", AdderTree(),
                     params={"crossbar.parallel_rows": "tree inputs", "technology.node_nm": "adder bit energy, area"},
                     description="digital SRAM CIM: an exact adder tree per column, no ADC",
                     supports={"devices": ["sram"], "exact": True},
                     sources=("Chih et al., ISSCC 2021 (all-digital SRAM CIM macro: adder tree per column)",
                              "adder bit energy and area: NeuroSim V1.4 Adder.cpp (components.py)"))
    plugins.register("compute", "digital", DigitalAnd(), supports={"devices": ["sram"]},
                     sources=("Chih et al., ISSCC 2021 (NOR-gate 1-bit multipliers in the bit cell)",))
    plugins.register("compute", "charge", ChargeShare(), params={"device.cell_cap_ff": "cell capacitor"},
                     sources=("Jia et al., JSSC 2020 (charge-domain multiplying bit cells)",))


_register()


def converter_index(name: str) -> int:
    """Position of converter ``name`` among the registered ones (the numeric code in ChipArrays)."""
    return plugins.names("converter").index(name)


def by_converter(c: Any, method: str, *args: Any) -> np.ndarray:
    """``method`` of each chip's converter, per chip (zeros for in-array readouts)."""
    out = np.zeros(np.broadcast_shapes(c.adc_bits.shape, *(np.shape(a) for a in args)))
    for i, name in enumerate(plugins.names("converter")):
        mask = c.adc_law == i
        if not mask.any():
            continue
        conv = plugins.get("converter", name)
        if getattr(conv, "in_array", False):
            continue
        out = np.where(mask, getattr(conv, method)(c, *args), out)
    return out


def in_array(c: Any) -> np.ndarray:
    """Chips whose readout is a circuit of the array (sense amp). (n, 1) bool"""
    flags = [bool(getattr(plugins.get("converter", n), "in_array", False)) for n in plugins.names("converter")]
    return np.asarray(flags, dtype=bool)[c.adc_law.astype(int)]


def conversion_ns(c: Any, t_clk: np.ndarray) -> np.ndarray:
    """Each chip's converter time where its converter defines one, else NaN (the default rule applies)."""
    out = np.full(np.broadcast_shapes(c.adc_bits.shape, np.shape(t_clk)), np.nan)
    for i, name in enumerate(plugins.names("converter")):
        mask = c.adc_law == i
        conv = plugins.get("converter", name)
        if mask.any() and hasattr(conv, "conversion_ns"):
            out = np.where(mask, conv.conversion_ns(c, t_clk), out)
    return out


def cell_energy_pj(c: Any, sa: Any, conduct: np.ndarray) -> np.ndarray:
    """Each chip's compute scheme's energy of one cell on an active row in one read."""
    out = np.zeros(np.broadcast_shapes(c.compute.shape, np.shape(conduct)))
    for i, name in enumerate(plugins.names("compute")):
        mask = c.compute == i
        if mask.any():
            out = np.where(mask, plugins.get("compute", name).cell_energy_pj(c, sa, conduct), out)
    return out
