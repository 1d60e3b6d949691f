"""The cost model stays numpy-only: importing and using ``imcnas.hardware`` must not import torch."""
from __future__ import annotations

import subprocess
import sys


def test_import_imcnas_hardware_does_not_import_torch() -> None:
    code = ("import imcnas.hardware, sys; assert 'torch' not in sys.modules, 'torch imported'\n"
            "from imcnas.workload import Op, OpKind, Workload\n"
            "w = Workload('t', (Op(name='fc', kind=OpKind.MATRIX, rows=64, cols=32, vectors=1, macs=2048),))\n"
            "d = imcnas.hardware.estimate(w, 'neurosim-sram-22nm').to_dict()\n"
            "assert d['unsupported'] == [] and d['ops'][0]['kind'] == 'crossbar'\n"
            "assert 'torch' not in sys.modules, 'torch imported by estimate'")
    subprocess.run([sys.executable, "-c", code], check=True)
