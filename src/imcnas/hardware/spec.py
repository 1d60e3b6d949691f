"""The hardware description: one validated record that both the cost model and (later) the accuracy
simulation read. Unknown keys are rejected with their path; ranges are physical limits, not preferences.

Loading (presets, hardware files, ``--set`` overrides) lives in ``loading`` and display names in ``naming``;
both are re-exported here, so ``from imcnas.hardware.spec import load_chip`` keeps working."""
from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import Field, PrivateAttr, ValidationError, field_validator, model_validator

from imcnas.errors import ConfigError
from imcnas.hardware.devices import device_preset
from imcnas.hardware.layout import cells_per_weight, check_layout
from imcnas.hardware.spec_cells import Device, Noise, _declared, _registered, _Strict

__all__ = ["ADC", "ESSENTIAL_FIELDS", "NAME_LIMIT", "NODE_RANGE_NM", "PRESET_DIR", "Activity", "Buffers",
           "Calibration", "Chip", "Crossbar", "Device", "Digital", "ElementOps", "Hierarchy", "Inputs",
           "Interconnect", "Mapping",
           "Noise", "Technology", "Weights", "apply_overrides", "chip_data", "chip_diff", "chip_from_dict",
           "display_name", "list_presets", "load_chip", "parse_override"]

NODE_RANGE_NM = (1.0, 130.0)  # NeuroSim V1.4 Technology.cpp tabulates 130 ... 1 nm


class Technology(_Strict):
    """CMOS node, supply and clock."""

    node_nm: float = Field(22.0, ge=NODE_RANGE_NM[0], le=NODE_RANGE_NM[1], description="technology node (nm)")
    vdd_v: float | None = Field(None, gt=0.3, le=3.3, description="supply voltage; default from the node's "
                                "technology table (NeuroSim V1.4 Technology.cpp, LSTP)")
    clock_ghz: float | None = Field(None, gt=0.001, le=5.0, description="upper limit of the clock; the cycle "
                                    "itself is derived from the read circuits (sensing, drivers, mux)")

    @property
    def vdd(self) -> float:
        """Supply voltage, defaulting to the node's tabulated supply."""
        if self.vdd_v is not None:
            return self.vdd_v
        from imcnas.hardware.technology import vdd

        return float(vdd(self.node_nm))


class Crossbar(_Strict):
    """Crossbar array geometry."""

    rows: int = Field(128, ge=1, le=4096)
    cols: int = Field(128, ge=1, le=4096)
    parallel_rows: int | None = Field(None, ge=1, description="rows activated at once; default all")
    ir_drop: float = Field(0.0, ge=0, lt=1, description="accuracy only: relative attenuation of a column "
                           "partial sum at full-scale current (first-order IR-drop model; 0 disables)")

    @model_validator(mode="after")
    def _check(self) -> "Crossbar":
        if self.parallel_rows is not None and self.parallel_rows > self.rows:
            raise ValueError(f"parallel_rows={self.parallel_rows} exceeds rows={self.rows}")
        return self

    @property
    def active_rows(self) -> int:
        """Rows read in one analog step."""
        return self.parallel_rows or self.rows


class Weights(_Strict):
    """Weight precision and how one weight spreads over cells."""

    bits: int = Field(8, ge=1, le=16)
    cells_per_weight: int | None = Field(None, ge=1, le=16, description="default ceil(bits / bits_per_cell)")
    signed: Literal["differential", "offset", "unsigned"] = "offset"


class Inputs(_Strict):
    """Input precision and delivery: bit-serial 1-bit pulses or a multi-bit DAC."""

    bits: int = Field(8, ge=1, le=16)
    scheme: Literal["bit_serial", "dac", "pulse_width"] = Field(
        "bit_serial", description="bit_serial: one 1-bit pulse per input bit; dac: dac_bits per analog step; "
        "pulse_width: one pulse of up to 2^bits - 1 unit lengths, made by a counter/comparator per row (no DAC)")
    dac_bits: int = Field(1, ge=1, le=8)


class ADC(_Strict):
    """Column readout. ``law`` picks the energy/area scaling law (see components.py)."""

    type: Literal["sar", "flash"] = "sar"
    bits: int = Field(8, ge=1, le=16)
    cols_per_adc: int = Field(8, ge=1, le=4096)
    law: str = Field("survey", description="a registered converter (imcnas.plugins kind 'converter'): survey, "
                     "saberi, sense_amp, or a plug-in's")
    sample_rate_ghz: float | None = Field(None, gt=0, le=20, description="default from type and clock")
    energy_pj: float | None = Field(None, gt=0, description="measured energy per conversion of a specific chip; "
                                    "replaces the law's value")
    area_um2: float | None = Field(None, gt=0, description="measured area of one ADC; replaces the law's value")
    levels: Literal["uniform", "neurosim"] = Field(
        "uniform", description="accuracy: how a read's partial sum maps to codes in the bit-level datapath: "
        "uniform rounding, or NeuroSim V1.4's multilevel sense-amp references (accuracy/bitlevel.py)")
    range: Literal["calibrated", "full_scale"] = Field(
        "calibrated", description="accuracy: the ADC's input range in the bit-level datapath: per layer from "
        "data, or the read's full scale (parallel rows x top cell level x top input digit)")

    params: dict[str, float] = Field(default_factory=dict, description="parameters of a plug-in converter, by the "
                                     "names it declares (imcnas plugins list)")

    @field_validator("law")
    @classmethod
    def _law_registered(cls, v: str) -> str:
        return _registered("converter", v)

    @model_validator(mode="after")
    def _params_declared(self) -> "ADC":
        _declared([("converter", self.law)], "adc", self.params)
        return self


class Hierarchy(_Strict):
    """Chip organisation; ``tiles="auto"`` allocates as many tiles as the network needs."""

    crossbars_per_pe: int | None = Field(None, ge=1, le=1024, description="subarrays per PE; default: PE sized "
                                         "in weights for the best utilisation (NeuroSim's floorplan)")
    pes_per_tile: int | None = Field(None, ge=1, le=1024, description="PEs per tile; default: by utilisation")
    tiles: Annotated[int, Field(ge=1)] | Literal["auto"] = "auto"
    layer_per_tile: bool = Field(True, description="a tile never holds two layers (NeuroSim's rule)")


class Buffers(_Strict):
    """On-chip SRAM buffers that feed the tiles."""

    tile_kb: float | None = Field(None, gt=0, description="SRAM/eDRAM buffer per tile; default: register-file "
                                  "buffers sized by what the tile's PEs need (NeuroSim)")
    width_bits: int = Field(32, ge=8, le=65536, description="bits per access of one tile buffer core")


class Interconnect(_Strict):
    """Global network between tiles."""

    type: Literal["bus", "htree", "mesh"] = "htree"
    width_bits: int = Field(256, ge=8, le=65536)


class ElementOps(_Strict):
    """Operations per element of one digital function, each priced as the node's adder / multiplier."""

    adds: float = Field(ge=0, le=1000, description="adder-equivalent ops (add, compare, shift, abs) per element")
    mults: float = Field(ge=0, le=1000, description="multiplications per element")


class Digital(_Strict):
    """Digital units for operations the crossbars do not run (activations, pooling, norms, attention).

    ReLU-type activations, batch norm, pooling and element-wise work cost one adder op per traced flop; the
    functions below cost their own ops per element, counted from the integer-only kernels of I-BERT (Kim et
    al., ICML 2021), each op one lane-cycle (docs/costmodel.md, "Transformer and GNN operations")."""

    lanes: int = Field(64, ge=1, le=1_000_000, description="8-bit MAC/ALU lanes, one op per lane per cycle")
    bits: int = Field(8, ge=1, le=32, description="datapath width of the digital units")
    # Counts from I-BERT's integer kernels (Kim et al., ICML 2021, Algorithms 1-4). i-exp: clamp (1 add),
    # q = x / x0 (1 mult by a constant), r = x - x0 q (1 mult, 1 add), (r + b)^2 + c (2 adds, 1 mult), shift by
    # q (1) -> 5 adds, 3 mults. i-softmax: row max (1 compare), x - max (1 add), i-exp, row sum (1 add), times
    # the per-row factor 2^M / sum (1 mult), output shift (1) -> 9 adds, 4 mults
    softmax_ops: ElementOps = ElementOps(adds=9, mults=4)
    # integer layer norm: mean (1 add), x - mean (1 add), square (1 mult) and sum (1 add) for the variance, the
    # per-row iterative integer square root and reciprocal (amortised over the row: not counted), normalise
    # (1 mult), affine gamma x + beta (1 mult, 1 add) -> 4 adds, 3 mults; group / instance / RMS norm alike
    norm_ops: ElementOps = ElementOps(adds=4, mults=3)
    # i-GELU: x (1 + i-erf(x / sqrt 2)), i-erf = sign(x) [a (min(|x|, -b) + b)^2 + 1]: sign, abs, clip, + b,
    # + c, negate, + 1 (7 adds), square and times x (2 mults)
    gelu_ops: ElementOps = ElementOps(adds=7, mults=2)
    # sigmoid type (sigmoid, SiLU, tanh, ELU, softplus, ...): i-exp (5 adds, 3 mults), 1 + e (1 add), a
    # reciprocal by two Newton steps r (2 - d r) (2 adds, 4 mults), SiLU's x sigma(x) (1 mult) -> 8 adds,
    # 8 mults: a stated composition of I-BERT's i-exp (I-BERT has no sigmoid kernel)
    sigmoid_ops: ElementOps = ElementOps(adds=8, mults=8)
    embedding_ops: ElementOps = ElementOps(adds=1, mults=0)

    @model_validator(mode="before")
    @classmethod
    def _complete_ops(cls, data: Any) -> Any:
        """A table given in part (``digital.softmax_ops.adds=2``) keeps that function's other defaults."""
        if isinstance(data, dict):
            data = dict(data)
            for name, info in cls.model_fields.items():
                if name.endswith("_ops") and isinstance(data.get(name), dict):
                    data[name] = {**info.default.model_dump(), **data[name]}
        return data


class Mapping(_Strict):
    """Weight duplication (for throughput) and execution style."""

    duplication: Annotated[int, Field(ge=1)] | Literal["balance"] = "balance"
    max_duplication: int = Field(64, ge=1, le=4096, description="most copies of one layer (NeuroSim's "
                                 "speedUpDegree 8 per side = 64)")
    pipeline: bool = True
    novel_mapping: bool = Field(True, description="NeuroSim's novel mapping: one kernel position per PE for the "
                                "layers that share the most common kernel")


class Activity(_Strict):
    """Switching statistics of the data (energy of analog arrays is data dependent)."""

    input_ones: float = Field(0.3, ge=0.0, le=1.0, description="fraction of input bits that are 1 "
                              "(NeuroSim VGG-8 traces: 0.22-0.39)")
    weight_on: float = Field(0.5, ge=0.0, le=1.0, description="fraction of cells in the on state")


class Calibration(_Strict):
    """Named chip-level calibration factors (each documented in the preset that sets it)."""

    energy_overhead: float = Field(1.0, ge=1.0, le=3.0, description="post-layout wiring energy factor "
                                   "(NeuroSim V1.4 zeta = 1.22); multiplies dynamic energy")
    neurosim_compat: bool = Field(False, description="reproduce NeuroSim V1.4 where it differs from the "
                                  "default on purpose: the column-mux decoder's driver sized by NeuroSim's "
                                  "per-node table (minimum size at 32 nm and above, a multi-ns read cycle) "
                                  "instead of sized to its load, and the whole layout corner between the "
                                  "periphery strips left empty instead of folded")


class Hybrid(_Strict):
    """Layers of one network mapped to different macro types: ``macros`` names the other macros (a preset or a
    hardware YAML each); ``first`` / ``last`` put the first / last crossbar layer, and ``layers`` any layer
    whose name matches a glob, on one of them ("self" = this chip). Each is a chip field, so ``hw.hybrid.first``
    can be searched like any other."""

    macros: dict[str, str] = Field(default_factory=dict, description="macro name -> preset name or YAML path")
    first: str = "self"
    last: str = "self"
    layers: dict[str, str] = Field(default_factory=dict, description="layer-name glob -> macro name")

    @model_validator(mode="after")
    def _check_names(self) -> "Hybrid":
        known = ["self", *self.macros]
        for where, name in [("first", self.first), ("last", self.last), *self.layers.items()]:
            if name not in known:
                raise ValueError(f"hybrid.{where}: unknown macro '{name}'; known: {', '.join(known)}")
        return self


class Chip(_Strict):
    """A complete IMC chip description."""

    name: str = "custom"
    source: str = ""
    technology: Technology = Technology()
    device: Device = Device()
    crossbar: Crossbar = Crossbar()
    weights: Weights = Weights()
    inputs: Inputs = Inputs()
    adc: ADC = ADC()
    hierarchy: Hierarchy = Hierarchy()
    buffers: Buffers = Buffers()
    interconnect: Interconnect = Interconnect()
    digital: Digital = Digital()
    mapping: Mapping = Mapping()
    activity: Activity = Activity()
    calibration: Calibration = Calibration()
    dynamic_ops_on: Literal["digital", "crossbar"] = Field(
        "digital", description="where attention's QK^T and AV (matmuls of two activations) run: the digital "
        "units, or crossbars whose stationary operand is written per inference (endurance-checked)")
    aggregation_on: Literal["digital", "crossbar"] = Field(
        "digital", description="where graph aggregation runs: digital adds over gathered neighbour features, "
        "or node features written into crossbars and summed by activating neighbour rows (endurance-checked)")
    lifetime_inferences: float = Field(1e9, gt=0, le=1e18, description="inferences the chip must survive: "
                                       "rewriting crossbars per inference is refused on a device whose "
                                       "endurance is below the writes per cell this needs (1e9 ~ 10 "
                                       "inferences/s for 3 years)")
    hybrid: Hybrid | None = Field(None, description="map some layers to other macros (hardware/hybrid.py)")
    # the chip this one was derived from by overrides (set by ``load_chip``; names the variant, see
    # ``display_name``); not a field: not dumped, not compared
    _base: "Chip | None" = PrivateAttr(default=None)

    def __eq__(self, other: object) -> bool:  # fields only, not where the chip came from
        if not isinstance(other, Chip):
            return NotImplemented
        return self.__dict__ == other.__dict__

    @property
    def display_name(self) -> str:
        """The name plus what differs from the preset (or file) it came from, e.g.
        ``pcm-14nm[adc.bits=6,crossbar.rows=256]`` (see :func:`display_name`)."""
        return display_name(self)

    @model_validator(mode="after")
    def _check_chip(self) -> "Chip":
        try:
            check_layout(self.weights.bits, self.cells_per_weight, self.device.bits_per_cell, self.device.type)
        except ConfigError as err:
            raise ValueError(str(err)) from None
        low = device_preset(self.device.type).get("min_node_nm")
        if low is not None and self.technology.node_nm < low[0]:
            raise ValueError(f"technology.node_nm={self.technology.node_nm:g} is below the {low[0]:g} nm that "
                             f"{self.device.type} device data support ({low[1]})")
        return self

    @property
    def cells_per_weight(self) -> int:
        """Cells (columns) one weight magnitude occupies (``layout.cells_per_weight``)."""
        return cells_per_weight(self.weights.bits, self.device.bits_per_cell, self.weights.cells_per_weight)

    @property
    def cols_per_weight(self) -> int:
        """Physical columns per logical weight column, the signed scheme included."""
        return self.cells_per_weight * (2 if self.weights.signed == "differential" else 1)

    @property
    def input_cycles(self) -> int:
        """Analog steps to deliver one input vector."""
        i = self.inputs
        if i.scheme == "pulse_width":
            return 1
        return i.bits if i.scheme == "bit_serial" else math.ceil(i.bits / i.dac_bits)


def _format_validation(err: ValidationError, origin: str) -> str:
    first = err.errors()[0]
    path = ".".join(str(p) for p in first["loc"]) or "(root)"
    msg = first["msg"]
    if first["type"] == "extra_forbidden":
        msg = "unknown field"
    if not first["loc"] and msg.startswith("Value error, "):  # a check across fields names them itself
        return f"{origin}: {msg[len('Value error, '):]}"
    return f"{origin}: field '{path}': {msg}"


def chip_from_dict(data: dict[str, Any], origin: str = "hardware") -> Chip:
    """Validate a nested dict into a Chip; errors become one-line ConfigErrors naming the field."""
    try:
        return Chip.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_format_validation(err, origin)) from None


# Re-exports (at the end: both modules import Chip from here). ``Chip.display_name`` calls ``display_name``.
from imcnas.hardware.loading import (ESSENTIAL_FIELDS, PRESET_DIR, apply_overrides, chip_data,
                                     list_presets, load_chip, parse_override)
from imcnas.hardware.naming import NAME_LIMIT, chip_diff, display_name
