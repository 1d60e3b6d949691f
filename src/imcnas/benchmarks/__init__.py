"""Built-in benchmark problems with known answers (AnalogNAS-Bench and NAS-Bench-Graph x the imcnas cost model;
IMC-Bench)."""
from imcnas.benchmarks.analognas import AnalogNASProblem, nondominated_mask
from imcnas.benchmarks.imcbench import IMCBenchProblem
from imcnas.benchmarks.nasbenchgraph import NASBenchGraphProblem

__all__ = ["AnalogNASProblem", "IMCBenchProblem", "NASBenchGraphProblem", "nondominated_mask"]
