"""Generate IMC-Bench: a tabular benchmark in which the hardware changes the accuracy.

Every architecture of a fixed ``cnn``-family space is trained ONCE hardware-aware on sklearn ``digits`` (one
generic HWA chip), then its floating-point weights are converted to every chip of a grid (device x weight
bits x input bits x ADC bits x parallel rows), calibrated, programmed and read after drift at 1 s, 1 h, 1 d and
30 d with Monte-Carlo programming repeats; each (architecture, chip) is also priced by the cost model
(``estimate_batch`` over all chips at once per architecture).

    python benchmarks/make_imcbench.py run --workers 2 --out runs/imcbench      # checkpoints one file per arch
    python benchmarks/make_imcbench.py assemble --out runs/imcbench \\
        --dest src/imcnas/benchmarks/data/imcbench_v1.npz                          # the table + checksum
    python benchmarks/make_imcbench.py run --archs 0:2 --chips 0,47 --out /tmp/x  # a slice (reproducibility)

``run`` skips architectures already checkpointed, so it resumes after an interruption. The importable
function :func:`generate_arch` is what the tests call to regenerate a slice.
"""
from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

# ------------------------------------------------------------------------------------------------ definition
VERSION = "imcbench_v1"
DATASET = "digits"
BASE_CHIP = "pcm-14nm"
NODE_NM = 22  # every chip at 22 nm: the smallest node the RRAM data support (PCM, SRAM also priced there)

# the architecture space: the cnn family's default space with kernel 1 added and width 24 added
ARCH_SPACE: dict[str, tuple[Any, ...]] = {
    "arch.convs": (1, 2, 3),
    "arch.width": (8, 16, 24, 32),
    "arch.width_mult": (1, 2),
    "arch.kernel": (1, 3, 5),
    "arch.pool": (True, False),
    "arch.fc": (0, 32, 64),
    "arch.act": ("relu", "gelu"),
}
ARCH_KEYS = tuple(ARCH_SPACE)

# the chip grid
CHIP_GRID: dict[str, tuple[Any, ...]] = {
    "device.type": ("pcm", "rram", "sram"),
    "weights.bits": (4, 8),
    "inputs.bits": (4, 8),
    "adc.bits": (5, 8),
    "crossbar.parallel_rows": (64, 256),
}
CHIP_KEYS = tuple(CHIP_GRID)
BITS_PER_CELL = {"pcm": 2, "rram": 2, "sram": 1}
NOISY = {"pcm": True, "rram": True, "sram": False}

# the HWA training chip (generic, fixed): the base PCM chip, 8-bit weights/inputs/ADC, all 256 rows at once
HWA_CHIP = {"device.type": "pcm", "weights.bits": 8, "inputs.bits": 8, "adc.bits": 8, "crossbar.parallel_rows": 256}

DRIFT_TIMES_S = (1.0, 3600.0, 86400.0, 30 * 86400.0)
DRIFT_NAMES = ("1s", "1h", "1d", "30d")
TRAIN = {"epochs": 3, "batch_size": 32, "lr": 3e-3, "optimizer": "adam", "hwa": True}
# datapath: the shipped table was made with the one-read model (each row group's recombined partial sum through
# the ADC once), before the bit-level datapath existed; a table option, so the shipped slice regenerates exactly
DEFAULTS = {"repeats": 3, "val_samples": 256, "calib_samples": 256, "seed": 0, "datapath": "one_read"}
COST_KEYS = ("energy_pj", "latency_ns", "area_mm2")


def canonical(arch: dict[str, Any]) -> dict[str, Any]:
    """One representative of architectures that build the same network: width_mult is irrelevant with one
    conv or with width 32 (growth stops at 32 channels), so it is set to 1 there."""
    a = dict(arch)
    if a["arch.convs"] == 1 or a["arch.width"] >= 32:
        a["arch.width_mult"] = 1
    return a


def arch_list() -> list[dict[str, Any]]:
    """Every distinct architecture of ARCH_SPACE, in product order of ARCH_SPACE (duplicates dropped)."""
    out, seen = [], set()
    for values in itertools.product(*ARCH_SPACE.values()):
        a = canonical(dict(zip(ARCH_KEYS, values)))
        key = tuple(a[k] for k in ARCH_KEYS)
        if key not in seen:
            seen.add(key)
            out.append(a)
    return out


def chip_grid() -> list[dict[str, Any]]:
    """The chip grid as dicts in product order of CHIP_GRID."""
    return [dict(zip(CHIP_KEYS, v)) for v in itertools.product(*CHIP_GRID.values())]


def make_chip(hw: dict[str, Any]):
    """The Chip of one grid point: BASE_CHIP at NODE_NM with the grid's device (its preset noise), bits and
    parallel rows; PCM/RRAM store 2 bits per cell, SRAM 1."""
    from imcnas.hardware import load_chip

    dev, wb = hw["device.type"], int(hw["weights.bits"])
    bpc = BITS_PER_CELL[dev]
    sets = [f"technology.node_nm={NODE_NM}", f"device.type={dev}", f"device.bits_per_cell={bpc}",
            f"weights.bits={wb}", f"weights.cells_per_weight={math.ceil(wb / bpc)}",
            f"inputs.bits={int(hw['inputs.bits'])}", f"adc.bits={int(hw['adc.bits'])}",
            f"crossbar.parallel_rows={int(hw['crossbar.parallel_rows'])}"]
    chip = load_chip(BASE_CHIP, sets)
    chip.name = "imcbench[" + ",".join(f"{k.split('.')[-1]}={v}" for k, v in hw.items()) + "]"
    return chip


# ------------------------------------------------------------------------------------------------ one arch
def _data(val_samples: int, calib_samples: int):
    import torch

    from imcnas.accuracy.data import load_dataset

    ds = load_dataset(DATASET)
    xv, yv = ds.val[:val_samples]
    xc = ds.train[:calib_samples][0]
    return ds, (xv, yv), [xc]


def _acc(net, x, y) -> float:
    import torch

    with torch.no_grad():
        out = net(x)
    if not torch.isfinite(out).all():
        return float("nan")
    return 100.0 * float((out.argmax(1) == y).sum()) / len(y)


def generate_arch(arch_id: int, chip_ids: Sequence[int] | None = None, *, repeats: int = DEFAULTS["repeats"],
                  val_samples: int = DEFAULTS["val_samples"], calib_samples: int = DEFAULTS["calib_samples"],
                  seed: int = DEFAULTS["seed"], datapath: str = DEFAULTS["datapath"]) -> dict[str, np.ndarray]:
    """Train architecture ``arch_id`` once (HWA) and evaluate/price it on the chips ``chip_ids`` (default all).

    Seeds: training ``seed + arch_id`` (model init and data order); Monte-Carlo repeat ``r`` programs and
    reads with seed ``seed * 1000 + r`` on every chip (common random numbers across chips). SRAM has no device
    noise and no drift: it is evaluated once and that value stands for every time (std 0)."""
    import torch

    from imcnas.accuracy.convert import calibrate, convert, program, reset, set_time
    from imcnas.accuracy.train import TrainConfig, _digital_copy, train
    from imcnas.hardware import estimate_batch
    from imcnas.space.families.cnn import CNN
    from imcnas.workload import trace

    archs, grid = arch_list(), chip_grid()
    chip_ids = list(range(len(grid))) if chip_ids is None else [int(c) for c in chip_ids]
    arch = archs[arch_id]
    ds, (xv, yv), calib = _data(val_samples, calib_samples)
    t0 = time.perf_counter()
    tseed = seed + arch_id
    torch.manual_seed(tseed)
    model = CNN().build(arch, tuple(ds.input_shape), ds.num_classes)
    tr = train(model, ds, TrainConfig(seed=tseed, device="cpu", datapath=datapath, **TRAIN), make_chip(HWA_CHIP))
    net = _digital_copy(tr.model).eval()
    t_train = time.perf_counter() - t0
    digital = _acc(net, xv, yv)
    T, C = len(DRIFT_TIMES_S), len(chip_ids)
    mean = np.full((C, T), np.nan)
    std = np.full((C, T), np.nan)
    ideal = np.full(C, np.nan)
    chips = [make_chip(grid[c]) for c in chip_ids]
    t1 = time.perf_counter()
    for j, (c, chip) in enumerate(zip(chip_ids, chips)):
        sim, _ = convert(net, chip, datapath=datapath)
        calibrate(sim, calib)
        sim.eval()
        reset(sim)
        ideal[j] = _acc(sim, xv, yv)
        if NOISY[grid[c]["device.type"]]:
            s = np.empty((repeats, T))
            for r in range(repeats):
                program(sim, seed=seed * 1000 + r)
                for i, t in enumerate(DRIFT_TIMES_S):
                    set_time(sim, t, seed=seed * 1000 + r)
                    s[r, i] = _acc(sim, xv, yv)
            mean[j], std[j] = s.mean(0), s.std(0, ddof=1) if repeats > 1 else 0.0
        else:  # no device noise, no drift: one read stands for every time and repeat
            program(sim, seed=seed * 1000)
            set_time(sim, DRIFT_TIMES_S[0], seed=seed * 1000)
            mean[j], std[j] = _acc(sim, xv, yv), 0.0
    t_eval = time.perf_counter() - t1
    work = trace(net, ds.train[:1][0])
    tab = estimate_batch(work, chips)
    cost = np.stack([np.asarray(tab[k], dtype=float) for k in COST_KEYS], axis=1)
    return {"arch_id": np.int32(arch_id), "chip_ids": np.asarray(chip_ids, np.int32), "mean": mean, "std": std,
            "ideal": ideal, "digital": np.float64(digital), "cost": cost, "train_ok": np.bool_(tr.ok),
            "final_loss": np.float64(tr.losses[-1] if tr.losses else np.nan), "train_s": np.float64(t_train),
            "eval_s": np.float64(t_eval), "params": np.int64(sum(p.numel() for p in net.parameters()))}


# ------------------------------------------------------------------------------------------------ driver
def _init_worker() -> None:
    import torch

    torch.set_num_threads(1)


def _job(args: tuple) -> tuple[int, float]:
    arch_id, chip_ids, out, opts = args
    res = generate_arch(arch_id, chip_ids, **opts)
    path = Path(out) / f"arch_{arch_id:04d}.npz"
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, **res)
    os.replace(tmp, path)
    return arch_id, float(res["train_s"] + res["eval_s"])


def _parse_slice(text: str | None, n: int) -> list[int]:
    if not text:
        return list(range(n))
    out: list[int] = []
    for part in text.split(","):
        if ":" in part:
            a, b = part.split(":")
            out += list(range(int(a or 0), int(b or n)))
        else:
            out.append(int(part))
    return out


def arch_order(seed: int) -> list[int]:
    """The order in which ``run`` works through the architectures: a seeded permutation, so that any prefix
    that completes is a uniform sample of the space."""
    return [int(i) for i in np.random.default_rng(seed).permutation(len(arch_list()))]


def versions() -> dict[str, str]:
    import torch

    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                                cwd=Path(__file__).resolve().parent, check=True).stdout.strip()
    except Exception:  # noqa: BLE001 - not a git checkout
        commit = "unknown"
    import sklearn

    return {"torch": torch.__version__, "numpy": np.__version__, "sklearn": sklearn.__version__,
            "python": platform.python_version(), "imcnas_commit": commit, "machine": platform.machine(),
            "cpu_threads_per_worker": "1"}


def cmd_run(a: argparse.Namespace) -> None:
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    n_arch, n_chip = len(arch_list()), len(chip_grid())
    chosen = set(_parse_slice(a.archs, n_arch))
    order = [i for i in arch_order(a.seed) if i in chosen]
    chip_ids = _parse_slice(a.chips, n_chip) if a.chips else None
    todo = [i for i in order if not (out / f"arch_{i:04d}.npz").exists()]
    opts = {"repeats": a.repeats, "val_samples": a.val_samples, "calib_samples": a.calib_samples, "seed": a.seed,
            "datapath": a.datapath}
    meta = {"opts": opts, "archs": a.archs, "chips": a.chips, "started": time.time(), "versions": versions()}
    (out / "run.json").write_text(json.dumps(meta, indent=1))
    print(f"{len(todo)} architectures to do ({len(chosen) - len(todo)} done) x {n_chip if chip_ids is None else len(chip_ids)} chips", flush=True)
    t0 = time.perf_counter()
    jobs = [(i, chip_ids, str(out), opts) for i in todo]
    if a.workers <= 1:
        _init_worker()
        it = map(_job, jobs)
    else:
        import multiprocessing as mp

        pool = mp.get_context("spawn").Pool(a.workers, initializer=_init_worker, maxtasksperchild=50)
        it = pool.imap_unordered(_job, jobs)
    for k, (i, s) in enumerate(it, 1):
        el = time.perf_counter() - t0
        print(f"[{k}/{len(todo)}] arch {i} {s:.1f}s  elapsed {el:.0f}s  eta {el / k * (len(todo) - k):.0f}s", flush=True)


def cmd_assemble(a: argparse.Namespace) -> None:
    out = Path(a.out)
    files = sorted(out.glob("arch_*.npz"))
    files = [f for f in files if not f.name.endswith(".tmp.npz")]
    archs, grid = arch_list(), chip_grid()
    recs = [dict(np.load(f)) for f in files]
    recs = [r for r in recs if len(r["chip_ids"]) == len(grid)]
    recs.sort(key=lambda r: int(r["arch_id"]))
    ids = np.array([int(r["arch_id"]) for r in recs], dtype=np.int16)
    arch_codes = np.array([[ARCH_SPACE[k].index(archs[i][k]) for k in ARCH_KEYS] for i in ids], dtype=np.int8)
    chip_codes = np.array([[CHIP_GRID[k].index(hw[k]) for k in CHIP_KEYS] for hw in grid], dtype=np.int8)
    arrays = {
        "arch_id": ids, "arch_codes": arch_codes, "chip_codes": chip_codes,
        "acc_mean": np.stack([r["mean"] for r in recs]).astype(np.float32),   # (A, C, T) %
        "acc_std": np.stack([r["std"] for r in recs]).astype(np.float32),     # (A, C, T) %
        "acc_ideal": np.stack([r["ideal"] for r in recs]).astype(np.float32),  # (A, C) quantised, no noise
        "acc_digital": np.array([r["digital"] for r in recs], dtype=np.float32),  # (A,) floating point
        "cost": np.stack([r["cost"] for r in recs]).astype(np.float32),       # (A, C, 3)
        "params": np.array([r["params"] for r in recs], dtype=np.int32),
        "final_loss": np.array([r["final_loss"] for r in recs], dtype=np.float32),
    }
    from imcnas.benchmarks.imcbench import table_checksum

    checksum = table_checksum(arrays)
    run = json.loads((out / "run.json").read_text()) if (out / "run.json").exists() else {}
    meta = {
        "version": VERSION, "dataset": DATASET, "family": "cnn", "arch_space": {k: list(v) for k, v in ARCH_SPACE.items()},
        "arch_keys": list(ARCH_KEYS), "chip_grid": {k: list(v) for k, v in CHIP_GRID.items()},
        "chip_keys": list(CHIP_KEYS), "base_chip": BASE_CHIP, "node_nm": NODE_NM, "bits_per_cell": BITS_PER_CELL,
        "hwa_chip": HWA_CHIP, "train": TRAIN, "drift_times_s": list(DRIFT_TIMES_S), "drift_names": list(DRIFT_NAMES),
        "cost_keys": list(COST_KEYS), "opts": run.get("opts", DEFAULTS), "versions": run.get("versions", versions()),
        "seeds": "training seed = opts.seed + arch_id (model init, data order); MC repeat r: seed opts.seed*1000 + r "
                 "on every chip; run order = permutation(default_rng(opts.seed))",
        "n_archs_space": len(archs), "n_archs": int(len(ids)), "n_chips": len(grid),
        "train_s_total": float(sum(float(r["train_s"]) for r in recs)),
        "eval_s_total": float(sum(float(r["eval_s"]) for r in recs)),
        "checksum_sha256": checksum,
    }
    arrays["meta_json"] = np.frombuffer(json.dumps(meta, sort_keys=True).encode(), dtype=np.uint8)
    dest = Path(a.dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(dest, **arrays)
    print(f"{dest}: {len(ids)} archs x {len(grid)} chips, {dest.stat().st_size / 1e6:.2f} MB, sha256 {checksum}")


def cmd_summary(a: argparse.Namespace) -> None:
    """What the table shows: accuracy spread across chips and how often the hardware reorders architectures."""
    from imcnas.benchmarks.imcbench import IMCBenchProblem

    p = IMCBenchProblem(path=a.dest)
    m = p.meta
    acc, std = p.accuracy("1d"), p.arrays["acc_std"][:, :, 2].astype(float)
    spread = acc.max(1) - acc.min(1)
    print(f"{p.n_archs} archs x {p.n_chips} chips; train {m['train_s_total']:.0f} s, eval {m['eval_s_total']:.0f} s "
          f"(worker time); sha256 {m['checksum_sha256']}")
    print(f"digital accuracy: median {np.median(p.arrays['acc_digital']):.1f} %, range "
          f"{p.arrays['acc_digital'].min():.1f}..{p.arrays['acc_digital'].max():.1f}")
    print(f"1 d accuracy spread across chips per arch (max-min): median {np.median(spread):.1f} pp, "
          f"p90 {np.percentile(spread, 90):.1f} pp; archs whose spread exceeds their largest MC std: "
          f"{np.mean(spread > std.max(1)):.0%}")
    for key in p.chip_keys:
        vals = np.array([c[key] for c in p.chips])
        print(f"  {key}: " + ", ".join(f"{v}: {acc[:, vals == v].mean():.1f} %" for v in dict.fromkeys(vals.tolist())))
    for t in p.drift_names:
        print(f"  mean accuracy at {t}: noisy chips {p.accuracy(t)[:, [c['device.type'] != 'sram' for c in p.chips]].mean():.2f} %")
    tau = p.rank_agreement("1d")[np.triu_indices(p.n_chips, 1)]
    print(f"Kendall tau of arch rankings between chip pairs: median {np.median(tau):.2f}, min {tau.min():.2f}")
    best = acc.argmax(0)
    print(f"distinct most-accurate archs over the {p.n_chips} chips: {len(set(best.tolist()))}")
    i, j = np.triu_indices(p.n_archs, 1)
    d = np.sign(acc[i] - acc[j])  # (pairs, chips)
    swapped = ((d > 0).any(1) & (d < 0).any(1)).mean()
    print(f"arch pairs whose order flips on some chip: {swapped:.0%}")
    for objs in (("error_1d", "energy_pj"), ("error_30d", "energy_pj")):
        q = IMCBenchProblem(objs, path=a.dest)
        rows = q.front_indices()
        devs = [q.chips[r % q.n_chips]["device.type"] for r in rows]
        print(f"front {objs}: {len(rows)} designs, {len(set(r // q.n_chips for r in rows))} archs, "
              f"devices {dict((d, devs.count(d)) for d in set(devs))}")


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="train and evaluate architectures, one checkpoint file each")
    r.add_argument("--out", required=True)
    r.add_argument("--archs", default=None, help="architecture ids: '0:10', '3,7', default all")
    r.add_argument("--chips", default=None, help="chip ids, same syntax, default all 48")
    r.add_argument("--workers", type=int, default=2)
    r.add_argument("--repeats", type=int, default=DEFAULTS["repeats"])
    r.add_argument("--val-samples", type=int, default=DEFAULTS["val_samples"])
    r.add_argument("--calib-samples", type=int, default=DEFAULTS["calib_samples"])
    r.add_argument("--seed", type=int, default=DEFAULTS["seed"])
    r.add_argument("--datapath", choices=["one_read", "bit_level", "auto"], default=DEFAULTS["datapath"],
                   help="how simulated layers read partial sums (the shipped table: one_read)")
    s = sub.add_parser("assemble", help="collect the checkpoints into the compact table")
    s.add_argument("--out", required=True)
    s.add_argument("--dest", default="src/imcnas/benchmarks/data/imcbench_v1.npz")
    m = sub.add_parser("summary", help="what the assembled table shows")
    m.add_argument("--dest", default="src/imcnas/benchmarks/data/imcbench_v1.npz")
    a = p.parse_args(argv)
    {"run": cmd_run, "assemble": cmd_assemble, "summary": cmd_summary}[a.cmd](a)


if __name__ == "__main__":
    main()
