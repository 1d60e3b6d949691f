"""Memory-device presets. Every number names its source; any field can be overridden in a hardware YAML."""
from __future__ import annotations

from typing import Any

DEVICE_TYPES = ("rram", "pcm", "sram", "fefet", "mram")

# r_on/on_off: NeuroSim V1.4 manual Table VI (RRAM 22 nm Intel, PCM 90 nm IBM, FeFET 22 nm GF, STT-MRAM 22 nm
# Intel). Cell areas: NeuroSim V1.4 Param.cpp (RRAM 1T1R 4Fx12F = 48 F^2, SRAM 10Fx28F = 280 F^2); PCM 1T1R and
# FeFET 1T cells as in NeuroSim's defaults for those technologies; MRAM 1T1MTJ ~ 50 F^2 (ITRS/IRDS STT-MRAM).
# read_voltage: None = the node's read voltage (NeuroSim V1.4 Param.cpp:351-363, 0.55 V at 22 nm); 10 ns pulse.
# SRAM cell_area_f2 None = the node's bit cell (Param.cpp:270-333, 10Fx28F down to 22 nm, larger in F below). bits_per_cell: 1 for binary devices
# (SRAM, MRAM); multi-level analog devices default to 1 as NeuroSim's baseline and may be raised by the user.
# noise: the accuracy simulation's defaults per device (see imcnas.hardware.spec.Noise).
# PCM: Nandakumar et al. ICECS 2019 statistical model (shared/references/noise.md), g_max 25 uS as aihwkit.
# RRAM: write-verify programming to ~3 % of g_max and slow conductance relaxation (order of magnitude of
#   NeuRRAM, Wan et al. Nature 2022); FeFET: multi-level programming ~2 %, small retention drift (order of
#   magnitude of published FeFET CIM macros). These two are stated assumptions, not fits; override them.
# SRAM and STT-MRAM cells are binary and noiseless to first order (noise.md): errors come from the ADC.
# Writes (crossbars rewritten per inference: dynamic matmuls, graph aggregation; see hardware/writes.py).
#   RRAM: write_voltage 2 V (NeuroSim V1.4 Param.cpp writeVoltage = 2), pulse 50 ns (NeuroSim V2.1 Param.cpp
#     writePulseWidth = 50e-9); endurance 1e6 cycles, the low end of the 1e6-1e12 range of the surveys (Yu &
#     Chen, IEEE Solid-State Circuits Magazine 8(2) 2016; A. Chen, Solid-State Electronics 125, 2016), which
#     embedded macros sit at.
#   PCM: 2 V, 100 ns (SET-limited: RESET takes tens of ns, SET ~100 ns, Wong et al., "Phase change memory",
#     Proc. IEEE 98(12) 2010; a stated choice within that range); endurance 1e8 (Wong 2010: 1e8-1e9).
#   FeFET: 4 V, 50 ns (NeuroSim V2.1 Param.cpp writeVoltage = 4, writePulseWidth = 50e-9, with its
#     polarization 20 uC/cm^2 for the write energy); endurance 1e5 (28 nm HKMG FeFET, Trentzsch et al. IEDM
#     2016; surveys give 1e5-1e10).
#   STT-MRAM: 0.5 V across the MTJ, 10 ns (surveys: 2-20 ns writes at ~1 pJ, Yu & Chen 2016; a stated
#     choice); endurance 1e12, the low end of the surveys' >1e12 (Chen 2016).
#   SRAM: the supply and one clock cycle per row (NeuroSim's SRAM write driver); endurance unlimited (None).
#   write_energy_pj None: derived from voltage and pulse (writes.py, NeuroSim's GetWriteUpdateEstimation).
_NVM_WRITE = {"write_energy_pj": None}
_PCM_NOISE = {"model": "pcm", "g_max_us": 25.0}
_RRAM_NOISE = {"model": "gaussian", "g_max_us": 40.0, "prog_sigma": 0.03, "read_sigma": 0.01,
               "drift_nu": 0.005, "drift_nu_std": 0.003}
_FEFET_NOISE = {"model": "gaussian", "g_max_us": 10.0, "prog_sigma": 0.02, "read_sigma": 0.005,
                "drift_nu": 0.003, "drift_nu_std": 0.002}
_NO_NOISE = {"model": "none"}

DEVICE_PRESETS: dict[str, dict[str, Any]] = {
    "rram": {"noise": _RRAM_NOISE,
             "write_voltage_v": 2.0, "write_pulse_ns": 50.0, "endurance_cycles": 1e6, **_NVM_WRITE,
             "r_on_ohm": 6.0e3, "on_off": 17.0, "bits_per_cell": 1, "max_bits_per_cell": 4,
             "read_voltage_v": None, "read_pulse_ns": 10.0, "cell_area_f2": 48.0,
             "min_node_nm": (22.0, "NeuroSim V1.4's RRAM data are Intel 22 nm and its main.cpp refuses RRAM at "
                                   "14 nm and below"),
             "source": "NeuroSim V1.4 manual Table VI (Intel 22 nm RRAM); 1T1R 4Fx12F cell"},
    "pcm": {"noise": _PCM_NOISE,
            "write_voltage_v": 2.0, "write_pulse_ns": 100.0, "endurance_cycles": 1e8, **_NVM_WRITE,
            "r_on_ohm": 40.0e3, "on_off": 12.5, "bits_per_cell": 1, "max_bits_per_cell": 4,
            "read_voltage_v": 0.2, "read_pulse_ns": 10.0, "cell_area_f2": 48.0,
            "min_node_nm": (14.0, "the smallest PCM crossbar node in silicon, IBM HERMES 14 nm, Le Gallo et al. "
                                  "Nature Electronics 2023"),
            "source": "NeuroSim V1.4 manual Table VI (IBM 90 nm PCM); 1T1R cell as RRAM"},
    "sram": {"noise": _NO_NOISE,
             "write_voltage_v": None, "write_pulse_ns": None, "endurance_cycles": None, **_NVM_WRITE,
             "r_on_ohm": None, "on_off": None, "bits_per_cell": 1, "max_bits_per_cell": 1,
             "read_voltage_v": None, "read_pulse_ns": None, "cell_area_f2": None,
             "source": "NeuroSim V1.4 Param.cpp: 8T SRAM compute cell 10Fx28F"},
    "fefet": {"noise": _FEFET_NOISE,
              "write_voltage_v": 4.0, "write_pulse_ns": 50.0, "endurance_cycles": 1e5, **_NVM_WRITE,
              "r_on_ohm": 240.0e3, "on_off": 100.0, "bits_per_cell": 1, "max_bits_per_cell": 3,
              "read_voltage_v": 0.5, "read_pulse_ns": 10.0, "cell_area_f2": 24.0,
              "source": "NeuroSim V1.4 manual Table VI (GF 22 nm FeFET); 1T cell"},
    "mram": {"noise": _NO_NOISE,
             "write_voltage_v": 0.5, "write_pulse_ns": 10.0, "endurance_cycles": 1e12, **_NVM_WRITE,
             "r_on_ohm": 1.4e3, "on_off": 2.8, "bits_per_cell": 1, "max_bits_per_cell": 1,
             "read_voltage_v": 0.1, "read_pulse_ns": 10.0, "cell_area_f2": 50.0,
             "source": "NeuroSim V1.4 manual Table VI (Intel 22 nm STT-MRAM); 1T1MTJ cell"},
}


def _register() -> None:
    from imcnas import plugins

    for kind, preset in DEVICE_PRESETS.items():
        plugins.register("device", kind, preset, description=preset["source"].split(";")[0],
                         params={"device.*": "any field of the preset may be overridden in the YAML"},
                         supports={"max_bits_per_cell": preset["max_bits_per_cell"]}, sources=(preset["source"],))


_register()


def device_preset(kind: str) -> dict[str, Any]:
    """The registered preset of device ``kind`` (built-in or plug-in); UnknownNameError lists the names. A
    plug-in device registers a dict with the keys of :data:`DEVICE_PRESETS` (``noise``, ``r_on_ohm``,
    ``on_off``, ``bits_per_cell``, ``max_bits_per_cell``, ``cell_area_f2``, ... and ``source``)."""
    from imcnas import plugins

    return plugins.get("device", kind)


def device_defaults(kind: str) -> dict[str, Any]:
    """Default fields of a device type (a copy, without the bookkeeping keys)."""
    preset = dict(device_preset(kind))
    preset["noise"] = dict(preset.get("noise", {"model": "none"}))
    preset.pop("source", None)
    preset.pop("max_bits_per_cell", None)
    preset.pop("min_node_nm", None)
    return preset
