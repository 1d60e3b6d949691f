"""Accuracy against ADC bits and parallel rows on ``neurosim-sram-22nm``: one-read vs bit-level datapath, plain
vs hardware-aware training. Prints the figures; ``--write`` puts the tables into docs/accuracy.md (section
"Accuracy against ADC bits and parallel rows", between its ``adc_accuracy`` markers).

The chip: 8-bit weights on eight 1-bit SRAM cells (offset scheme, reference column), 8-bit bit-serial inputs,
no device noise, so only the ADC differs from the float network. For every dataset, ADC bits and
``crossbar.parallel_rows``, test accuracy (%) of:

- ``plain 1R``: the float-trained network evaluated with the one-read datapath (slices recombined before the ADC,
  the whole input in one read: one conversion per row group);
- ``plain BL``: the same network evaluated bit-level (every input plane x weight slice x row group through the
  ADC, as the chip computes);
- ``HWA 1R``: hardware-aware fine-tuning with the one-read datapath, evaluated one-read;
- ``HWA BL``: hardware-aware fine-tuning with the bit-level datapath's surrogate (``datapath="auto"``: one-read
  forward plus calibrated gaussian noise), evaluated bit-level;
- ``HWA 1R->BL`` (a second table): the ``HWA 1R`` network recalibrated and evaluated bit-level, i.e. trained for
  the one-read model but deployed on the bit-level chip.

Hardware-aware training starts from the plain network's weights (fine-tuning, the same start for both
datapaths). The surrogate comparison puts the ``HWA BL`` networks of a few chips through the surrogate forward
(simulated layers in train mode, no training noise, batch norm in eval mode) and lists the per-layer
``bit_sigma``. SRAM has no device noise, so one programming repeat is exact; everything is seeded.

    .venv/bin/python benchmarks/adc_accuracy.py --quick
    .venv/bin/python benchmarks/adc_accuracy.py --write --json /tmp/adc_accuracy.json
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import re
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from imcnas.accuracy.convert import imc_layers, set_child, set_training_noise, simulated_modules
from imcnas.accuracy.data import load_dataset
from imcnas.accuracy.train import EvalConfig, TrainConfig, evaluate, train
from imcnas.hardware import load_chip
from imcnas.space.families import build_model

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "accuracy.md"
SECTION = "### Accuracy against ADC bits and parallel rows"
PARENT = "## Bit-level ADC"
BEGIN, END = "<!-- adc_accuracy:begin -->", "<!-- adc_accuracy:end -->"

PRESET = "neurosim-sram-22nm"
DATASETS = ("digits", "mnist1d")
ADC_BITS = (3, 4, 5, 6, 7, 8)
ROWS = (32, 64, 128)
ARCH = {"arch.width": 8, "arch.fc": 32}  # cnn family, other keys at their defaults (2 convs 8->16, k 3, pool)
SEED = 0
PLAIN_EPOCHS = {"digits": 20, "mnist1d": 30}
HWA_EPOCHS = 5
HWA_LR = 1e-3
SURROGATE_CHIPS = ((32, 3), (32, 4), (32, 5), (128, 3), (128, 5), (128, 7))  # (rows, ADC bits)
SURROGATE_DRAWS = 5
QUICK = {"bits": (3, 5, 8), "rows": (32,), "plain": {"digits": 5, "mnist1d": 5}, "hwa": 1,
         "surrogate": ((32, 3),)}
COLUMNS = ("plain 1R", "plain BL", "HWA 1R", "HWA BL")


def chip_for(rows: int, bits: int) -> Any:
    """The preset with ``adc.bits`` and ``crossbar.parallel_rows`` set (rows never above crossbar.rows)."""
    sets = [f"adc.bits={bits}", f"crossbar.parallel_rows={rows}"]
    if rows > 128:
        sets.append(f"crossbar.rows={rows}")
    return load_chip(PRESET, sets)


def eval_cfg(datapath: str) -> EvalConfig:
    """SRAM has no device noise: one programming repeat at one time is exact."""
    return EvalConfig(times_s=[1.0], repeats=1, seed=SEED, datapath=datapath)


def unwrap(net: nn.Module) -> nn.Module:
    """The float network inside a converted one (a copy; the simulated layers replaced by their ``base``)."""
    plain = copy.deepcopy(net)
    for name, m in list(simulated_modules(plain)):
        if not name:
            return m.base
        set_child(plain, name, m.base)
    return plain


@torch.no_grad()
def surrogate_accuracy(net: nn.Module, data: Any, draws: int) -> tuple[list[float], float]:
    """Test accuracy (%) of the training surrogate: one-read forward plus ``bit_sigma x adc_bound`` gaussian noise
    (simulated layers in train mode, no weight/output training noise, range tracking off, the rest in eval mode),
    one value per noise draw; and the noiseless one-read accuracy of the same network (bit_sigma zeroed)."""
    set_training_noise(net, 0.0, 0.0, 0.0)
    net.eval()
    layers = [m for _, m in imc_layers(net)]
    for m in layers:
        m.train()
    x, y = data.test.tensors

    def acc() -> float:
        correct = 0
        for i in range(0, len(x), 256):
            correct += int((net(x[i:i + 256]).argmax(1) == y[i:i + 256]).sum())
        return 100.0 * correct / len(x)

    try:
        out = []
        for k in range(draws):
            torch.manual_seed(SEED * 1000 + k)
            out.append(acc())
        saved = [m.bit_sigma.clone() for m in layers]
        for m in layers:
            m.bit_sigma.zero_()
        clean = acc()
        for m, s in zip(layers, saved):
            m.bit_sigma.copy_(s)
    finally:
        net.eval()
    return out, clean


def run_dataset(name: str, bits_list: tuple[int, ...], rows_list: tuple[int, ...], plain_epochs: int,
                hwa_epochs: int, surrogate: tuple[tuple[int, int], ...]) -> dict[str, Any]:
    """Every figure of one dataset (see the module docstring)."""
    data = load_dataset(name)
    torch.manual_seed(SEED)
    model = build_model("cnn", ARCH, data.input_shape, data.num_classes)
    t0 = time.perf_counter()
    plain = train(model, data, TrainConfig(epochs=plain_epochs, seed=SEED))
    if not plain.ok:
        raise SystemExit(f"{name}: plain training failed: {plain.reason}")
    out: dict[str, Any] = {"dataset": name, "input_shape": list(data.input_shape), "sizes": data.sizes,
                           "params": sum(p.numel() for p in model.parameters()), "plain_epochs": plain_epochs,
                           "hwa_epochs": hwa_epochs, "plain_train_s": time.perf_counter() - t0, "cells": {},
                           "surrogate": {}}
    print(f"{name}: {out['params']} parameters, plain training {plain_epochs} epochs in "
          f"{out['plain_train_s']:.1f} s, final loss {plain.losses[-1]:.4f}", flush=True)
    for rows in rows_list:
        for bits in bits_list:
            t = time.perf_counter()
            chip = chip_for(rows, bits)
            cell: dict[str, Any] = {}
            r = evaluate(plain.model, chip, data, eval_cfg("one_read"))
            out["digital"] = r.digital
            cell["plain 1R"] = r.mean[0]
            cell["plain BL"] = evaluate(plain.model, chip, data, eval_cfg("bit_level")).mean[0]
            hwa = {}
            for dp in ("one_read", "auto"):
                tr = train(plain.model, data, TrainConfig(epochs=hwa_epochs, lr=HWA_LR, seed=SEED, hwa=True,
                                                          datapath=dp), chip)
                if not tr.ok:
                    raise SystemExit(f"{name} rows {rows} ADC {bits}: HWA ({dp}) failed: {tr.reason}")
                res = evaluate(tr.model, chip, data, eval_cfg(dp))
                key = "HWA 1R" if dp == "one_read" else "HWA BL"
                cell[key], cell[key + " digital"] = res.mean[0], res.digital
                hwa[dp] = tr.model
            cell["HWA 1R->BL"] = evaluate(unwrap(hwa["one_read"]), chip, data, eval_cfg("bit_level")).mean[0]
            cell["bit_sigma"] = [float(m.bit_sigma) for _, m in imc_layers(hwa["auto"])]
            if (rows, bits) in surrogate:
                draws, clean = surrogate_accuracy(hwa["auto"], data, SURROGATE_DRAWS)
                out["surrogate"][f"{rows}/{bits}"] = {
                    "rows": rows, "bits": bits, "bit_level": cell["HWA BL"], "surrogate": float(np.mean(draws)),
                    "surrogate_std": float(np.std(draws, ddof=1)) if len(draws) > 1 else 0.0,
                    "one_read": clean, "bit_sigma": cell["bit_sigma"],
                    "layers": [n for n, _ in imc_layers(hwa["auto"])]}
            cell["seconds"] = time.perf_counter() - t
            out["cells"][f"{rows}/{bits}"] = cell
            print(f"  rows {rows:3d} ADC {bits}: " + "  ".join(f"{k} {cell[k]:5.1f}" for k in
                  (*COLUMNS, "HWA 1R->BL")) + f"  ({cell['seconds']:.1f} s)", flush=True)
    out["seconds"] = time.perf_counter() - t0
    return out


def fmt(v: float) -> str:
    return f"{v:.1f}"


def tables(res: dict[str, Any], bits_list: tuple[int, ...], rows_list: tuple[int, ...]) -> tuple[str, str]:
    """Markdown: the main table (rows = ADC bits, columns = parallel rows x {plain 1R, plain BL, HWA 1R, HWA BL})
    and the deployment table (HWA trained one-read, evaluated bit-level)."""
    cells = res["cells"]
    head = "| ADC bits | " + " | ".join(f"{r} rows: {c}" for r in rows_list for c in COLUMNS) + " |\n"
    head += "|---:|" + "---:|" * (len(rows_list) * len(COLUMNS)) + "\n"
    body = "".join(f"| {b} | " + " | ".join(fmt(cells[f"{r}/{b}"][c]) for r in rows_list for c in COLUMNS) + " |\n"
                   for b in bits_list)
    dep = "| ADC bits | " + " | ".join(f"{r} rows: HWA 1R | {r} rows: HWA 1R->BL | {r} rows: HWA BL"
                                       for r in rows_list) + " |\n"
    dep += "|---:|" + "---:|" * (3 * len(rows_list)) + "\n"
    dep += "".join(f"| {b} | " + " | ".join(" | ".join(fmt(cells[f"{r}/{b}"][c]) for c in
                                                       ("HWA 1R", "HWA 1R->BL", "HWA BL")) for r in rows_list)
                   + " |\n" for b in bits_list)
    return head + body, dep


def surrogate_table(results: list[dict[str, Any]]) -> str:
    """Markdown: bit-level vs surrogate vs noiseless one-read accuracy of the HWA BL networks, and bit_sigma."""
    head = ("| dataset | rows | ADC bits | bit-level | surrogate (mean +- std) | one-read, no noise | "
            "bit_sigma per layer |\n|---|---:|---:|---:|---:|---:|---|\n")
    body = ""
    for res in results:
        for s in res["surrogate"].values():
            sig = ", ".join(f"{v:.3f}" for v in s["bit_sigma"])
            body += (f"| {res['dataset']} | {s['rows']} | {s['bits']} | {s['bit_level']:.1f} | "
                     f"{s['surrogate']:.1f} +- {s['surrogate_std']:.1f} | {s['one_read']:.1f} | {sig} |\n")
    return head + body


def report(results: list[dict[str, Any]], meta: dict[str, Any], bits_list: tuple[int, ...],
           rows_list: tuple[int, ...]) -> str:
    """The generated part of the docs section."""
    plain_epochs = ", ".join(f"{r['dataset']} {r['plain_epochs']}" for r in results)
    txt = (f"`benchmarks/adc_accuracy.py{' --quick' if meta['quick'] else ''}`: chip `{PRESET}` with `adc.bits` and "
           f"`crossbar.parallel_rows` set (uniform ADC levels, calibrated range). Network: the `cnn` family with "
           f"{json.dumps(ARCH)} (2 convs 8->16 channels, kernel 3, max-pool, 2 linear layers), seed {SEED} "
           f"everywhere. Plain training: {plain_epochs} "
           f"epochs (Adam, lr 3e-3). Hardware-aware training: fine-tuning of the plain network, "
           f"{meta['hwa_epochs']} epochs, lr {HWA_LR:g}, default HWA noise (weights 5 %, outputs 4 %). "
           f"Test accuracy in %. Run time {meta['seconds']:.0f} s on {os.cpu_count()} CPU cores, "
           f"{meta['threads']} torch thread(s) "
           f"(load average {meta['load_before']} before, {meta['load_after']} after).\n\n"
           "Columns: `1R` one-read datapath, `BL` bit-level datapath; `plain` float training, `HWA` hardware-aware "
           "(`HWA 1R` trained and evaluated one-read, `HWA BL` trained with the surrogate and evaluated bit-level, "
           "`HWA 1R->BL` trained one-read and evaluated bit-level).\n\n")
    for res in results:
        main, dep = tables(res, bits_list, rows_list)
        hwa_dig = [c[k] for c in res["cells"].values() for k in ("HWA 1R digital", "HWA BL digital")]
        txt += (f"**{res['dataset']}** (input {tuple(res['input_shape'])}, {res['params']} parameters, test set "
                f"{res['sizes']['test']}; float accuracy {res['digital']:.1f} %, HWA networks in float "
                f"{min(hwa_dig):.1f} to {max(hwa_dig):.1f} %):\n\n" + main + "\nTrained one-read, deployed "
                "bit-level:\n\n" + dep + "\n")
    txt += (f"Surrogate against the bit-level datapath ({SURROGATE_DRAWS} noise draws; the `HWA BL` networks; "
            "bit_sigma = std(bit-level - one-read output) / ADC range, per simulated layer in order):\n\n"
            + surrogate_table(results))
    return txt


def write_doc(generated: str) -> None:
    """Put ``generated`` between the markers of the section; create the section at the end of "Bit-level ADC"
    (or of the file) when it is missing. Text of the section outside the markers is kept."""
    text = DOC.read_text() if DOC.exists() else ""
    block = f"{BEGIN}\n{generated.rstrip()}\n{END}"
    if BEGIN in text and END in text:
        pre, rest = text.split(BEGIN, 1)
        text = pre + block + rest.split(END, 1)[1]
    else:
        section = f"{SECTION}\n\n{block}\n"
        lines = text.splitlines(keepends=True)
        start = next((i for i, ln in enumerate(lines) if ln.startswith(PARENT)), None)
        if start is None:
            text = text.rstrip() + "\n\n" + section
        else:
            end = next((i for i in range(start + 1, len(lines)) if re.match(r"##? ", lines[i])), len(lines))
            body = "".join(lines[:end]).rstrip() + "\n\n" + section
            text = body + ("\n" + "".join(lines[end:]) if end < len(lines) else "")
    DOC.write_text(text)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="ADC bits 3/5/8, 32 rows, 5 plain and 1 HWA epoch")
    ap.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    ap.add_argument("--write", action="store_true", help="write the tables into docs/accuracy.md")
    ap.add_argument("--json", type=Path, help="save every figure as JSON here")
    ap.add_argument("--from-json", type=Path, help="no run: print (and --write) the tables of a saved --json")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1: on a shared 2-core machine "
                    "two threads ran 5 to 20 times slower than one)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.from_json:
        saved = json.loads(args.from_json.read_text())
        meta, results = saved["meta"], saved["results"]
        bits_list, rows_list = tuple(meta.get("bits", ADC_BITS)), tuple(meta.get("rows", ROWS))
        generated = report(results, meta, bits_list, rows_list)
        print(generated)
        if args.write:
            write_doc(generated)
            print(f"wrote {DOC}")
        return
    bits_list, rows_list = (QUICK["bits"], QUICK["rows"]) if args.quick else (ADC_BITS, ROWS)
    hwa_epochs = QUICK["hwa"] if args.quick else HWA_EPOCHS
    surrogate = QUICK["surrogate"] if args.quick else SURROGATE_CHIPS
    meta: dict[str, Any] = {"quick": args.quick, "hwa_epochs": hwa_epochs, "threads": args.threads,
                            "bits": list(bits_list), "rows": list(rows_list),
                            "load_before": " ".join(f"{v:.1f}" for v in os.getloadavg())}
    start = time.perf_counter()
    results = []
    for name in args.datasets:
        epochs = (QUICK["plain"] if args.quick else PLAIN_EPOCHS)[name]
        results.append(run_dataset(name, bits_list, rows_list, epochs, hwa_epochs, surrogate))
    meta["seconds"] = time.perf_counter() - start
    meta["load_after"] = " ".join(f"{v:.1f}" for v in os.getloadavg())
    generated = report(results, meta, bits_list, rows_list)
    print("\n" + generated)
    if args.json:
        args.json.write_text(json.dumps({"meta": meta, "results": results}, indent=1))
    if args.write:
        write_doc(generated)
        print(f"wrote {DOC}")


if __name__ == "__main__":
    main()
