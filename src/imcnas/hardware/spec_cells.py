"""The cell part of the hardware description: the memory device and its noise, and the shared pieces of every
record (the strict base model, the checks that a field names a registered plug-in and that ``params`` keys are
declared by it). Split from ``spec`` (which re-exports everything here)."""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from imcnas import plugins
from imcnas.hardware.devices import device_defaults, device_preset

__all__ = ["Device", "Noise"]


def _declared(owners: list[tuple[str, str]], part: str, params: dict[str, float]) -> None:
    """Every key of ``<part>.params`` must be declared by one of the plug-ins ``owners`` ((kind, name) pairs)
    as ``<part>.params.<key>``."""
    if not params:
        return
    declared = sorted({k.split(".", 2)[2] for kind, name in owners for k in plugins.entry(kind, name).params
                       if k.startswith(f"{part}.params.")})
    who = " or ".join(f"{kind} '{name}'" for kind, name in owners)
    for key in params:
        if key not in declared:
            raise ValueError(f"params.{key} is not a parameter of {who} (its parameters: {', '.join(declared) or 'none'})")


def _registered(kind: str, value: str) -> str:
    """``value`` if it names a registered plug-in of ``kind``; else a ValueError listing the registered names."""
    if not plugins.known(kind, value):
        raise ValueError(f"unknown {kind} '{value}'; registered: {', '.join(plugins.names(kind))}")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


class Noise(_Strict):
    """Non-idealities of the cells, read by the accuracy simulation (the cost model ignores them).

    ``model``: ``pcm`` is the Nandakumar et al. (ICECS 2019) statistical PCM model as in aihwkit (programming
    noise, 1/f read noise and drift all depending on the conductance); ``gaussian`` uses the constant relative
    sigmas below; ``none`` is an ideal (digital-like) cell. All sigmas are relative to the maximum conductance.
    """

    model: str = Field("none", description="a registered noise model (imcnas.plugins kind 'noise'): pcm, "
                       "gaussian, none, or a plug-in's")
    g_max_us: float = Field(25.0, gt=0, le=1000, description="maximum conductance (uS)")
    prog_sigma: float = Field(0.0, ge=0, le=1, description="programming noise (gaussian model)")
    read_sigma: float = Field(0.0, ge=0, le=1, description="read noise per inference (gaussian model)")
    drift_nu: float = Field(0.0, ge=0, le=1, description="mean drift exponent, g(t) = g0 ((t+t0)/t0)^-nu")
    drift_nu_std: float = Field(0.0, ge=0, le=1, description="device-to-device spread of the drift exponent")
    t0_s: float = Field(20.0, gt=0, description="time of the first read after programming (drift reference)")
    stuck_on: float = Field(0.0, ge=0, le=1, description="fraction of cells stuck at the maximum conductance")
    stuck_off: float = Field(0.0, ge=0, le=1, description="fraction of cells stuck at zero conductance")
    drift_compensation: bool = Field(True, description="global drift compensation: one output scale per layer")

    @field_validator("model")
    @classmethod
    def _model_registered(cls, v: str) -> str:
        return _registered("noise", v)


class Device(_Strict):
    """Memory device of the crossbar cells. Missing fields come from the device type's preset."""

    type: str = Field("rram", description="a registered device (imcnas.plugins kind 'device'): rram, pcm, "
                      "sram, fefet, mram, or a plug-in's")
    r_on_ohm: float | None = Field(None, gt=0)
    on_off: float | None = Field(None, gt=1.0)
    bits_per_cell: int = Field(1, ge=1, le=8)
    read_voltage_v: float | None = Field(None, gt=0, le=3.3)
    read_pulse_ns: float | None = Field(None, gt=0)
    cell_area_f2: float | None = Field(None, gt=0, description="cell area in F^2; default: the device's "
                                       "cell (SRAM: the node's bit cell from NeuroSim's Param.cpp table)")
    compute: str = Field("current", description="a registered compute scheme (kind 'compute'): current summing "
                         "on the bit line, charge sharing of per-cell capacitors (e.g. Jia 2020), or a plug-in's")
    cell_cap_ff: float | None = Field(None, gt=0, le=100, description="charge-domain capacitor per cell")
    write_voltage_v: float | None = Field(None, gt=0, le=10, description="write (programming) voltage of a "
                                          "cell; None: the supply (SRAM)")
    write_pulse_ns: float | None = Field(None, gt=0, le=1e6, description="one write pulse; a row is written "
                                         "in a SET and a RESET pulse (NeuroSim); None: one clock cycle (SRAM)")
    write_energy_pj: float | None = Field(None, gt=0, le=1e4, description="energy to write one cell; None: "
                                          "from the voltage and pulse (devices.py, NeuroSim's write model)")
    endurance_cycles: float | None = Field(None, gt=0, description="write cycles a cell survives; None: "
                                           "unlimited (SRAM)")
    noise: Noise = Noise()
    params: dict[str, float] = Field(default_factory=dict, description="parameters of a plug-in device or compute "
                                     "scheme, by the names it declares (imcnas plugins list)")

    @field_validator("type")
    @classmethod
    def _type_registered(cls, v: str) -> str:
        return _registered("device", v)

    @field_validator("compute")
    @classmethod
    def _compute_registered(cls, v: str) -> str:
        return _registered("compute", v)

    @model_validator(mode="before")
    @classmethod
    def _fill_from_preset(cls, data: Any) -> Any:
        if isinstance(data, dict):
            kind = data.get("type", "rram")
            if isinstance(kind, str) and plugins.known("device", kind):
                merged = device_defaults(kind)
                noise = {**merged.get("noise", {}), **(data.get("noise") or {})}
                merged.update({k: v for k, v in data.items()})
                merged["noise"] = noise
                merged["type"] = kind
                return merged
        return data

    @model_validator(mode="after")
    def _check(self) -> "Device":
        _declared([("device", self.type), ("compute", self.compute)], "device", self.params)
        limit = device_preset(self.type).get("max_bits_per_cell", 8)
        if self.bits_per_cell > limit:
            raise ValueError(f"bits_per_cell={self.bits_per_cell} exceeds {limit} for {self.type}")
        if self.type != "sram" and (self.r_on_ohm is None or self.on_off is None):
            raise ValueError(f"{self.type} needs r_on_ohm and on_off")
        return self


