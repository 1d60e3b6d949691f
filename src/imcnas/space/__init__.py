"""Search spaces: declarative parameters (Choice, Int, Float, conditional) and constraints; flat samples."""
from __future__ import annotations

from imcnas.space.constraints import Constraint
from imcnas.space.params import Choice, Float, Int, Param, Sample, SearchSpace, param_from_dict

__all__ = ["Choice", "Constraint", "Float", "Int", "Param", "Sample", "SearchSpace", "param_from_dict"]
