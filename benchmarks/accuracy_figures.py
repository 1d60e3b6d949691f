"""Accuracy over drift time on digits: plain vs hardware-aware training on PCM at 8- and 4-bit weights, and
versus ADC bits 4/6/8. Writes docs/accuracy.md (tables) and docs/figures/accuracy_drift.png (plot).

Nothing here asserts the expected shape: the numbers are whatever the simulation produces. Each point is the
mean over ``SEEDS`` training seeds of the Monte-Carlo mean over 5 programming repeats; the +- is the standard
deviation over all (seed, repeat) pairs.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import torch

import imcnas
from imcnas.accuracy.data import load_dataset
from imcnas.accuracy.train import EvalConfig, TrainConfig, train_and_evaluate

sys.path.insert(0, str(Path(__file__).parent))
from accuracy_speed import small_cnn  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SEEDS = (0, 1, 2)
EPOCHS = 8
TIMES = ("1 s", "1 h", "1 day", "30 days")


def run(chip: imcnas.Chip, hwa: bool) -> tuple[np.ndarray, np.ndarray, float]:
    """(mean per time, std per time, digital accuracy) over training seeds x programming repeats."""
    data = load_dataset("digits")
    samples, digital = [], []
    for seed in SEEDS:
        torch.manual_seed(seed)
        res = train_and_evaluate(small_cnn(), chip, data, TrainConfig(epochs=EPOCHS, hwa=hwa, seed=seed),
                                 EvalConfig(repeats=5, seed=seed))
        if not res.ok:
            raise SystemExit(f"run failed: {res.reason}")
        samples.append(np.array(res.samples))  # [time][repeat]
        digital.append(res.digital)
    allv = np.concatenate(samples, axis=1)
    return allv.mean(1), allv.std(1, ddof=1), float(np.mean(digital))


def table(rows: list[tuple[str, np.ndarray, np.ndarray, float]]) -> str:
    """Markdown table: one row per configuration."""
    head = "| configuration | digital | " + " | ".join(TIMES) + " |\n|---|---:|" + "---:|" * len(TIMES) + "\n"
    body = "".join(f"| {name} | {dig:.1f} | " + " | ".join(f"{m:.1f} +- {s:.1f}" for m, s in zip(mu, sd)) + " |\n"
                   for name, mu, sd, dig in rows)
    return head + body


def plot(groups: dict[str, list[tuple[str, np.ndarray, np.ndarray, float]]], path: Path) -> None:
    """Two panels: weight bits x training, and ADC bits."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(groups), figsize=(5.5 * len(groups), 4), sharey=True)
    x = np.arange(len(TIMES))
    for ax, (title, rows) in zip(axes, groups.items()):
        for name, mu, sd, _ in rows:
            ax.errorbar(x, mu, yerr=sd, marker="o", capsize=3, label=name)
        ax.set_xticks(x, TIMES)
        ax.set_title(title)
        ax.set_xlabel("time after programming")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    axes[0].set_ylabel("test accuracy (%)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def main() -> None:
    torch.set_num_threads(2)
    start = time.perf_counter()
    weight_rows = []
    for bits in (8, 4):
        chip = imcnas.load_chip("pcm-14nm", [f"weights.bits={bits}"])
        for hwa in (False, True):
            weight_rows.append((f"PCM {bits}-bit weights, {'HWA' if hwa else 'plain'} training", *run(chip, hwa)))
    adc_rows = []
    for adc in (8, 6, 4):
        chip = imcnas.load_chip("pcm-14nm", [f"adc.bits={adc}"])
        for hwa in (False, True):
            adc_rows.append((f"PCM 8-bit weights, {adc}-bit ADC, {'HWA' if hwa else 'plain'}", *run(chip, hwa)))
    seconds = time.perf_counter() - start
    plot({"weight bits and training": weight_rows, "ADC resolution": adc_rows},
         ROOT / "docs" / "figures" / "accuracy_drift.png")
    doc = ROOT / "docs" / "accuracy.md"
    text = doc.read_text() if doc.exists() else ""
    marker = "<!-- figures -->"
    head = text.split(marker)[0] if marker in text else text
    figures = (f"{marker}\n## Figures (written by `benchmarks/accuracy_figures.py`)\n\n"
               f"digits, small CNN (2 conv + 2 linear), {EPOCHS} epochs, training seeds {list(SEEDS)}, "
               "5 programming repeats each; chip `pcm-14nm` (256-row reads, differential pairs, 8-bit inputs "
               "and ADC unless stated). Accuracy in % (mean +- std over seeds x repeats). "
               f"Run time: {seconds:.0f} s.\n\n"
               "### Weight bits, plain vs hardware-aware training\n\n" + table(weight_rows) +
               "\n### ADC resolution\n\n" + table(adc_rows) +
               "\n![accuracy over drift time](figures/accuracy_drift.png)\n")
    doc.write_text(head.rstrip() + "\n\n" + figures)
    print(figures)


if __name__ == "__main__":
    main()
