"""Cost-model speed: network evaluations per second for ResNet-18 and for a BERT-base-sized encoder (sequence
length 128) on one core, one chip at a time and batched over 1,000 chips that differ in crossbar size, ADC bits,
columns per ADC and device (each round of the single-chip loop prices different chips). Prints the best of three
rounds of each, and the BERT-base build and trace time (target: trace + price under 2 s)."""
from __future__ import annotations

import itertools
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import imcnas  # noqa: E402
from imcnas.hardware import estimate, estimate_batch, load_chip  # noqa: E402
from imcnas.hardware.spec import chip_from_dict  # noqa: E402
from imcnas.workload.zoo import get_model  # noqa: E402


def chips(n: int) -> list:
    """n distinct chips: crossbar size x ADC bits x columns per ADC x device."""
    base = load_chip("neurosim-rram-22nm").model_dump(exclude_none=True)
    grid = itertools.product([64, 128, 256, 512], [3, 4, 5, 6, 7, 8], [1, 2, 4, 8, 16, 32, 64],
                             ["rram", "pcm", "fefet", "sram", "mram"], [1, 2])
    out = []
    for size, bits, share, dev, cell_bits in grid:
        if dev in ("sram", "mram") and cell_bits > 1:
            continue
        d = {**base, "name": f"x{size}-a{bits}-c{share}-{dev}-b{cell_bits}",
             "crossbar": {"rows": size, "cols": size}, "adc": {**base["adc"], "bits": bits, "cols_per_adc": share},
             "device": {"type": dev, "bits_per_cell": cell_bits}}
        out.append(chip_from_dict(d))
        if len(out) == n:
            return out
    return out


def _best_rate(step, per_call: int, rounds: int = 3, seconds: float = 1.5) -> float:
    """Evaluations per second of ``step``: the best of a few timed rounds (as timeit does; the machine is shared)."""
    step(0)  # warm up
    best, i = 0.0, 0
    for _ in range(rounds):
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            step(i)
            i += 1
            n += 1
        best = max(best, n * per_call / (time.perf_counter() - t0))
    return best


def speed(name: str, cs: list) -> None:
    """Trace ``name`` once and print its pricing rates."""
    from imcnas.hardware.cost import price
    from imcnas.hardware.params import chip_arrays

    t0 = time.perf_counter()
    model, x = get_model(name)
    t_build = time.perf_counter() - t0
    t0 = time.perf_counter()
    work = imcnas.trace(model, x, name=name)
    t_trace = time.perf_counter() - t0
    t0 = time.perf_counter()
    estimate(work, cs[0])
    t_first = time.perf_counter() - t0
    arrays = chip_arrays(cs)
    single = _best_rate(lambda i: estimate(work, cs[i % len(cs)]), 1)
    batched = _best_rate(lambda i: estimate_batch(work, cs), len(cs))
    pre = _best_rate(lambda i: price(work, arrays), len(cs))
    print(f"{name}: {len(work.matrix_ops)} crossbar layers, {work.macs / 1e9:.3f} GMACs; build {t_build:.2f} s, "
          f"trace {t_trace:.2f} s, first price {t_first:.2f} s")
    print(f"  one chip at a time (estimate -> CostReport):      {single:10,.0f} evaluations/s  (target >= 500)")
    print(f"  batched over {len(cs)} chips (estimate_batch):       {batched:10,.0f} evaluations/s  (target >= 10,000)")
    print(f"  batched, chip arrays prepared once (price):      {pre:10,.0f} evaluations/s")


def main() -> None:
    cs = chips(1000)
    for name in ("resnet18", "bert-base"):
        speed(name, cs)


if __name__ == "__main__":
    main()
