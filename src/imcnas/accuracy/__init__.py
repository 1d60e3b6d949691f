"""Accuracy side of the search: datasets (and later training/evaluation) for candidate networks."""
from __future__ import annotations

from imcnas.accuracy.data import Dataset, dataset_descriptions, default_data_root, list_datasets, load_dataset, \
    register_dataset

__all__ = ["Dataset", "dataset_descriptions", "default_data_root", "list_datasets", "load_dataset",
           "register_dataset"]
