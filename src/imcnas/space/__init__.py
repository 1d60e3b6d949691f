"""Search spaces: declarative parameters (Choice, Int, Float, conditional) and constraints; flat samples."""
from __future__ import annotations

from imcnas.space.constraints import Constraint
from imcnas.space.params import Choice, Float, Int, Param, Sample, param_from_dict
from imcnas.space.searchspace import SearchSpace

__all__ = ["Choice", "Constraint", "Float", "Int", "Param", "Sample", "SearchSpace", "param_from_dict"]
