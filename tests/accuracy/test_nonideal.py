"""Crossbar non-idealities as tensor functions: device noise statistics (PCM model of Nandakumar et al. 2019 as
in shared/references/noise.md, gaussian model), stuck cells, drift compensation, ADC and IR drop (quantisers and
the weight -> cell mapping: ``test_cells.py``). Statistical checks use many samples and tolerances of several standard errors."""
from __future__ import annotations

import math

import pytest
import torch

from imcnas.accuracy import nonideal as ni
from imcnas.hardware.spec import Noise

N = 50_000  # samples per statistical check
PCM = Noise(model="pcm")


def _gen(seed: int = 0) -> torch.Generator:
    return ni.generator(seed)


def _pcm_prog_sigma(g: float) -> float:
    c0, c1, c2 = 0.26348, 1.9650, -1.1731  # noise.md, in uS at g_max = 25 uS
    return (c0 + c1 * g + c2 * g * g) / 25.0


# ------------------------------------------------------------------------------------------- PCM noise
@pytest.mark.parametrize("g", [0.1, 0.5, 0.9])
def test_pcm_programming_noise_follows_the_polynomial(g: float) -> None:
    target = torch.full((N,), g)
    g_prog, nu = ni.program(target, PCM, _gen(3))
    sigma = _pcm_prog_sigma(g)
    dev = g_prog - target
    assert float(dev.mean()) == pytest.approx(0.0, abs=5 * sigma / math.sqrt(N))
    assert float(dev.std()) == pytest.approx(sigma, rel=0.02)
    assert float(g_prog.min()) >= 0.0 and nu.shape == target.shape


def test_pcm_programming_noise_clips_negative_conductances() -> None:
    g_prog, _ = ni.program(torch.zeros(N), PCM, _gen(4))
    assert float(g_prog.min()) == 0.0
    frac_zero = float((g_prog == 0).float().mean())
    assert frac_zero == pytest.approx(0.5, abs=0.01)  # half the Gaussian lands below zero
    # the positive half is a half-normal of sigma_prog(0)
    pos = g_prog[g_prog > 0]
    assert float(pos.mean()) == pytest.approx(_pcm_prog_sigma(0.0) * math.sqrt(2 / math.pi), rel=0.03)


@pytest.mark.parametrize("g", [0.5, 0.9])
def test_pcm_drift_exponent_statistics_at_the_clamps(g: float) -> None:
    # for g_hat >= ~0.35, mu_nu and sigma_nu sit at their lower clamps 0.049 and 0.008
    _, nu = ni.program(torch.full((N,), g), PCM, _gen(5))
    assert float(nu.min()) >= 0.0
    assert float(nu.mean()) == pytest.approx(0.049, abs=4e-4)
    assert float(nu.std()) == pytest.approx(0.008, rel=0.04)


def test_pcm_drift_exponent_grows_for_low_conductance_within_clamps() -> None:
    means = []
    for g in (0.02, 0.1, 0.5):
        _, nu = ni.program(torch.full((N,), g), PCM, _gen(6))
        assert float(nu.min()) >= 0.0
        means.append(float(nu.mean()))
    # mean of |N(mu, sigma)| with mu in [0.049, 0.1] and sigma <= 0.045 stays below 0.1 + sigma
    assert all(0.049 - 1e-3 <= m <= 0.1 + 0.045 for m in means)
    assert means[0] > means[1] > means[2]


@pytest.mark.parametrize("t", [1.0, 3600.0, 86400.0, 30 * 86400.0])
def test_drift_follows_the_power_law(t: float) -> None:
    # constant nu, no read noise: exactly g_prog * ((t + t0) / t0) ** -nu
    noise = Noise(model="gaussian", t0_s=20.0)
    g_prog = torch.rand(1000, generator=torch.Generator().manual_seed(0))
    nu = torch.full_like(g_prog, 0.06)
    g = ni.drift_and_read(g_prog, nu, t, noise, _gen(0))
    assert torch.allclose(g, g_prog * ((t + 20.0) / 20.0) ** -0.06, rtol=1e-5)
    # another t0
    g2 = ni.drift_and_read(g_prog, nu, t, Noise(model="gaussian", t0_s=5.0), _gen(0))
    assert torch.allclose(g2, g_prog * ((t + 5.0) / 5.0) ** -0.06, rtol=1e-5)


@pytest.mark.parametrize("t", [3600.0, 30 * 86400.0])
def test_pcm_mean_drift_factor(t: float) -> None:
    g0 = 0.8
    g_prog, nu = ni.program(torch.full((N,), g0), PCM, _gen(7))
    g = ni.drift_and_read(g_prog, nu, t, PCM, _gen(8))
    ln_t = math.log((t + 20.0) / 20.0)
    # nu ~ N(0.049, 0.008): E[T^-nu] = T^-mu * exp(sigma^2 ln^2 T / 2)
    expected = math.exp(-0.049 * ln_t + 0.5 * (0.008 * ln_t) ** 2)
    assert float(g.mean() / g_prog.mean()) == pytest.approx(expected, rel=0.01)


def test_pcm_read_noise_amplitude_and_growth_with_time() -> None:
    g0 = 0.6
    g_prog = torch.full((N,), g0)
    nu = torch.zeros(N)  # no drift: isolate the 1/f noise
    q_s = min(0.0088 / g0**0.65, 0.2)
    stds = []
    for t in (1.0, 3600.0, 86400.0, 30 * 86400.0):
        g = ni.drift_and_read(g_prog, nu, t, PCM, _gen(9))
        assert float(g.mean()) == pytest.approx(g0, rel=2e-3)
        stds.append(float(g.std()))
        if t >= 3600.0:  # (whether the 1/f integral runs to t or to t + t0 matters < 0.1 % from here on)
            expected = q_s * math.sqrt(math.log((t + 250e-9) / (2 * 250e-9)))
            assert float(g.std() / g0) == pytest.approx(expected, rel=0.03)
    assert stds == sorted(stds) and stds[-1] > 1.2 * stds[0]


def test_pcm_read_noise_relative_amplitude_saturates_for_small_g() -> None:
    nu = torch.zeros(N)
    rel = []
    for g0 in (0.002, 0.05, 0.9):
        g = ni.drift_and_read(torch.full((N,), g0), nu, 3600.0, PCM, _gen(10))
        rel.append(float(g.std() / g0))
    # Q_s = min(0.0088 / g^0.65, 0.2): small conductances are noisier, but capped
    assert rel[0] > rel[1] > rel[2]
    cap = 0.2 * math.sqrt(math.log((3600 + 250e-9) / (2 * 250e-9)))
    assert rel[0] < cap * 1.05


def test_no_time_dependence_without_noise() -> None:
    g = torch.rand(100)
    nu = torch.full_like(g, 0.05)
    assert torch.equal(ni.drift_and_read(g, nu, 1e6, Noise(model="none"), _gen(0)), g)
    # without drift and read noise the gaussian model is time independent too
    quiet = Noise(model="gaussian")
    assert torch.allclose(ni.drift_and_read(g, torch.zeros_like(g), 1e6, quiet, _gen(0)), g)
    g_prog, nu0 = ni.program(g, Noise(model="none"), _gen(0))
    assert torch.equal(g_prog, g) and torch.all(nu0 == 0)


# --------------------------------------------------------------------------------------- gaussian model
def test_gaussian_model_sigmas() -> None:
    noise = Noise(model="gaussian", prog_sigma=0.03, read_sigma=0.01, drift_nu=0.05, drift_nu_std=0.01)
    g = torch.full((N,), 0.5)
    g_prog, nu = ni.program(g, noise, _gen(11))
    assert float((g_prog - g).std()) == pytest.approx(0.03, rel=0.02)
    assert float((g_prog - g).mean()) == pytest.approx(0.0, abs=5 * 0.03 / math.sqrt(N))
    assert float(nu.mean()) == pytest.approx(0.05, abs=2e-4)
    assert float(nu.std()) == pytest.approx(0.01, rel=0.03)
    # read noise: constant sigma relative to g_max around the drifted value
    fixed = torch.full((N,), 0.5)
    read = ni.drift_and_read(fixed, torch.zeros(N), 10.0, noise, _gen(12))
    assert float(read.std()) == pytest.approx(0.01, rel=0.02)
    assert float(read.mean()) == pytest.approx(0.5, abs=1e-3)
    # conductances stay inside [0, 1]
    edge, _ = ni.program(torch.full((N,), 1.0), noise, _gen(13))
    assert float(edge.max()) <= 1.0 and float(edge.min()) >= 0.0


def test_rram_and_fefet_presets_use_their_own_noise_figures() -> None:
    from imcnas import load_chip

    rram = load_chip("neurosim-rram-22nm").device.noise
    fefet = load_chip("pcm-14nm", ["device.type=fefet"]).device.noise
    g = torch.full((N,), 0.5)
    s_rram = float((ni.program(g, rram, _gen(14))[0] - g).std())
    s_fefet = float((ni.program(g, fefet, _gen(14))[0] - g).std())
    assert rram.model == fefet.model == "gaussian"
    assert s_rram == pytest.approx(rram.prog_sigma, rel=0.03)
    assert s_fefet == pytest.approx(fefet.prog_sigma, rel=0.03)
    assert s_rram != pytest.approx(s_fefet, rel=0.1)


# -------------------------------------------------------------------------------------------- stuck cells
@pytest.mark.parametrize("model", ["none", "pcm"])
def test_stuck_at_rates(model: str) -> None:
    noise = Noise(model=model, stuck_on=0.04, stuck_off=0.1)
    g = torch.full((N,), 0.5)
    g_prog, nu = ni.program(g, noise, _gen(15))
    on = (g_prog == 1.0).float().mean()
    off = (g_prog == 0.0).float().mean()
    for rate, p in ((on, 0.04), (off, 0.1)):
        assert abs(float(rate) - p) < 5 * math.sqrt(p * (1 - p) / N)
    stuck = (g_prog == 1.0) | (g_prog == 0.0)
    assert torch.all(nu[stuck] == 0)  # stuck cells do not drift
    if model == "pcm":
        assert float(nu[~stuck].min()) > 0


def test_no_stuck_cells_by_default() -> None:
    g_prog, _ = ni.program(torch.full((N,), 0.5), Noise(model="none"), _gen(16))
    assert torch.all(g_prog == 0.5)


# ----------------------------------------------------------------------------------- drift compensation
def test_global_drift_compensation_restores_output_scale() -> None:
    gen = torch.Generator().manual_seed(2)
    w = torch.randn(64, 128, generator=gen)
    x = torch.randn(512, 128, generator=gen).relu()
    w_max = w.abs().max()
    lay = ni.cell_layout(8, 2, 2, "differential")
    g_pos, g_neg = ni.to_cells(w, w_max, lay)
    gp, nup = ni.program(g_pos, PCM, _gen(17))
    gn, nun = ni.program(g_neg, PCM, _gen(18))
    w_ref = ni.from_cells(gp, gn, w_max, lay)
    t = 30 * 86400.0
    w_now = ni.from_cells(ni.drift_and_read(gp, nup, t, PCM, _gen(19)),
                          ni.drift_and_read(gn, nun, t, PCM, _gen(20)), w_max, lay)
    alpha = ni.drift_compensation(w_ref, w_now)
    assert alpha.dim() == 0 and not alpha.requires_grad
    ref_scale = (x @ w_ref.T).abs().mean()
    raw = float((x @ w_now.T).abs().mean() / ref_scale)
    comp = float((x @ (alpha * w_now).T).abs().mean() / ref_scale)
    assert raw < 0.75  # a month of PCM drift shrinks the outputs a lot
    assert abs(comp - 1.0) < 0.05
    assert abs(comp - 1.0) < 0.2 * abs(raw - 1.0)
    # no drift: no correction; a uniform decay is undone exactly
    assert float(ni.drift_compensation(w_ref, w_ref)) == pytest.approx(1.0)
    assert float(ni.drift_compensation(w_ref, 0.5 * w_ref)) == pytest.approx(2.0)


# --------------------------------------------------------------------------------------------- ADC, IR drop
def test_adc_error_decreases_with_bits() -> None:
    gen = torch.Generator().manual_seed(3)
    p = torch.randn(50_000, generator=gen)
    bound = 3.0
    inside = p.abs() <= bound
    errors = []
    for bits in (2, 3, 4, 5, 6, 8, 10):
        q = ni.adc(p, bits, bound)
        assert len(torch.unique(q)) <= 2**bits
        step = bound / (2 ** (bits - 1) - 1)
        assert float((q - p)[inside].abs().max()) <= step / 2 + 1e-5
        errors.append(float((q - p)[inside].pow(2).mean()))
    assert all(a > b for a, b in zip(errors, errors[1:]))
    # roughly the uniform-quantiser law step^2 / 12 at fine resolution
    step8 = bound / 127
    assert errors[5] == pytest.approx(step8**2 / 12, rel=0.1)


def test_adc_saturates_at_its_range() -> None:
    q = ni.adc(torch.tensor([-10.0, 10.0, 0.0]), 6, 2.0)
    assert q.tolist() == pytest.approx([-2.0, 2.0, 0.0])


def test_ir_drop_attenuates_large_partial_sums_more() -> None:
    bound = 4.0
    p = torch.tensor([-4.0, -2.0, -0.5, -0.01, 0.01, 0.5, 2.0, 4.0])
    out = ni.ir_drop(p, bound, 0.2)
    assert torch.all(torch.sign(out) == torch.sign(p))  # attenuation, never a sign flip
    assert torch.all(out.abs() <= p.abs())
    rel = 1.0 - out.abs() / p.abs()
    pos = p > 0
    rels = rel[pos]
    assert torch.all(rels[1:] > rels[:-1])  # monotone in |p|
    assert float(rel[-1]) == pytest.approx(0.2)  # full-scale current loses `strength`
    assert float(rel[4]) < 1e-2
    assert torch.allclose(rel[:4].flip(0), rel[4:])  # symmetric in the sign
    # stronger IR drop, more attenuation; zero strength is the identity
    assert torch.all(ni.ir_drop(p, bound, 0.4).abs() <= out.abs())
    assert torch.equal(ni.ir_drop(p, bound, 0.0), p)


def test_generator_is_deterministic() -> None:
    a = torch.randn(5, generator=ni.generator(42))
    b = torch.randn(5, generator=ni.generator(42))
    c = torch.randn(5, generator=ni.generator(43))
    assert torch.equal(a, b) and not torch.equal(a, c)
