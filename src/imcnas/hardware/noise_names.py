"""Built-in cell noise models on the plug-in registry (kind ``noise``), registered by name only: the
implementations (torch) live in :mod:`imcnas.accuracy.nonideal` and are imported on first use, so validating a
chip description never imports torch.

A noise model has ``program(g, noise, gen) -> (g_prog, nu)`` (programmed conductances, normalised to g_max, and
each cell's drift exponent) and ``read(g_prog, nu, t_s, noise, gen) -> g`` (conductances read ``t_s`` after
programming). ``noise`` is the chip's :class:`~imcnas.hardware.spec.Noise` record; stuck cells are applied by
nonideal.py for every model.
"""
from __future__ import annotations

from imcnas import plugins

plugins.register("noise", "pcm", "imcnas.accuracy.nonideal:PCMNoise",
                 description="Nandakumar et al. (ICECS 2019) statistical PCM model, as in aihwkit",
                 params={"device.noise.g_max_us": "maximum conductance", "device.noise.t0_s": "first read"},
                 sources=("Nandakumar et al., ICECS 2019", "aihwkit PCMLikeNoiseModel"))
plugins.register("noise", "gaussian", "imcnas.accuracy.nonideal:GaussianNoise",
                 description="constant relative programming and read noise, power-law drift with a spread of exponents",
                 params={"device.noise.prog_sigma": "programming", "device.noise.read_sigma": "read",
                         "device.noise.drift_nu": "drift exponent", "device.noise.drift_nu_std": "its spread"})
plugins.register("noise", "none", "imcnas.accuracy.nonideal:NoNoise",
                 description="ideal cells (SRAM, MRAM to first order)")
