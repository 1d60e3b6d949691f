"""Silicon macros priced through imcnas.estimate (macro_circuits.macro_figures) on each macro's own workload:
Jia et al. JSSC 2020 (charge-domain SRAM, 0.85 V and 1.2 V) and NeuRRAM (Wan et al. Nature 2022, five
(output bits, input bits) points). References: /work/shared/references/costmodel.yaml ``macros:``, the
figures CiMLoop's validation compares (mit-emze/cimloop _tests.py of jia_jssc_2020 and wan_nature_2022).
Which rows are calibration and which independent: docs/validation.md, "Silicon macros"."""
from __future__ import annotations

import numpy as np
import pytest

from imcnas import plugins
from imcnas.hardware.macro_circuits import macro_figures, macro_workload
from imcnas.hardware.params import chip_arrays
from imcnas.hardware.spec import load_chip

TOL = 0.25
JIA = {"jia-sram-65nm-0p85v": {"tops": 0.874, "tops_per_w": 400, "tops_per_mm2": 0.24},
       "jia-sram-65nm-1p2v": {"tops": 2.185, "tops_per_w": 192, "tops_per_mm2": 0.6}}
NEURRAM = {"neurram-rram-130nm-o3i1": {"tops": 2.12, "tops_per_w": 43.1},
           "neurram-rram-130nm-o4i2": {"tops": 1.79, "tops_per_w": 40.3},
           "neurram-rram-130nm-o6i4": {"tops": 0.744, "tops_per_w": 15.95},
           "neurram-rram-130nm-o8i6": {"tops": 0.418, "tops_per_w": 8.26},
           "neurram-rram-130nm-o10i8": {"tops": 0.264, "tops_per_w": 6.44}}


def _figures(chip: str) -> dict:
    return macro_figures(macro_workload("jia" if chip.startswith("jia") else "neurram"), chip)


@pytest.fixture(scope="module")
def figures() -> dict[str, dict]:
    return {chip: _figures(chip) for chip in {**JIA, **NEURRAM}}


@pytest.mark.parametrize("chip,ref", [*JIA.items(), *NEURRAM.items()])
def test_macro_within_25_percent(figures, chip, ref) -> None:
    got = figures[chip]
    for key, want in ref.items():
        assert abs(got[key] / want - 1) <= TOL, f"{chip} {key}: {got[key]:.4g} vs {want:.4g}"


def test_macro_workloads_count_the_reference_ops() -> None:
    assert macro_workload("jia", 1).macs == 768 * 768  # 2304 inputs x 256 outputs per cycle
    assert 2 * macro_workload("neurram", 1).macs == 48 * 65536  # CiMLoop OPS_PER_ARRAY x 48 cores
    rep = _figures("neurram-rram-130nm-o3i1")["report"]
    assert rep.tiles == 48 and rep.chip == "neurram-rram-130nm-o3i1"


def test_neurram_throughput_falls_with_input_bits(figures) -> None:
    tops = [figures[c]["tops"] for c in NEURRAM]
    eff = [figures[c]["tops_per_w"] for c in NEURRAM]
    assert all(a > b for a, b in zip(tops, tops[1:]))
    assert all(a > b for a, b in zip(eff, eff[1:]))


def test_neurram_two_phase_is_faster_than_one_phase() -> None:
    """Above 3 magnitude bits the neuron splits the input in two phases: 2^3-1 + 2^2-1 = 10 integration steps
    instead of 2^5-1 = 31 at 6-bit inputs (CiMLoop: two-phase is faster for > 5 input bits)."""
    two = _figures("neurram-rram-130nm-o8i6")
    one = macro_figures(macro_workload("neurram"), load_chip("neurram-rram-130nm-o8i6",
                                                               ["adc.params.max_input_bits_one_phase=8"]))
    assert two["tops"] > 1.5 * one["tops"] and two["tops_per_w"] > one["tops_per_w"]


def test_jia_higher_supply_is_faster_and_less_efficient(figures) -> None:
    lo, hi = figures["jia-sram-65nm-0p85v"], figures["jia-sram-65nm-1p2v"]
    assert hi["tops"] / lo["tops"] == pytest.approx((1.2 / 0.85) ** 2.66, rel=1e-6)
    assert hi["tops_per_w"] < 0.6 * lo["tops_per_w"]  # energy ~ V^2: (0.85 / 1.2)^2 = 0.50
    assert hi["area_mm2"] == pytest.approx(lo["area_mm2"])


def test_jia_adc_energy_follows_the_measured_point_at_the_other_supply(figures) -> None:
    """The ADC's 1.79 pJ at 0.85 V (Table I) scaled with V^2 predicts Table I's 3.56 pJ at 1.2 V."""
    rep = figures["jia-sram-65nm-1p2v"]["report"]
    c = chip_arrays([load_chip("jia-sram-65nm-1p2v")])
    per_conversion = 1.79 * (1.2 / 0.85) ** 2
    assert per_conversion == pytest.approx(3.56, rel=0.01)
    reset = rep.energy_breakdown_pj["adc"] / (768 * 100) - per_conversion / 3  # per column, 100 vectors
    assert 0 < reset < per_conversion and c.adc_law[0, 0] == plugins.names("converter").index("charge_share")


def test_macro_converters_are_registered_with_declared_params() -> None:
    for name in ("integrate_and_convert", "charge_share"):
        e = plugins.entry("converter", name)
        assert e.module == "imcnas.hardware.macro_circuits" and e.sources
        assert any(k.startswith("adc.params.") for k in e.params)
    with pytest.raises(Exception, match="not a parameter"):
        load_chip("neurram-rram-130nm-o3i1", ["adc.params.no_such_key=1"])


def test_converters_are_vectorised_over_chips() -> None:
    names = ["neurram-rram-130nm-o3i1", "neurram-rram-130nm-o10i8", "jia-sram-65nm-0p85v", "jia-sram-65nm-1p2v"]
    c = chip_arrays([load_chip(n) for n in names])
    from imcnas.hardware import converters as CV

    e = CV.by_converter(c, "energy_pj", np.full((4, 1), 1e9))
    t = CV.conversion_ns(c, np.full((4, 1), 10.0))
    assert e.shape == t.shape == (4, 1) and np.all(e > 0) and np.all(np.isfinite(t))
    one = [CV.conversion_ns(chip_arrays([load_chip(n)]), np.full((1, 1), 10.0))[0, 0] for n in names]
    assert np.allclose(t[:, 0], one)
