"""Training (plain and hardware-aware), drift-time Monte-Carlo evaluation, and bad input: failures come back as
failed results (never exceptions), user errors as one-line ConfigErrors."""
from __future__ import annotations

import importlib
import math

import numpy as np
import pytest
import torch
from pydantic import ValidationError
from torch import nn

from imcnas import load_chip
from imcnas.accuracy.data import Dataset, load_dataset
from imcnas.errors import ConfigError
from imcnas.hardware import Chip

# the package re-exports functions named like its modules (``train``): import the modules themselves
L = importlib.import_module("imcnas.accuracy.layers")
T = importlib.import_module("imcnas.accuracy.train")


def _mlp(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))


class _NaNNet(nn.Module):
    """Right shapes, but every output is NaN."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.flatten(1)) * float("nan")


def _state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


FAST_EVAL = T.EvalConfig(times_s=[1.0, 86400.0], repeats=2)


@pytest.fixture(scope="module")
def digits() -> Dataset:
    return load_dataset("digits")


@pytest.fixture(scope="module")
def pcm() -> Chip:
    return load_chip("pcm-14nm")


@pytest.fixture(scope="module")
def trained(digits: Dataset) -> T.TrainResult:
    return T.train(_mlp(), digits, T.TrainConfig(epochs=5, seed=0, device="cpu"))


@pytest.fixture(scope="module")
def evaluated(trained: T.TrainResult, pcm: Chip, digits: Dataset) -> T.AccuracyResult:
    return T.evaluate(trained.model, pcm, digits, T.EvalConfig(repeats=3, seed=0, device="cpu"))


# ------------------------------------------------------------------------------------------------- train
def test_plain_training_learns_digits(trained: T.TrainResult, digits: Dataset) -> None:
    assert trained.ok and trained.reason == ""
    assert len(trained.losses) == 5
    assert trained.losses[-1] < 0.5 * trained.losses[0]
    assert trained.seconds > 0 and trained.samples_per_s > 0
    assert not any(True for _ in L.imc_layers(trained.model))  # plain training: no simulated layers
    assert T.accuracy(trained.model, digits, "test") > 85.0
    assert not trained.model.training


def test_training_works_on_a_copy_and_is_seeded(digits: Dataset) -> None:
    model = _mlp()
    before = _state(model)
    cfg = T.TrainConfig(epochs=1, seed=3, device="cpu")
    a = T.train(model, digits, cfg)
    b = T.train(model, digits, cfg)
    c = T.train(model, digits, cfg.model_copy(update={"seed": 4}))
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())
    sa, sb, sc = _state(a.model), _state(b.model), _state(c.model)
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert a.losses == b.losses
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)


@pytest.mark.parametrize("opt", ["sgd", "adamw"])
def test_optimisers(opt: str, digits: Dataset) -> None:
    res = T.train(_mlp(), digits, T.TrainConfig(epochs=2, optimizer=opt, lr=0.05 if opt == "sgd" else 3e-3,
                                                weight_decay=1e-4, device="cpu"))
    assert res.ok and res.losses[1] < res.losses[0]


def test_zero_epochs_returns_the_untrained_copy(digits: Dataset) -> None:
    model = _mlp()
    res = T.train(model, digits, T.TrainConfig(epochs=0, device="cpu"))
    assert res.ok and res.losses == []
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in _state(res.model).items())


def test_hwa_training_returns_a_converted_calibrated_model(digits: Dataset, pcm: Chip) -> None:
    model = _mlp()
    res = T.train(model, digits, T.TrainConfig(epochs=3, hwa=True, seed=0, device="cpu"), chip=pcm,
                  layer_bits={"3": {"adc": 6}})
    assert res.ok, res.reason
    assert isinstance(model[1], nn.Linear) and not isinstance(model[1], L.IMCLayer)  # the original is untouched
    sims = dict(L.imc_layers(res.model))
    assert list(sims) == ["1", "3"]
    assert sims["3"].cfg.adc_bits == 6 and sims["1"].cfg.adc_bits == pcm.adc.bits
    for m in sims.values():
        assert float(m.in_bound) > 0 and float(m.adc_bound) > 0
        assert m.train_noise == (0.0, 0.0) and not m.observe  # training noise is off afterwards
    assert res.losses[-1] < res.losses[0]
    assert T.accuracy(res.model, digits) > 75.0
    # evaluating the HWA model uses its simulated layers as they are (no re-conversion)
    ev = T.evaluate(res.model, pcm, digits, FAST_EVAL)
    assert ev.ok and ev.mean[0] > 60.0
    assert dict(L.imc_layers(res.model)).keys() == sims.keys()


# ---------------------------------------------------------------------------------------------- evaluate
def test_evaluate_reports_times_mean_and_std(evaluated: T.AccuracyResult, trained: T.TrainResult,
                                             digits: Dataset) -> None:
    res = evaluated
    assert res.ok and res.reason == ""
    assert res.times_s == [1.0, 3600.0, 86400.0, 30 * 86400.0]  # default: 1 s, 1 h, 1 day, 30 days
    assert len(res.mean) == len(res.std) == len(res.samples) == 4
    assert all(len(s) == 3 for s in res.samples)
    for s, m, sd in zip(res.samples, res.mean, res.std):
        assert m == pytest.approx(float(np.mean(s)))
        assert sd == pytest.approx(float(np.std(s, ddof=1)))
        assert all(0.0 <= v <= 100.0 for v in s)
    assert any(sd > 0 for sd in res.std)  # PCM noise: the repeats differ
    assert res.digital == pytest.approx(T.accuracy(trained.model, digits))
    assert abs(res.ideal - res.digital) < 5.0
    assert res.mean[0] > 80.0
    d = res.to_dict()
    assert d["times_s"] == res.times_s and d["ok"] is True and "samples" not in d


def test_evaluate_is_deterministic_given_a_seed(evaluated: T.AccuracyResult, trained: T.TrainResult,
                                                pcm: Chip, digits: Dataset) -> None:
    again = T.evaluate(trained.model, pcm, digits, T.EvalConfig(repeats=3, seed=0, device="cpu"))
    assert again.samples == evaluated.samples
    assert again.mean == evaluated.mean and again.std == evaluated.std
    other = T.evaluate(trained.model, pcm, digits, T.EvalConfig(repeats=3, seed=1, device="cpu"))
    assert other.samples != evaluated.samples
    # evaluating a plain model does not convert it
    assert not any(True for _ in L.imc_layers(trained.model))


def test_evaluate_on_a_noiseless_chip_has_no_spread(trained: T.TrainResult, digits: Dataset) -> None:
    sram = load_chip("neurosim-sram-22nm")
    res = T.evaluate(trained.model, sram, digits, T.EvalConfig(times_s=[1.0, 1e6], repeats=2))
    assert res.ok
    assert res.std == [0.0, 0.0]
    assert res.mean == [res.ideal, res.ideal]


def test_programming_noise_repeats_follow_the_seed(trained: T.TrainResult, digits: Dataset) -> None:
    # programming noise only (no drift, no read noise): the spread comes from the programming repeats
    chip = load_chip("neurosim-rram-22nm", ["device.noise.prog_sigma=0.15", "device.noise.read_sigma=0",
                                            "device.noise.drift_nu=0", "device.noise.drift_nu_std=0"])
    cfg = T.EvalConfig(times_s=[1.0], repeats=3, seed=0)
    a = T.evaluate(trained.model, chip, digits, cfg)
    b = T.evaluate(trained.model, chip, digits, cfg.model_copy(update={"seed": 1}))
    assert a.ok and a.std[0] > 0
    assert a.samples != b.samples


def test_accuracy_at_time_with_k_sigma(evaluated: T.AccuracyResult) -> None:
    res = evaluated
    assert res.at(3600.0) == res.mean[1]
    assert res.at(86400.0, k_sigma=2.0) == pytest.approx(res.mean[2] - 2.0 * res.std[2])
    assert res.at(30 * 86400.0, 1.0) <= res.at(30 * 86400.0)
    with pytest.raises(ConfigError) as err:
        res.at(5.0)
    assert "\n" not in str(err.value)
    failed = T.AccuracyResult(ok=False, reason="x", times_s=[1.0], mean=[50.0], std=[1.0])
    assert math.isnan(failed.at(1.0))


# ----------------------------------------------------------------------------------- numerical failures
def test_diverging_training_is_a_failed_result(digits: Dataset) -> None:
    res = T.train(_mlp(), digits, T.TrainConfig(epochs=2, lr=1e6, optimizer="sgd", device="cpu"))
    assert not res.ok and res.reason
    assert "\n" not in res.reason
    # a loss above max_loss counts as diverged
    res = T.train(_mlp(), digits, T.TrainConfig(epochs=1, max_loss=0.1, device="cpu"))
    assert not res.ok and "diverged" in res.reason


def test_nan_loss_is_a_failed_result_not_an_exception(digits: Dataset, pcm: Chip) -> None:
    res = T.train(_NaNNet(), digits, T.TrainConfig(epochs=1, device="cpu"))
    assert not res.ok and "nan" in res.reason.lower()
    hwa = T.train(_NaNNet(), digits, T.TrainConfig(epochs=1, hwa=True, device="cpu"), chip=pcm)
    assert not hwa.ok and "nan" in hwa.reason.lower()
    full = T.train_and_evaluate(_NaNNet(), pcm, digits, T.TrainConfig(epochs=1, device="cpu"), FAST_EVAL)
    assert not full.ok and full.reason
    assert math.isnan(full.at(1.0))
    full_hwa = T.train_and_evaluate(_NaNNet(), pcm, digits, T.TrainConfig(epochs=1, hwa=True, device="cpu"),
                                    FAST_EVAL)
    assert not full_hwa.ok and full_hwa.reason


def test_evaluate_of_a_nan_network_is_a_failed_result(digits: Dataset, pcm: Chip) -> None:
    res = T.evaluate(_NaNNet(), pcm, digits, FAST_EVAL)
    assert not res.ok and res.reason


def test_train_and_evaluate_end_to_end(digits: Dataset, pcm: Chip) -> None:
    res = T.train_and_evaluate(_mlp(), pcm, digits, T.TrainConfig(epochs=2, device="cpu"), FAST_EVAL)
    assert res.ok
    assert res.times_s == [1.0, 86400.0] and len(res.mean) == 2
    assert res.info["hwa"] is False and res.info["train_seconds"] > 0
    assert math.isfinite(res.info["final_loss"])


# ------------------------------------------------------------------------------------------ user errors
def _one_line(err: pytest.ExceptionInfo) -> str:
    msg = str(err.value)
    assert msg and "\n" not in msg
    return msg


def test_wrong_input_shape_is_a_one_line_config_error(digits: Dataset, pcm: Chip) -> None:
    bad = nn.Sequential(nn.Flatten(), nn.Linear(10, 10))
    with pytest.raises(ConfigError) as err:
        T.train(bad, digits, T.TrainConfig(epochs=1, device="cpu"))
    assert "digits" in _one_line(err)
    with pytest.raises(ConfigError) as err:
        T.evaluate(bad, pcm, digits, FAST_EVAL)
    _one_line(err)
    conv = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.LazyLinear(10))
    with pytest.raises(ConfigError) as err:
        T.train(conv, digits, T.TrainConfig(epochs=1, device="cpu"))
    _one_line(err)


def test_shape_mismatch_raising_value_error_is_a_config_error(digits: Dataset) -> None:
    bad = nn.Sequential(nn.BatchNorm1d(64), nn.Linear(64, 10))  # forgets to flatten the 1x8x8 images
    with pytest.raises(ConfigError) as err:
        T.train(bad, digits, T.TrainConfig(epochs=1, device="cpu"))
    _one_line(err)


def test_wrong_number_of_classes_is_a_config_error(digits: Dataset) -> None:
    with pytest.raises(ConfigError) as err:
        T.train(nn.Sequential(nn.Flatten(), nn.Linear(64, 3)), digits, T.TrainConfig(epochs=1, device="cpu"))
    assert "10" in _one_line(err)


def test_hwa_without_a_chip_is_a_config_error(digits: Dataset) -> None:
    with pytest.raises(ConfigError) as err:
        T.train(_mlp(), digits, T.TrainConfig(epochs=1, hwa=True, device="cpu"))
    _one_line(err)


def test_bad_device_name_is_a_config_error(digits: Dataset, pcm: Chip) -> None:
    with pytest.raises(ConfigError) as err:
        T.train(_mlp(), digits, T.TrainConfig(epochs=1, device="warp-drive"))
    assert "warp-drive" in _one_line(err)
    with pytest.raises(ConfigError) as err:
        T.evaluate(_mlp(), pcm, digits, T.EvalConfig(device="warp-drive"))
    _one_line(err)
    assert T.resolve_device("cpu") == torch.device("cpu")
    assert T.resolve_device("auto").type in ("cpu", "cuda")


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA present")
def test_cuda_without_cuda_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as err:
        T.resolve_device("cuda:0")
    assert "CUDA" in _one_line(err)


@pytest.mark.parametrize("cls", [T.TrainConfig, T.EvalConfig])
def test_unknown_config_field_is_a_validation_error(cls: type) -> None:
    with pytest.raises(ValidationError):
        cls(epochz=3)
    with pytest.raises(ValidationError):
        cls.model_validate({"seed": 0, "bogus": True})


def test_config_ranges_are_validated() -> None:
    with pytest.raises(ValidationError):
        T.TrainConfig(optimizer="lbfgs")
    with pytest.raises(ValidationError):
        T.TrainConfig(lr=0)
    with pytest.raises(ValidationError):
        T.EvalConfig(repeats=0)
    assert T.EvalConfig().times_s == [1.0, 3600.0, 86400.0, 2592000.0]
