"""Memory-device presets. Every number names its source; any field can be overridden in a hardware YAML."""
from __future__ import annotations

from typing import Any

DEVICE_TYPES = ("rram", "pcm", "sram", "fefet", "mram")

# r_on/on_off: NeuroSim V1.4 manual Table VI (RRAM 22 nm Intel, PCM 90 nm IBM, FeFET 22 nm GF, STT-MRAM 22 nm
# Intel). Cell areas: NeuroSim V1.4 Param.cpp (RRAM 1T1R 4Fx12F = 48 F^2, SRAM 10Fx28F = 280 F^2); PCM 1T1R and
# FeFET 1T cells as in NeuroSim's defaults for those technologies; MRAM 1T1MTJ ~ 50 F^2 (ITRS/IRDS STT-MRAM).
# read_voltage/pulse: NeuroSim V1.4 defaults (0.5 V class, 10 ns pulse). bits_per_cell: 1 for binary devices
# (SRAM, MRAM); multi-level analog devices default to 1 as NeuroSim's baseline and may be raised by the user.
DEVICE_PRESETS: dict[str, dict[str, Any]] = {
    "rram": {"r_on_ohm": 6.0e3, "on_off": 17.0, "bits_per_cell": 1, "max_bits_per_cell": 4,
             "read_voltage_v": 0.5, "read_pulse_ns": 10.0, "cell_area_f2": 48.0,
             "source": "NeuroSim V1.4 manual Table VI (Intel 22 nm RRAM); 1T1R 4Fx12F cell"},
    "pcm": {"r_on_ohm": 40.0e3, "on_off": 12.5, "bits_per_cell": 1, "max_bits_per_cell": 4,
            "read_voltage_v": 0.2, "read_pulse_ns": 10.0, "cell_area_f2": 48.0,
            "source": "NeuroSim V1.4 manual Table VI (IBM 90 nm PCM); 1T1R cell as RRAM"},
    "sram": {"r_on_ohm": None, "on_off": None, "bits_per_cell": 1, "max_bits_per_cell": 1,
             "read_voltage_v": None, "read_pulse_ns": None, "cell_area_f2": 280.0,
             "source": "NeuroSim V1.4 Param.cpp: 8T SRAM compute cell 10Fx28F"},
    "fefet": {"r_on_ohm": 240.0e3, "on_off": 100.0, "bits_per_cell": 1, "max_bits_per_cell": 3,
              "read_voltage_v": 0.5, "read_pulse_ns": 10.0, "cell_area_f2": 24.0,
              "source": "NeuroSim V1.4 manual Table VI (GF 22 nm FeFET); 1T cell"},
    "mram": {"r_on_ohm": 1.4e3, "on_off": 2.8, "bits_per_cell": 1, "max_bits_per_cell": 1,
             "read_voltage_v": 0.1, "read_pulse_ns": 10.0, "cell_area_f2": 50.0,
             "source": "NeuroSim V1.4 manual Table VI (Intel 22 nm STT-MRAM); 1T1MTJ cell"},
}


def device_defaults(kind: str) -> dict[str, Any]:
    """Default fields of a device type (a copy, without the bookkeeping keys)."""
    preset = dict(DEVICE_PRESETS[kind])
    preset.pop("source", None)
    preset.pop("max_bits_per_cell", None)
    return preset
