"""Accuracy-simulation speed: simulated-inference overhead versus plain torch for ResNet-20 on a batch (the
one-read model on pcm-14nm, and the bit-level datapath on a bit-serial, bit-sliced NeuroSim chip), hardware-
aware training throughput, and the wall time of the quick task (digits, small CNN, HWA training, evaluation at
four drift times with 5 repeats). Prints the figures; run on 2 cores. ``--device cuda`` times the simulation on
a GPU (the same code: every tensor follows the model's device); ``--bit-level-only`` skips the rest."""
from __future__ import annotations

import argparse
import os
import time

import torch
from torch import nn

import imcnas
from imcnas.accuracy import layers as L
from imcnas.accuracy.data import load_dataset
from imcnas.accuracy.train import EvalConfig, TrainConfig, train_and_evaluate
from imcnas.workload.zoo import get_model

BATCH = 128


def _time(fn, repeats: int = 5) -> float:
    fn()  # warm-up
    t = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - t) / repeats


def small_cnn() -> nn.Module:
    """The quick task's network: two convolutions and two linear layers for 8x8 digits."""
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(32 * 16, 64), nn.ReLU(), nn.Linear(64, 10))


def inference_overhead(chip: imcnas.Chip) -> dict[str, float]:
    """Seconds per batch of ResNet-20: plain, simulated (ideal), simulated after programming + drift."""
    model, _ = get_model("resnet20-cifar")
    model.eval()
    x = torch.randn(BATCH, 3, 32, 32)
    net, _ = L.convert(model, chip)
    net.eval()
    L.calibrate(net, [x])
    with torch.no_grad():
        plain = _time(lambda: model(x))
        ideal = _time(lambda: net(x))
        L.program(net, 0)
        L.set_time(net, 86400.0, 0)
        noisy = _time(lambda: net(x))
    return {"plain_s": plain, "ideal_s": ideal, "programmed_s": noisy}


def bit_level_overhead(sets: list[str], device: str = "cpu") -> dict[str, float]:
    """Seconds per batch of ResNet-20 on ``neurosim-rram-22nm`` (8-bit bit-serial inputs, 8 one-bit slices,
    offset weights with a reference column) with ``sets``: plain torch, one read per row group, bit-level on
    ideal cells (packed reads), bit-level after programming (noisy cells: unpacked), and bit-level with the
    opt-in compiled ADC kernel (``IMCNAS_COMPILE=1``, timed after its first, compiling, call)."""
    model, _ = get_model("resnet20-cifar")
    model = model.eval().to(device)
    x = torch.randn(BATCH, 3, 32, 32, device=device)
    chip = imcnas.load_chip("neurosim-rram-22nm", sets)
    out = {}
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    with torch.no_grad():
        out["plain_s"] = _time(lambda: (model(x), sync()), 3)
        for datapath in ("one_read", "bit_level"):
            net, _ = L.convert(model, chip, datapath=datapath)
            L.calibrate(net, [x[:32]])
            net.eval()
            out[f"{datapath}_s"] = _time(lambda: (net(x), sync()), 1)
        os.environ["IMCNAS_COMPILE"] = "1"
        try:
            out["compiled_s"] = _time(lambda: (net(x), sync()), 1)
        finally:
            os.environ.pop("IMCNAS_COMPILE")
        L.program(net, 0)
        out["programmed_s"] = _time(lambda: (net(x), sync()), 1)
    return out


def hwa_throughput(chip: imcnas.Chip, steps: int = 5) -> float:
    """Images per second of hardware-aware training steps on ResNet-20, CIFAR-sized random data."""
    model, _ = get_model("resnet20-cifar")
    net, _ = L.convert(model, chip)
    x, y = torch.randn(BATCH, 3, 32, 32), torch.randint(0, 10, (BATCH,))
    L.calibrate(net, [x])
    L.set_training_noise(net, 0.05, 0.04, 0.05)
    net.train()
    opt = torch.optim.Adam(net.parameters(), 1e-3)

    def step() -> None:
        opt.zero_grad()
        nn.functional.cross_entropy(net(x), y).backward()
        opt.step()

    return BATCH / _time(step, steps)


def quick_task(chip: imcnas.Chip) -> tuple[float, imcnas.accuracy.train.AccuracyResult]:
    """Wall time of the quick task and its result."""
    t = time.perf_counter()
    data = load_dataset("digits")
    torch.manual_seed(0)
    res = train_and_evaluate(small_cnn(), chip, data, TrainConfig(epochs=8, hwa=True), EvalConfig(repeats=5))
    return time.perf_counter() - t, res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cpu", help="cpu or cuda (bit-level timings)")
    ap.add_argument("--bit-level-only", action="store_true", help="only the bit-level overhead")
    a = ap.parse_args()
    torch.set_num_threads(2)
    print(f"bit-level datapath, ResNet-20, batch {BATCH}, neurosim-rram-22nm (8-bit bit-serial inputs, 8 one-bit "
          f"slices, 5-bit ADC), device {a.device}")
    for sets in (["adc.bits=5"], ["adc.bits=5", "crossbar.parallel_rows=128"]):
        o = bit_level_overhead(sets, a.device)
        rows = sets[1].split("=")[1] if len(sets) > 1 else "32"
        ratios = ", ".join(f"{name} {o[key]:6.2f} s ({o[key] / o['plain_s']:.0f}x)" for name, key in
                           (("one read", "one_read_s"), ("bit-level", "bit_level_s"),
                            ("compiled", "compiled_s"), ("programmed", "programmed_s")))
        print(f"  {rows:>3} rows per read: plain {o['plain_s'] * 1e3:6.1f} ms; {ratios}")
    if a.bit_level_only:
        return
    chip = imcnas.load_chip("pcm-14nm")
    o = inference_overhead(chip)
    print(f"ResNet-20, batch {BATCH}, pcm-14nm (256-row reads, 8-bit ADC), {torch.get_num_threads()} threads")
    print(f"  plain torch          {o['plain_s'] * 1e3:8.1f} ms/batch")
    print(f"  simulated, ideal     {o['ideal_s'] * 1e3:8.1f} ms/batch  ratio {o['ideal_s'] / o['plain_s']:.2f}x")
    print(f"  simulated, programmed{o['programmed_s'] * 1e3:8.1f} ms/batch  ratio "
          f"{o['programmed_s'] / o['plain_s']:.2f}x")
    print(f"  HWA training         {hwa_throughput(chip):8.1f} images/s")
    seconds, res = quick_task(chip)
    acc = ", ".join(f"{m:.1f}+-{s:.1f}" for m, s in zip(res.mean, res.std))
    print(f"quick task (digits, small CNN, HWA 8 epochs, 4 times x 5 repeats): {seconds:.1f} s; "
          f"accuracy % at 1 s/1 h/1 d/30 d: {acc}")


if __name__ == "__main__":
    main()
