"""Workloads from a layer table (as simulators like NeuroSim describe networks), without torch."""
from __future__ import annotations

from typing import Any, Iterable, Literal

from imcnas.workload.ops import Op, OpKind, Workload


def from_layer_table(name: str, layers: Iterable[dict[str, Any]],
                     positions: Literal["same", "valid"] = "same") -> Workload:
    """Build a Workload from rows ``{in_hw, in_c, k, out_c[, stride]}`` of square convolutions.

    ``positions="same"`` counts in_hw^2/stride^2 output positions (padded convolution, the real network);
    ``"valid"`` counts ((in_hw - k)/stride + 1)^2, which is what NeuroSim V1.4 simulates (no padding).
    """
    ops = []
    for i, row in enumerate(layers):
        hw, cin, k, cout = int(row["in_hw"]), int(row["in_c"]), int(row["k"]), int(row["out_c"])
        s = int(row.get("stride", 1))
        out_hw = -(-hw // s) if positions == "same" else (hw - k) // s + 1
        if hw == k:  # a fully connected layer written as a kernel over the whole map
            out_hw = 1
        v = out_hw * out_hw
        ops.append(Op(name=f"layer{i + 1}", kind=OpKind.MATRIX, module="Conv2d", rows=k * k * cin, cols=cout,
                      vectors=v, macs=k * k * cin * cout * v, in_shape=(1, cin, hw, hw),
                      out_shape=(1, cout, out_hw, out_hw), meta={"kernel": k, "stride": s}))
    return Workload(name=name, ops=tuple(ops), batch=1)
