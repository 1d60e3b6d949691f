"""Analysis of studies: Pareto fronts, quality indicators (pymoo HV/IGD), the HTML report and design export.

``imcnas.analysis.write_report(DIR)`` is what ``imcnas report DIR`` runs; plotly and torch are imported only
when a report is written or weights are exported.
"""
from __future__ import annotations

from imcnas.analysis.export import export_designs
from imcnas.analysis.indicators import (front_bounds, front_hypervolume, hv_history, hypervolume, igd, normalize,
                                        reference_point, study_hv_history, study_hypervolume)
from imcnas.analysis.pareto import StudyResults, as_matrix, front_trials, load_results, nondominated
from imcnas.analysis.report import write_report

__all__ = ["StudyResults", "as_matrix", "export_designs", "front_bounds", "front_hypervolume", "front_trials",
           "hv_history", "hypervolume", "igd", "load_results", "nondominated", "normalize", "reference_point",
           "study_hv_history", "study_hypervolume", "write_report"]
