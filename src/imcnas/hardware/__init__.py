"""Hardware description and cost model (numpy only)."""
from imcnas.hardware.report import CostReport, CostTable, estimate, estimate_batch
from imcnas.hardware.spec import Chip, chip_from_dict, list_presets, load_chip

__all__ = ["Chip", "CostReport", "CostTable", "chip_from_dict", "estimate", "estimate_batch", "list_presets",
           "load_chip"]
