"""Built-in benchmark problems with known answers (AnalogNAS-Bench x the imcnas cost model)."""
from imcnas.benchmarks.analognas import AnalogNASProblem, nondominated_mask

__all__ = ["AnalogNASProblem", "nondominated_mask"]
