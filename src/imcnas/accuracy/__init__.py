"""Accuracy on the simulated IMC chip (torch): offline datasets, simulated crossbar layers driven by the same
hardware description as the cost model, plain and hardware-aware training, pruning, drift-time Monte-Carlo
evaluation. ``imcnas.accuracy.convert(model, chip)`` is the entry point of the simulation."""
from __future__ import annotations

from imcnas.accuracy.data import Dataset, dataset_descriptions, default_data_root, list_datasets, load_dataset, \
    register_dataset
from imcnas.accuracy.layers import IMCLayer  # first: it re-exports imcnas.accuracy.convert at its end
from imcnas.accuracy.convert import ConversionReport, calibrate, convert, imc_layers, program, reset, set_time  # noqa: I001
from imcnas.accuracy.prune import PruneConfig, PruneReport, make_permanent, prune
# the training function stays in imcnas.accuracy.train (exporting it here would hide that module)
from imcnas.accuracy.train import AccuracyResult, EvalConfig, TrainConfig, TrainResult, accuracy, evaluate, \
    train_and_evaluate

__all__ = ["AccuracyResult", "ConversionReport", "Dataset", "EvalConfig", "IMCLayer", "PruneConfig", "PruneReport",
           "TrainConfig", "TrainResult", "accuracy", "calibrate", "convert", "dataset_descriptions",
           "default_data_root", "evaluate", "imc_layers", "list_datasets", "load_dataset", "make_permanent", "program",
           "prune", "register_dataset", "reset", "set_time", "train_and_evaluate"]
