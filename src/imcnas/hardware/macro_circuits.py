"""Readout circuits of two silicon macros, as converter plug-ins (:mod:`imcnas.plugins`, kind ``converter``).

- ``integrate_and_convert``: NeuRRAM's voltage-mode neuron (Wan et al., Nature 2022). A neuron integrates the
  charge of its column while the inputs arrive as pulse trains (an n-bit input magnitude is 2^n - 1 unit
  pulses, so integration takes 2^n - 1 steps per phase), then converts the integrated voltage one bit per
  converter step; above ``max_input_bits_one_phase`` magnitude bits the input is split into two phases (the
  high half, then the low half), each integrated and converted, so the 2^n integration steps stay short.
- ``charge_share``: the column readout of Jia et al.'s charge-domain SRAM macro (JSSC 2020): the multiplying
  bit cells' capacitors of a column share their charge, and an 8-bit SAR converts the shared voltage. Its
  cycle (one column-parallel analog compute with its conversion) follows the macro's measured cycle scaled
  with the supply.

Both follow CiMLoop's models of these macros (Andrulis, Emer, Sze, ISPASS 2024; github mit-emze/cimloop,
``workspace/models/arch/1_macro/{wan_nature_2022,jia_jssc_2020}``) and hwcomponents-library's
``library/{wan,jia}.py``, which take their constants from the papers. Every constant is an ``adc.params``
entry with that value as its default. numpy only; every method is vectorised over chips ((n, 1) columns of
:class:`~imcnas.hardware.params.ChipArrays`).

Time and energy of an integrate-and-convert neuron are per matrix-vector product, spread evenly over the
input cycles that ``cost.py`` counts (one conversion per column and input cycle): ``conversion_ns`` is the
product's neuron time per input cycle less the read pulse ``cost.py`` adds per cycle, ``energy_pj`` the
product's neuron energy per input cycle.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from imcnas import plugins
from imcnas.hardware import technology as tech
from imcnas.workload.ops import Op, OpKind, Workload

WAN_SOURCE = ("Wan et al., Nature 608, 504-512 (2022) (NeuRRAM), as modelled by CiMLoop (mit-emze/cimloop, "
              "workspace/models/arch/1_macro/wan_nature_2022: variables_free.yaml, helper_functions.py, arch.yaml) "
              "and hwcomponents-library library/wan.py")
JIA_SOURCE = ("Jia et al., JSSC 55(9), 2609-2621 (2020), Table I (ADC energy per conversion at 0.85 V and 1.2 V), "
              "as modelled by CiMLoop (mit-emze/cimloop, workspace/models/arch/1_macro/jia_jssc_2020: "
              "variables_free.yaml, variables_iso.yaml)")

# ---- NeuRRAM neuron (per neuron, 130 nm, neuron supply 1.8 V). Name -> (default, meaning and source)
NEURON_PARAMS: dict[str, tuple[float, str]] = {
    # timing: CiMLoop wan_nature_2022/variables_free.yaml LATENCY_INTEGRATE, LATENCY_ADC_STEP,
    # LATENCY_INTER_PHASE, MAX_INPUT_BITS_BEFORE_TWO_PHASE (read from the paper's timing diagrams)
    "t_integrate_ns": (270.0, "one integration step (CiMLoop LATENCY_INTEGRATE = 0.27 us)"),
    "t_convert_ns": (300.0, "one converter step, one output bit (CiMLoop LATENCY_ADC_STEP = 0.3 us)"),
    "t_phase_ns": (300.0, "per phase: sampling and the change of phase (CiMLoop LATENCY_INTER_PHASE = 0.3 us)"),
    "max_input_bits_one_phase": (3.0, "input magnitude bits above which two phases are used (CiMLoop "
                                      "MAX_INPUT_BITS_BEFORE_TWO_PHASE = 3)"),
    # energies: hwcomponents-library library/wan.py (CSV rows at 130 nm, 1.8 V), used by CiMLoop's arch.yaml:
    # the converter (WanVariablePrecisionADC) and the shift-add (WanShiftAdd) once per converter step, the
    # integrator (WanAnalogIntegrator) once per integration step, the sampler (WanAnalogSample) once per input bit
    "e_convert_pj": (0.3, "one converter step (hwcomponents-library WanVariablePrecisionADC, 0.3 pJ)"),
    "e_integrate_pj": (0.25, "one integration step (hwcomponents-library WanAnalogIntegrator, 0.25 pJ)"),
    "e_sample_pj": (1.2, "one sample, once per input bit (hwcomponents-library WanAnalogSample, 1.2 pJ)"),
    # (hwcomponents-library's WanShiftAdd, 0.1 pJ per converter step, is not added here: cost.py prices the
    # shift-add over input bits as its accumulation component, NeuroSim's adder model)
    # the neuron's word line: NeuRRAM's word lines run along the columns, one per neuron, and are toggled once
    # per input bit to gate its integration (CiMLoop arch.yaml wordline_cap: "48 fF drivers, 1.5 fF per access
    # transistor, 0.6 fF per RRAM coupling between WLs", all at VOLTAGE = 1.8 V)
    "c_wl_per_row_ff": (2.1, "word-line load per cell on the neuron's column (1.5 fF gate + 0.6 fF coupling)"),
    "c_wl_driver_ff": (48.0, "word-line driver load per neuron (CiMLoop wordline_cap)"),
    "v_neuron": (1.8, "neuron supply; the energies above are at 1.8 V and scale with V^2 (hwcomponents-library)"),
    # area: hwcomponents-library library/wan.py areas at 130 nm: converter 400 + integrator 350 + sampler 350 +
    # shift-add 170 um^2 = 1270 um^2 per neuron (CiMLoop _tests.py: 28 % of the core, paper Fig. 11f)
    "area_um2_130nm": (1270.0, "one neuron at 130 nm, scaled with the node squared (hwcomponents-library)"),
}

# ---- Jia et al. charge-domain readout. Name -> (default, meaning and source)
CHARGE_PARAMS: dict[str, tuple[float, str]] = {
    # CiMLoop jia_jssc_2020/variables_free.yaml: BASE_LATENCY = 25e-9 * 54 s: one column-parallel analog
    # compute with its conversion takes ~54 cycles of the macro's 40 MHz control clock at 0.85 V
    "t_cycle_ns": (1350.0, "one compute-and-convert cycle at v_ref (CiMLoop BASE_LATENCY = 25 ns x 54)"),
    "v_ref": (0.85, "supply of t_cycle_ns and e_adc_pj (Jia et al. Table I's low-voltage point)"),
    # CiMLoop variables_iso.yaml: VOLTAGE_LATENCY_SCALE = (0.85 / VOLTAGE) ** 2.66: the alpha-power-law delay
    # of the macro's logic near threshold, exponent fitted by CiMLoop to the paper's two supply points
    "latency_exponent": (2.66, "cycle time scales as (v_ref / V)^exponent (CiMLoop VOLTAGE_LATENCY_SCALE)"),
    # Jia et al. Table I: 1.79 pJ per conversion at 0.85 V (3.56 pJ at 1.2 V, which CV^2 scaling predicts)
    "e_adc_pj": (1.79, "one 8-bit SAR conversion at v_ref, scaled with V^2 (Jia et al. Table I, measured)"),
    # Jia et al. Fig. 11 via CiMLoop _tests.py test_area_breakdown: 0.497 mm^2 of ADCs for 256 converters
    "adc_area_um2_65nm": (1941.0, "one column ADC at 65 nm (Jia et al. Fig. 11: 0.497 mm^2 / 256), scaled "
                                  "with the node squared"),
    # a charge-domain column is reset after each conversion: its capacitors' shared top plates return from the
    # shared voltage, V/2 on average for balanced products, drawing C_total x V x V/2 (charge-redistribution
    # energy, e.g. Valavi et al., JSSC 2019); the capacitors' charging by the products is the compute scheme's
    "reset_swing": (0.5, "mean reset swing of the shared column, in V (balanced products: 1/2)"),
    # CiMLoop variables_free.yaml N_FOLDED_COLUMNS = 3 (Jia et al.: the 768 x 768 array computes 2304-element
    # dot products on 256 outputs): three adjacent columns share their charge and one converter
    "folded_columns": (3.0, "columns whose charge one converter reads at once (CiMLoop N_FOLDED_COLUMNS)"),
}


def _p(c: Any, table: dict[str, tuple[float, str]], key: str) -> np.ndarray:
    return c.param("adc", key, table[key][0])


def neuron_schedule(c: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(input magnitude bits, integration steps, converter steps, phases) of one matrix-vector product per
    neuron, per chip (CiMLoop helper_functions.py: bits2phase_2phase, bits2integration_steps,
    sum_phase_out_bits). ``c.in_bits`` counts the input magnitude bits (a sign picks the pulse polarity)."""
    n = np.maximum(c.in_bits, 1.0)
    split = n > _p(c, NEURON_PARAMS, "max_input_bits_one_phase")
    first = np.where(split, np.ceil(n / 2), n)
    second = np.where(split, np.floor(n / 2), 0.0)
    integrate = (2.0**first - 1) + (2.0**second - 1)
    out = c.adc_bits
    convert = out + np.where(second > 0, np.maximum(out - first, 0.0), 0.0)  # phase 2 resolves what phase 1 left
    phases = 1.0 + (second > 0)
    return n, integrate, convert, phases


class IntegrateAndConvert:
    """NeuRRAM's voltage-mode neuron: integrate 2^n - 1 pulse steps per phase, then convert bit by bit."""

    in_array = False

    def mvm_ns(self, c: Any) -> np.ndarray:
        """Neuron time of one matrix-vector product. (n, 1)"""
        _, integrate, convert, phases = neuron_schedule(c)
        return (integrate * _p(c, NEURON_PARAMS, "t_integrate_ns") + convert * _p(c, NEURON_PARAMS, "t_convert_ns")
                + phases * _p(c, NEURON_PARAMS, "t_phase_ns"))

    def mvm_energy_pj(self, c: Any) -> np.ndarray:
        """Energy of one neuron in one matrix-vector product. (n, 1)"""
        bits, integrate, convert, _ = neuron_schedule(c)
        v = _p(c, NEURON_PARAMS, "v_neuron")
        e = (convert * _p(c, NEURON_PARAMS, "e_convert_pj") + integrate * _p(c, NEURON_PARAMS, "e_integrate_pj")
             + bits * _p(c, NEURON_PARAMS, "e_sample_pj")) * (v / NEURON_PARAMS["v_neuron"][0]) ** 2
        c_wl = (_p(c, NEURON_PARAMS, "c_wl_per_row_ff") * c.xbar_rows + _p(c, NEURON_PARAMS, "c_wl_driver_ff"))
        return e + bits * c_wl * 1e-3 * v**2  # word line toggled once per input bit

    def conversion_ns(self, c: Any, t_clk: np.ndarray) -> np.ndarray:
        """The product's neuron time per input cycle, less the read pulse cost.py adds per cycle."""
        per_cycle = self.mvm_ns(c) / np.maximum(c.in_cycles, 1.0) - c.t_read_ns
        return np.maximum(per_cycle, t_clk)

    def energy_pj(self, c: Any, rate_hz: np.ndarray) -> np.ndarray:
        """The product's neuron energy per input cycle (one conversion per column and cycle in cost.py)."""
        return self.mvm_energy_pj(c) / np.maximum(c.in_cycles, 1.0) + 0.0 * rate_hz

    def area_um2(self, c: Any, rate_hz: np.ndarray) -> np.ndarray:
        """One neuron (converter, integrator, sampler, shift-add), scaled from 130 nm with the node squared."""
        return _p(c, NEURON_PARAMS, "area_um2_130nm") * (c.node / 130.0) ** 2 + 0.0 * rate_hz


class ChargeShareReadout:
    """Jia et al.'s column readout: charge sharing of the column's bit-cell capacitors and an 8-bit SAR.

    ``folded_columns`` columns share one converter and one conversion (their charge is summed before it), so
    per column (what cost.py counts, ``adc.cols_per_adc = 1``) energy and area are a converter's share."""

    in_array = False

    def conversion_ns(self, c: Any, t_clk: np.ndarray) -> np.ndarray:
        """One compute-and-convert cycle: the measured cycle at v_ref scaled as (v_ref / V)^exponent."""
        scale = (_p(c, CHARGE_PARAMS, "v_ref") / c.vdd) ** _p(c, CHARGE_PARAMS, "latency_exponent")
        return np.maximum(_p(c, CHARGE_PARAMS, "t_cycle_ns") * scale, t_clk)

    def energy_pj(self, c: Any, rate_hz: np.ndarray) -> np.ndarray:
        """A column's share of one conversion (the measured energy at v_ref, scaled with V^2: a SAR's capacitive
        DAC and logic, over the folded columns) and the column's reset after it."""
        e = _p(c, CHARGE_PARAMS, "e_adc_pj") * (c.vdd / _p(c, CHARGE_PARAMS, "v_ref")) ** 2
        # the column's reset: its cells' capacitors and their share of the column wire (cell height x wire cap)
        c_cell = c.cell_cap_ff + tech.WIRE_CAP_FF_PER_UM * c.cell_h_f * c.node * 1e-3
        reset = _p(c, CHARGE_PARAMS, "reset_swing") * c.xbar_rows * c_cell * 1e-3 * c.vdd**2
        return e / _p(c, CHARGE_PARAMS, "folded_columns") + reset + 0.0 * rate_hz

    def area_um2(self, c: Any, rate_hz: np.ndarray) -> np.ndarray:
        """A column's share of one ADC, scaled from 65 nm with the node squared."""
        a = _p(c, CHARGE_PARAMS, "adc_area_um2_65nm") * (c.node / 65.0) ** 2
        return a / _p(c, CHARGE_PARAMS, "folded_columns") + 0.0 * rate_hz


def macro_workload(macro: str, vectors: int = 100) -> Workload:
    """The own workload of a macro in ``macro_circuits``' references, ``vectors`` input vectors per array:

    - ``"jia"``: one binary matrix-vector product on the 768 x 768 bit cells per cycle, 589,824 MACs per vector
      (three columns fold onto one output: 2304 inputs by 256 outputs, CiMLoop's per-cycle counts);
    - ``"neurram"``: one product per core on 48 cores; a core's 256 x 256 cells hold 128 signed inputs on
      differential row pairs by 256 outputs, so a product is 128 x 256 = 32,768 MACs (65,536 ops, CiMLoop
      OPS_PER_ARRAY) while all 256 rows conduct: the op is 256 rows x 256 columns with that MAC count.
    """
    if macro == "jia":
        shapes, macs, n = (768, 768), 768 * 768, 1
    elif macro == "neurram":
        shapes, macs, n = (256, 256), 128 * 256, 48
    else:
        raise ValueError(f"unknown macro {macro!r} (jia, neurram)")
    rows, cols = shapes
    ops = tuple(Op(name=f"{macro}_core{i}", kind=OpKind.MATRIX, module="Linear", rows=rows, cols=cols,
                   vectors=vectors, macs=macs * vectors, in_shape=(vectors, rows), out_shape=(vectors, cols))
                for i in range(n))
    return Workload(name=f"{macro}-macro", ops=ops, batch=1)


MACRO_ENERGY = ("array", "adc", "dac", "accumulation")  # a macro's own circuits: no buffers, bus, digital units
MACRO_AREA = ("array", "adc", "dac", "accumulation", "periphery", "whitespace")


def macro_figures(work: Workload, chip: Any) -> dict[str, Any]:
    """Macro-level TOPS, TOPS/W and TOPS/mm^2 of ``work`` on ``chip`` (a Chip or preset name), as published
    macro figures count them: ``imcnas.estimate``'s ops, its energy and area of the arrays and their periphery
    (``MACRO_ENERGY``, ``MACRO_AREA``: no buffers, interconnect, digital units or leakage), and the array-bound
    period: the layers run in parallel on their own arrays (one core each), each taking cost.py's array time
    (input cycles x row groups x columns per converter x the read step, plus the read pulses) per vector;
    streaming partial sums out through the tile buffers (cost.py's buffer time) is left out, as the macros
    latch all converter outputs at once. ``report`` is the full CostReport (whole-chip figures)."""
    from imcnas.hardware.params import chip_arrays
    from imcnas.hardware.periphery import subarray
    from imcnas.hardware.reads import clock_ns, step_ns
    from imcnas.hardware.report import estimate
    from imcnas.hardware.spec import load_chip

    chip = load_chip(chip) if isinstance(chip, str) else chip
    rep = estimate(work, chip)
    c = chip_arrays([chip])
    sa = subarray(c)
    t_step = step_ns(c, sa, clock_ns(c, sa))
    per_vector = c.in_cycles * sa.n_add * (c.cols_per_adc * t_step + c.t_read_ns)
    period_ns = float(work.matrix_arrays["vectors"].max() * per_vector[0, 0])
    ops = 2.0 * rep.macs
    tops = ops / period_ns / 1e3
    energy = sum(rep.energy_breakdown_pj[k] for k in MACRO_ENERGY)
    area = sum(rep.area_breakdown_mm2[k] for k in MACRO_AREA)
    return {"tops": tops, "tops_per_w": ops / energy, "tops_per_mm2": tops / area, "period_ns": period_ns,
            "energy_pj": energy, "area_mm2": area, "report": rep}


def _declared(table: dict[str, tuple[float, str]]) -> dict[str, str]:
    return {f"adc.params.{k}": f"{meaning} (default {default:g})" for k, (default, meaning) in table.items()}


def _register() -> None:
    plugins.register("converter", "integrate_and_convert", IntegrateAndConvert(),
                     params={"adc.bits": "output bits (converter steps per phase)",
                             "inputs.bits": "input magnitude bits (integration steps, phases)",
                             **_declared(NEURON_PARAMS)},
                     description="NeuRRAM's voltage-mode integrate-and-convert neuron (one per column)",
                     supports={"bits": (1, 10), "devices": ["rram"]}, sources=(WAN_SOURCE,))
    plugins.register("converter", "charge_share", ChargeShareReadout(),
                     params={"adc.bits": "resolution", "technology.vdd_v": "supply (cycle time, energy)",
                             **_declared(CHARGE_PARAMS)},
                     description="Jia et al.'s charge-sharing column with its SAR ADC (cycle scaled with the supply)",
                     supports={"bits": (1, 8), "devices": ["sram"]}, sources=(JIA_SOURCE,))


_register()
