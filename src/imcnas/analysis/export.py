"""Export designs of a study as files that ``imcnas estimate`` accepts back.

``export_designs(DIR)`` writes, for each chosen trial (default: the Pareto front), ``DIR/designs/trial_<n>/``:

- ``hardware.yaml``: the trial's full chip description (``info["chip"]``, or the config's base chip with the
  trial's ``hw.*`` overrides); loads with ``imcnas.load_chip(path)``.
- ``model.py``: a factory ``model()`` returning ``(module, example_input)`` (the contract of
  ``imcnas.workload.zoo.load_model``): it calls ``imcnas.space.families.build_model(family, sample,
  input_shape, num_classes)`` and loads ``weights.pt`` when present.
- ``weights.pt``: the trained state_dict (``DIR/weights/trial_<n>.pt``), pruning masks folded into the
  weights (``w = w_orig * w_mask``), so it loads into a freshly built model.
- ``design.json``: number, state, objectives, sample, values and the useful part of ``info``.

Then ``imcnas estimate DIR/designs/trial_<n>/model.py:model --hardware DIR/designs/trial_<n>/hardware.yaml``.
A design without ``family``/``input_shape``/``num_classes`` gets no ``model.py`` (``design.json`` says why).
"""
from __future__ import annotations

import ast
import json
import pprint
import shutil
from pathlib import Path
from typing import Any, Iterable, Mapping

import yaml

from imcnas.analysis.pareto import StudyResults, load_results
from imcnas.errors import ConfigError
from imcnas.search.trial import Trial

__all__ = ["design_chip", "export_designs", "model_source"]

INFO_KEYS = ("family", "input_shape", "num_classes", "graph", "fidelity", "cost", "breakdown", "layer_bits", "elapsed_s",
             "finished_at", "reason")
MODEL_TEMPLATE = '''"""Trial {number} of the imcnas study in {study}: {family} network, exported by ``imcnas report``.

    imcnas estimate {here}/model.py:model --hardware {here}/hardware.yaml

``model()`` rebuilds the network from its sample with ``imcnas.space.families.build_model`` and loads the
trained weights from ``weights.pt`` next to this file when it is there.
"""
from pathlib import Path

import torch

import imcnas.space.families as families

HERE = Path(__file__).resolve().parent
FAMILY = {family!r}
INPUT_SHAPE = {input_shape!r}
NUM_CLASSES = {num_classes!r}
EXAMPLE_INPUT_SHAPE = (1, *INPUT_SHAPE)
SAMPLE = {sample}
# graph models: the priced graph's size; the example is a random graph of that size (cost depends on counts)
GRAPH = {graph}
# per-layer precision the study priced (imcnas estimate applies it to these layers)
LAYER_BITS = {layer_bits}


def model():
    """(network, example input): the contract of ``imcnas estimate path/model.py:model``."""
    net = families.build_model(FAMILY, SAMPLE, INPUT_SHAPE, NUM_CLASSES)
    weights = HERE / "weights.pt"
    if weights.is_file():
        net.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    if GRAPH:
        from imcnas.workload.zoo import random_graph

        x, edge_index = random_graph(GRAPH["nodes"], GRAPH["edges"], INPUT_SHAPE[0])
        if GRAPH["task"] == "graph":  # one graph of a graph-classification task: a readout per graph
            return net.eval(), (x, edge_index, torch.zeros(GRAPH["nodes"], dtype=torch.long))
        return net.eval(), (x, edge_index)
    dtype = torch.long if len(INPUT_SHAPE) == 1 else torch.float32  # (L,) inputs are token ids
    return net.eval(), torch.zeros(1, *INPUT_SHAPE, dtype=dtype)
'''


def _literal(value: Any) -> str:
    """Python source of a JSON-able value (a literal, else ``json.loads`` of its JSON text)."""
    text = pprint.pformat(value, sort_dicts=False, width=100)
    try:
        if ast.literal_eval(text) == value:
            return text
    except (ValueError, SyntaxError):
        pass
    return f"__import__('json').loads({json.dumps(value)!r})"


def model_source(trial: Trial, family: str, input_shape: Iterable[int], num_classes: int,
                 study: str | Path = ".", here: str | Path = ".") -> str:
    """The text of ``model.py`` for one trial."""
    return MODEL_TEMPLATE.format(number=trial.number, study=study, here=here, family=str(family),
                                 input_shape=tuple(int(s) for s in input_shape), num_classes=int(num_classes),
                                 sample=_literal(dict(trial.sample)),
                                 layer_bits=_literal(dict(trial.info.get("layer_bits") or {})),
                                 graph=_literal(trial.info.get("graph")))


def design_chip(trial: Trial, config: Mapping[str, Any]) -> dict[str, Any] | None:
    """The trial's full chip description as a validated dict: ``info["chip"]``, else the config's base chip
    with its ``hardware_set`` and the trial's ``hw.<field>`` overrides; None when neither is known."""
    from imcnas.hardware import chip_from_dict, load_chip

    where = f"trial {trial.number}"
    chip = trial.info.get("chip")
    if isinstance(chip, Mapping):
        obj = chip_from_dict(dict(chip), f"{where} chip")
    elif config.get("hardware"):
        base = config["hardware"]
        if isinstance(base, Mapping):
            base = chip_from_dict(dict(base), "config hardware")
        overrides = [str(o) for o in config.get("hardware_set") or []]
        overrides += [f"{k[3:]}={json.dumps(v)}" for k, v in trial.sample.items() if k.startswith("hw.")]
        obj = load_chip(base, overrides)
    else:
        return None
    return obj.model_dump(mode="json", exclude_none=True)


def _fold_pruning(state: dict[str, Any]) -> dict[str, Any]:
    """``x_orig`` and ``x_mask`` (torch.nn.utils.prune) -> ``x = x_orig * x_mask``."""
    out = dict(state)
    for key in [k for k in state if k.endswith("_orig")]:
        base = key[: -len("_orig")]
        if base + "_mask" in state:
            out[base] = state[key] * state[base + "_mask"]
            del out[key], out[base + "_mask"]
    return out


def _copy_weights(src: Path, dst: Path) -> None:
    import torch

    state = torch.load(src, map_location="cpu", weights_only=True)
    if isinstance(state, Mapping) and any(k.endswith("_mask") for k in state):
        torch.save(_fold_pruning(dict(state)), dst)
    else:
        shutil.copyfile(src, dst)


def _design_record(trial: Trial, res: StudyResults, files: dict[str, str], notes: list[str],
                   chip: str | None = None) -> dict[str, Any]:
    return {
        "number": trial.number, "state": trial.state.value, "chip": chip,
        "objectives": [{"name": m.key, "minimize": m.minimize} for m in res.metrics],
        "values": dict(trial.values), "sample": dict(trial.sample),
        "info": {k: trial.info[k] for k in INFO_KEYS if k in trial.info},
        "files": files, "notes": notes,
    }


def export_design(res: StudyResults, trial: Trial, dest: Path) -> Path:
    """Write one trial's design folder ``dest/trial_<n>`` and return it."""
    folder = dest / f"trial_{trial.number}"
    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {}
    notes: list[str] = []
    chip = design_chip(trial, res.config)
    label = None
    hw = folder / "hardware.yaml"
    if chip is not None:
        from imcnas.hardware import chip_from_dict

        label = chip_from_dict(dict(chip), f"trial {trial.number} chip").display_name  # preset + what differs
        hw.write_text(f"# trial {trial.number} of {res.out_dir}: chip {label}\n"
                      + yaml.safe_dump(chip, sort_keys=False))
        files["hardware"] = hw.name

    else:
        hw.unlink(missing_ok=True)
        notes.append("no hardware.yaml: the trial has no chip and the config names no base hardware")
    weights, src = folder / "weights.pt", res.weights_dir / f"trial_{trial.number}.pt"
    if src.is_file():
        _copy_weights(src, weights)
        files["weights"] = weights.name
    else:
        weights.unlink(missing_ok=True)
        notes.append(f"no weights: {src} not found (the model gets fresh random weights)")
    family = trial.info.get("family") or (res.config.get("model") or {}).get("family")
    shape, classes = trial.info.get("input_shape"), trial.info.get("num_classes")
    model = folder / "model.py"
    if family and shape and classes:
        model.write_text(model_source(trial, family, shape, classes, res.out_dir, folder))
        files["model"] = model.name
    else:
        model.unlink(missing_ok=True)
        missing = [k for k, v in (("family", family), ("input_shape", shape), ("num_classes", classes)) if not v]
        notes.append(f"no model.py: the trial record lacks {', '.join(missing)}")
    record = _design_record(trial, res, files, notes, label)
    (folder / "design.json").write_text(json.dumps(record, indent=2, default=str) + "\n")
    return folder


def export_designs(out_dir: str | Path | StudyResults, numbers: Iterable[int] | None = None,
                   dest: str | Path | None = None) -> list[Path]:
    """Export the designs of trials ``numbers`` (default: the Pareto front) of the study in ``out_dir`` to
    ``dest`` (default ``out_dir/designs``); returns the ``trial_<n>`` folders in trial order."""
    res = out_dir if isinstance(out_dir, StudyResults) else load_results(out_dir)
    chosen = res.front if numbers is None else [res.trial(int(n)) for n in dict.fromkeys(numbers)]
    target = Path(dest) if dest is not None else res.out_dir / "designs"
    try:
        return [export_design(res, t, target) for t in sorted(chosen, key=lambda t: t.number)]
    except OSError as err:
        raise ConfigError(f"{target}: cannot write designs: {err}") from None
