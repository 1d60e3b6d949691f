"""A time-to-digital converter (TDC) as a column readout: ``adc.law: tdc`` in the hardware YAML.

Published figure: a 4-bit pulse-shrinking TDC at 1 GS/s drawing 1.25 mW in 28 nm, i.e. 1.25 pJ and 1 ns per
conversion (SOURCE). Scaling (ours): the pulse crosses up to 2^bits delay stages, so energy and time grow as
2^(bits - 4); energy scales with the node (C V^2, C ~ node). The paper states no TDC area: the area is the
Murmann-survey ADC area at the same resolution unless ``adc.params.area_um2_4b`` gives a measured one.
"""
import numpy as np

from imcnas import plugins
from imcnas.hardware.adc import adc_survey_area_um2

SOURCE = ("Challagundla, Bezzam, Islam, 'TDC-CiM: Time-to-Digital Converter-Based Resonant Compute-in-Memory "
          "for INT8 CNNs', IEEE JETCAS 2025, doi:10.1109/JETCAS.2025.3645585 (arXiv:2601.00434)")
NODE_NM = 28.0


class TDC:
    """Pulse-shrinking delay-line TDC: 2^bits stages, priced from the 4-bit published point."""

    in_array = False

    def energy_pj(self, c, rate_hz):
        stages = 2.0 ** (c.adc_bits - 4)
        return c.param("adc", "energy_pj_4b", 1.25) * stages * c.node / NODE_NM

    def area_um2(self, c, rate_hz):
        measured = c.param("adc", "area_um2_4b", np.nan) * 2.0 ** (c.adc_bits - 4) * (c.node / NODE_NM) ** 2
        return np.where(np.isnan(measured), adc_survey_area_um2(c.adc_bits, c.node, rate_hz), measured)

    def conversion_ns(self, c, t_clk_ns):
        return c.param("adc", "ns_4b", 1.0) * 2.0 ** (c.adc_bits - 4)


plugins.register(
    "converter", "tdc", TDC(), description="time-to-digital converter (pulse-shrinking delay line)",
    params={"adc.bits": "resolution (2^bits delay stages)", "technology.node_nm": "energy ~ node",
            "adc.params.energy_pj_4b": "energy of a 4-bit conversion at 28 nm (default 1.25 pJ, the paper's)",
            "adc.params.ns_4b": "time of a 4-bit conversion (default 1 ns: 1 GS/s, the paper's)",
            "adc.params.area_um2_4b": "measured 4-bit area at 28 nm (default: the survey ADC area)"},
    supports={"bits": (1, 8)}, sources=(SOURCE,))
