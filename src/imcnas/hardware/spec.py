"""The hardware description: one validated record that both the cost model and (later) the accuracy
simulation read. Unknown keys are rejected with their path; ranges are physical limits, not preferences."""
from __future__ import annotations

import copy
import functools
import hashlib
import math
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from imcnas.yamlio import load_yaml
from imcnas.errors import ConfigError, UnknownNameError
from imcnas.hardware.devices import DEVICE_PRESETS, device_defaults
from imcnas.hardware.layout import cells_per_weight, check_layout

PRESET_DIR = Path(__file__).parent / "presets"
NODE_RANGE_NM = (1.0, 130.0)  # NeuroSim V1.4 Technology.cpp tabulates 130 ... 1 nm
NAME_LIMIT = 48  # display names longer than this list their changes as a count and a hash
ESSENTIAL_FIELDS = (("device", "type"), ("technology", "node_nm"))  # a hardware file must name these (or base:)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


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


class Noise(_Strict):
    """Non-idealities of the cells, read by the accuracy simulation (the cost model ignores them).

    ``model``: ``pcm`` is the Nandakumar et al. (ICECS 2019) statistical PCM model as in aihwkit (programming
    noise, 1/f read noise and drift all depending on the conductance); ``gaussian`` uses the constant relative
    sigmas below; ``none`` is an ideal (digital-like) cell. All sigmas are relative to the maximum conductance.
    """

    model: Literal["pcm", "gaussian", "none"] = "none"
    g_max_us: float = Field(25.0, gt=0, le=1000, description="maximum conductance (uS)")
    prog_sigma: float = Field(0.0, ge=0, le=1, description="programming noise (gaussian model)")
    read_sigma: float = Field(0.0, ge=0, le=1, description="read noise per inference (gaussian model)")
    drift_nu: float = Field(0.0, ge=0, le=1, description="mean drift exponent, g(t) = g0 ((t+t0)/t0)^-nu")
    drift_nu_std: float = Field(0.0, ge=0, le=1, description="device-to-device spread of the drift exponent")
    t0_s: float = Field(20.0, gt=0, description="time of the first read after programming (drift reference)")
    stuck_on: float = Field(0.0, ge=0, le=1, description="fraction of cells stuck at the maximum conductance")
    stuck_off: float = Field(0.0, ge=0, le=1, description="fraction of cells stuck at zero conductance")
    drift_compensation: bool = Field(True, description="global drift compensation: one output scale per layer")


class Device(_Strict):
    """Memory device of the crossbar cells. Missing fields come from the device type's preset."""

    type: Literal["rram", "pcm", "sram", "fefet", "mram"] = "rram"
    r_on_ohm: float | None = Field(None, gt=0)
    on_off: float | None = Field(None, gt=1.0)
    bits_per_cell: int = Field(1, ge=1, le=8)
    read_voltage_v: float | None = Field(None, gt=0, le=3.3)
    read_pulse_ns: float | None = Field(None, gt=0)
    cell_area_f2: float | None = Field(None, gt=0, description="cell area in F^2; default: the device's "
                                       "cell (SRAM: the node's bit cell from NeuroSim's Param.cpp table)")
    compute: Literal["current", "charge"] = Field("current", description="current summing on the bit line, "
                                                  "or charge sharing of per-cell capacitors (e.g. Jia 2020)")
    cell_cap_ff: float | None = Field(None, gt=0, le=100, description="charge-domain capacitor per cell")
    noise: Noise = Noise()

    @model_validator(mode="before")
    @classmethod
    def _fill_from_preset(cls, data: Any) -> Any:
        if isinstance(data, dict):
            kind = data.get("type", "rram")
            if kind in DEVICE_PRESETS:
                merged = device_defaults(kind)
                noise = {**merged.get("noise", {}), **(data.get("noise") or {})}
                merged.update({k: v for k, v in data.items()})
                merged["noise"] = noise
                merged["type"] = kind
                return merged
        return data

    @model_validator(mode="after")
    def _check(self) -> "Device":
        limit = DEVICE_PRESETS[self.type]["max_bits_per_cell"]
        if self.bits_per_cell > limit:
            raise ValueError(f"bits_per_cell={self.bits_per_cell} exceeds {limit} for {self.type}")
        if self.type != "sram" and (self.r_on_ohm is None or self.on_off is None):
            raise ValueError(f"{self.type} needs r_on_ohm and on_off")
        return self


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
    law: Literal["survey", "saberi", "sense_amp"] = "survey"
    sample_rate_ghz: float | None = Field(None, gt=0, le=20, description="default from type and clock")
    energy_pj: float | None = Field(None, gt=0, description="measured energy per conversion of a specific chip; "
                                    "replaces the law's value")
    area_um2: float | None = Field(None, gt=0, description="measured area of one ADC; replaces the law's value")


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


class Digital(_Strict):
    """Digital units for operations the crossbars do not run (activations, pooling, norms, attention)."""

    lanes: int = Field(64, ge=1, le=1_000_000, description="8-bit MAC/ALU lanes, one op per lane per cycle")
    bits: int = Field(8, ge=1, le=32, description="datapath width of the digital units")


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
    dynamic_ops_on: Literal["digital"] = "digital"
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
        low = DEVICE_PRESETS[self.device.type].get("min_node_nm")
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


def list_presets() -> list[str]:
    """Names of the built-in chip presets."""
    return list(_preset_names())


@functools.lru_cache(maxsize=1)
def _preset_names() -> tuple[str, ...]:
    return tuple(sorted(p.stem for p in PRESET_DIR.glob("*.yaml")))


@functools.lru_cache(maxsize=None)
def _preset_data(name: str) -> dict[str, Any]:
    """A preset's YAML as read (cached; callers copy it)."""
    return _complete_file_data(PRESET_DIR / f"{name}.yaml")


@functools.lru_cache(maxsize=None)
def _preset_chip(name: str) -> Chip:
    """A preset as a Chip (cached, internal: the reference that display names are diffed against)."""
    return chip_from_dict(copy.deepcopy(_preset_data(name)), f"preset {name}")


# ------------------------------------------------------------------------------------------------ names
def _flatten(model: BaseModel, prefix: str, out: dict[str, Any]) -> dict[str, Any]:
    for key, value in model.__dict__.items():
        if isinstance(value, BaseModel):
            _flatten(value, f"{prefix}{key}.", out)
        else:
            out[prefix + key] = value
    return out


def chip_diff(chip: Chip, base: Chip) -> dict[str, Any]:
    """Dotted fields (sorted) where ``chip`` differs from ``base``, name and source aside. When the device type
    differs, the device is compared with that type's own preset (as a ``device.type`` override resets it)."""
    mine, ref = {}, {}
    for key, value in chip.__dict__.items():
        if key in ("name", "source"):
            continue
        other = base.__dict__[key]
        if isinstance(value, BaseModel):
            if value.__dict__ == other.__dict__:
                continue
            if key == "device" and value.type != other.type:
                other = Device(type=value.type)
            _flatten(value, f"{key}.", mine)
            _flatten(other, f"{key}.", ref)
        elif value != other:
            mine[key], ref[key] = value, other
    if chip.device.type != base.device.type:
        ref["device.type"] = base.device.type
    missing = object()
    return {k: mine[k] for k in sorted(mine) if mine[k] != ref.get(k, missing)}


def _fmt_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, float):
        short = f"{value:g}"
        return short if float(short) == value else repr(value)
    return str(value)


def display_name(chip: Chip) -> str:
    """A name that tells chips apart: the chip's name plus the fields that differ from the chip it was derived
    from, sorted: ``pcm-14nm[adc.bits=6,crossbar.rows=256]``. The reference is the preset the chip is named
    after (so chips built in Python with ``model_copy`` are named too), else the preset, file or Chip that
    ``load_chip`` applied overrides to. When the result would be longer than ``NAME_LIMIT`` (48) characters,
    the changes are given as their count and the first 8 hex digits of the SHA-1 of the full list:
    ``pcm-14nm[7 fields #1a2b3c4d]`` (stable across runs and machines). A name that already carries a
    ``[...]`` suffix, or a chip with no known reference, keeps its name."""
    name = chip.name
    if "[" in name:
        return name
    base = _preset_chip(name) if name in _preset_names() else chip._base
    if base is None:
        return name
    diff = chip_diff(chip, base)
    if not diff:
        return name
    body = ",".join(f"{k}={_fmt_value(v)}" for k, v in diff.items())
    full = f"{name}[{body}]"
    if len(full) <= NAME_LIMIT:
        return full
    return f"{name}[{len(diff)} fields #{hashlib.sha1(body.encode()).hexdigest()[:8]}]"


# ------------------------------------------------------------------------------------------------ files
def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: cannot read: {err}") from None
    data = load_yaml(text, str(path))  # strict: a field written twice is an error, not the last one
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of hardware fields at the top level")
    return data


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` merged into ``base`` (in place): sections merge field by field; a device of another type
    replaces the base's device (it starts from its own type's preset, as a ``device.type`` override does)."""
    for key, value in over.items():
        old = base.get(key)
        if isinstance(value, dict) and isinstance(old, dict):
            if key == "device" and "type" in value and value["type"] != old.get("type"):
                base[key] = copy.deepcopy(value)
            else:
                _merge(old, value)
        else:
            base[key] = copy.deepcopy(value)
    return base


def _complete_file_data(path: Path) -> dict[str, Any]:
    """A hardware file's fields, its ``base:`` (a preset name or another hardware file, relative to this one)
    resolved. Without ``base:`` the file must name the essential fields (``ESSENTIAL_FIELDS``): a file that
    gave only a crossbar would otherwise be a default chip nobody described. A file that also has an unknown
    or out-of-range field gets that error first (it is the more specific)."""
    data, missing = _file_data(path)
    if missing:
        chip_from_dict(copy.deepcopy(data), str(path))
        raise ConfigError(missing)
    return data


def _file_data(path: Path, depth: int = 0) -> tuple[dict[str, Any], str | None]:
    """A hardware file's fields with ``base:`` resolved, and the message naming a missing essential field."""
    data = _read_yaml(path)
    if "base" in data:
        ref = data.pop("base")
        if not isinstance(ref, str) or not ref.strip():
            raise ConfigError(f"{path}: 'base' must name a preset or a hardware file, got {ref!r}")
        if depth > 8:
            raise ConfigError(f"{path}: 'base' files nest more than 8 deep (a cycle?)")
        if ref in _preset_names():
            merged, missing = copy.deepcopy(_preset_data(ref)), None
        else:
            other = Path(ref) if Path(ref).is_absolute() else path.parent / ref
            if other.suffix not in (".yaml", ".yml") or not other.is_file():
                raise UnknownNameError(f"base of {path}: hardware preset", ref, list(_preset_names()))
            merged, missing = _file_data(other, depth + 1)
        merged.pop("name", None)
        return _merge(merged, data), missing
    for section, key in ESSENTIAL_FIELDS:
        part = data.get(section)
        if not isinstance(part, dict) or key not in part:
            return data, (f"{path}: missing '{section}.{key}': a hardware file names its device type and "
                          f"technology node, or starts from a preset with 'base: PRESET' "
                          f"(presets: {', '.join(_preset_names())})")
    return data, None


def parse_override(text: str) -> tuple[list[str], Any]:
    """Split ``path.to.field=value`` into its path and a YAML-parsed value."""
    if "=" not in text:
        raise ConfigError(f"override '{text}': expected path.to.field=value")
    key, raw = text.split("=", 1)
    if not key.strip():
        raise ConfigError(f"override '{text}': empty field path")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        raise ConfigError(f"override '{text}': cannot parse the value '{raw}'") from None
    return key.strip().split("."), value


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``--set`` overrides to a nested dict (in place) and return it."""
    # a device type change resets the device section to that type's preset, so it is applied first and the
    # other device overrides of the same call survive it
    ordered = sorted(overrides, key=lambda t: 0 if t.replace(" ", "").startswith("device.type=") else 1)
    for text in ordered:
        path, value = parse_override(text)
        node = data
        for part in path[:-1]:
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise ConfigError(f"override '{text}': '{part}' is not a section")
            node = child
        if path == ["device", "type"] and isinstance(value, str) and node.get("type", "rram") != value:
            node.clear()  # a new device type starts from its own preset, not the old device's numbers
            # (the same type again changes nothing: device.type=pcm on a PCM chip keeps its device)
        node[path[-1]] = value
    return data


def chip_data(spec: str | Path | Chip) -> tuple[dict[str, Any], str, Chip | None]:
    """The fields of a preset name, hardware file or Chip as a fresh nested dict, the origin that errors name,
    and the Chip that display names of its variants are diffed against (None: validate the dict for it).
    A file without ``name`` is named after its stem."""
    if isinstance(spec, Chip):
        return spec.model_dump(exclude_none=True), spec.name, spec if spec._base is None else spec._base
    path = Path(spec)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.exists():
            raise ConfigError(f"{path}: hardware file not found")
        data = _complete_file_data(path)
        data.setdefault("name", path.stem)
        return data, str(path), None
    if str(spec) in _preset_names():
        return copy.deepcopy(_preset_data(str(spec))), f"preset {spec}", _preset_chip(str(spec))
    raise UnknownNameError("hardware preset", str(spec), list(_preset_names()))


def load_chip(spec: str | Path | Chip, overrides: list[str] | None = None) -> Chip:
    """A Chip from a preset name, a YAML path or a Chip, with optional ``path=value`` overrides.

    A hardware file names at least ``device.type`` and ``technology.node_nm``, or starts from a preset (or
    another file) with ``base: NAME`` and overrides its fields. The chip keeps its name (a file without one is
    named after its stem); ``chip.display_name`` adds what the overrides changed."""
    data, origin, base = chip_data(spec)
    if not overrides:
        chip = chip_from_dict(data, origin)
        if isinstance(spec, Chip):
            chip._base = spec._base
        return chip
    if base is None:
        try:
            base = chip_from_dict(copy.deepcopy(data), origin)
        except ConfigError:
            base = None  # an invalid file that the overrides repair: no reference to name the variant by
    chip = chip_from_dict(apply_overrides(data, list(overrides)), origin)
    chip._base = base
    return chip
