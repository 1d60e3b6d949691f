"""Built-in benchmark problems with known answers (AnalogNAS-Bench x the imcnas cost model; IMC-Bench)."""
from imcnas.benchmarks.analognas import AnalogNASProblem, nondominated_mask
from imcnas.benchmarks.imcbench import IMCBenchProblem

__all__ = ["AnalogNASProblem", "IMCBenchProblem", "nondominated_mask"]
