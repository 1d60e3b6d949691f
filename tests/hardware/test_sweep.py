"""Cost-only hardware sweeps: grid syntax, the cartesian product priced in one pass, skipped and infeasible
rows, the Pareto flags, sweep.csv and sweep.html."""
from __future__ import annotations

import csv
import io
import itertools
import re
from pathlib import Path

import numpy as np
import pytest

from imcnas.errors import ConfigError
from imcnas.hardware import estimate, load_chip
from imcnas.hardware.sweep import HEADLINE, MAX_CHIPS, parse_grid, summary_table, sweep
from imcnas.workload.table import from_layer_table


@pytest.fixture(scope="module")
def net():
    return from_layer_table("small", [dict(in_hw=16, in_c=32, k=3, out_c=64),
                                      dict(in_hw=16, in_c=64, k=3, out_c=64, stride=2),
                                      dict(in_hw=8, in_c=64, k=8, out_c=10)])


def grid_error(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        parse_grid(text)
    msg = str(info.value)
    assert "\n" not in msg and info.value.exit_code == 2
    return msg


# ------------------------------------------------------------------------------------------------ grid syntax
@pytest.mark.parametrize("text, field, values", [
    ("adc.bits=3:8", "adc.bits", [3, 4, 5, 6, 7, 8]),
    ("adc.bits=3:8:2", "adc.bits", [3, 5, 7]),
    ("adc.bits = 4:4", "adc.bits", [4]),
    ("crossbar.rows=64,128,256", "crossbar.rows", [64, 128, 256]),
    ("crossbar.rows=64,64,128", "crossbar.rows", [64, 128]),  # duplicates once
    ("device.type=rram,pcm", "device.type", ["rram", "pcm"]),
    ("technology.vdd_v=0.6:0.8:0.1", "technology.vdd_v", [0.6, 0.7, 0.8]),
    ("activity.input_ones=0.1,0.25", "activity.input_ones", [0.1, 0.25]),
    ("mapping.pipeline=true,false", "mapping.pipeline", [True, False]),
    ("hierarchy.tiles=auto,64", "hierarchy.tiles", ["auto", 64]),
    ("adc.bits=6", "adc.bits", [6]),
])
def test_grid_syntax(text: str, field: str, values: list) -> None:
    assert parse_grid(text) == (field, values)


@pytest.mark.parametrize("text, needle", [
    ("adc.bits", "FIELD=VALUES"),
    ("=3:8", "empty field"),
    ("adc.bits=", "no values"),
    ("adc.bits=3:", "not a number"),
    ("adc.bits=8:3", "empty"),
    ("adc.bits=3:8:0", "positive"),
    ("adc.bits=1:2:3:4", "a:b:step"),
    ("technology.vdd_v=0.6:0.8", "integers"),
    ("adc.bits=3,,4", "empty value"),
    ("adc.bits=[3,4]", "cannot parse"),
    ("adc.bits={a: 1}", "not a number"),
    ("adc.bits=[3]", "single value"),
    ("adc.bitz=3:8", "'adc.bitz' is not a hardware field"),
    ("adc=3", "not a hardware field"),
    ("name=a,b", "not a hardware field"),
])
def test_bad_grid_is_one_line(text: str, needle: str) -> None:
    msg = grid_error(text)
    assert needle in msg and text.split("=")[0].strip() in msg, msg


def test_grid_limits(net) -> None:
    with pytest.raises(ConfigError, match="swept twice"):
        sweep(net, "pcm-14nm", ["adc.bits=3:4", "adc.bits=5"])
    with pytest.raises(ConfigError, match="at least one grid"):
        sweep(net, "pcm-14nm", [])
    with pytest.raises(ConfigError, match="more than"):
        sweep(net, "pcm-14nm", ["adc.bits=1:16", "crossbar.rows=1:4096", "crossbar.cols=1:4096"])
    assert MAX_CHIPS >= 10_000
    with pytest.raises(ConfigError, match="adc.bits"):  # a bad fixed override fails the sweep, as in estimate
        sweep(net, "pcm-14nm", ["crossbar.rows=64"], ["adc.bits=99"])


# ------------------------------------------------------------------------------------------------ sweep
def test_product_in_grid_order_priced_as_estimate(net) -> None:
    res = sweep(net, "pcm-14nm", ["adc.bits=4:6", "crossbar.rows=64,128"], ["inputs.bits=6"])
    assert len(res) == 6 and res.fields == ["adc.bits", "crossbar.rows"]
    combos = [(r["adc.bits"], r["crossbar.rows"]) for r in res.rows]
    assert combos == list(itertools.product([4, 5, 6], [64, 128]))  # last field fastest
    assert all(r["status"] == "ok" for r in res.rows)
    for r in res.rows:
        chip = load_chip("pcm-14nm", ["inputs.bits=6", f"adc.bits={r['adc.bits']}",
                                      f"crossbar.rows={r['crossbar.rows']}"])
        assert r["chip"] == chip.display_name
        one = estimate(net, chip)
        for key in ("energy_pj", "latency_ns", "area_mm2", "tops_per_w"):
            assert r[key] == pytest.approx(one.totals[key], rel=1e-9)
    assert res.table is not None and res.table.chips == [r["chip"] for r in res.rows]
    assert res.base == "pcm-14nm[inputs.bits=6]"


def test_pareto_flags_are_the_nondominated_ok_rows(net) -> None:
    res = sweep(net, "neurosim-sram-22nm", ["adc.bits=3:7", "crossbar.rows=32,64,128,256", "technology.node_nm=7,22"])
    pts = [(r["energy_pj"], r["latency_ns"], r["area_mm2"]) for r in res.rows]
    for i, p in enumerate(pts):
        dominated = any(all(q[k] <= p[k] for k in range(3)) and q != p for q in pts)
        assert res.rows[i]["pareto"] == (not dominated)
    assert res.counts()["pareto"] >= 1
    front = res.pareto_rows()
    assert [r["energy_pj"] for r in front] == sorted(r["energy_pj"] for r in front)


def test_refused_chips_are_skipped_rows_with_the_reason(net) -> None:
    res = sweep(net, "pcm-14nm", ["device.type=pcm,rram", "crossbar.rows=64,128"])
    assert len(res) == 4
    skipped = [r for r in res.rows if r["status"] == "skipped"]
    assert [r["device.type"] for r in skipped] == ["rram", "rram"]  # RRAM data stop at 22 nm; the preset is 14 nm
    assert all("22 nm" in r["reason"] and "energy_pj" not in r and not r["pareto"] for r in skipped)
    assert all(r["status"] == "ok" for r in res.rows if r["device.type"] == "pcm")
    # cells that cannot hold a weight, from the layout check
    res = sweep(net, "neurosim-sram-22nm", ["device.bits_per_cell=1,2"])
    assert [r["status"] for r in res.rows] == ["ok", "skipped"]
    assert "bits_per_cell" in res.rows[1]["reason"]


def test_a_device_type_grid_keeps_the_base_device_for_its_own_type(net) -> None:
    res = sweep(net, "pcm-14nm", ["device.type=pcm", "adc.bits=8"])
    assert res.rows[0]["chip"] == "pcm-14nm"  # device.type=pcm on a PCM chip changes nothing


def test_too_few_fixed_tiles_are_infeasible_rows(net) -> None:
    big = from_layer_table("big", [dict(in_hw=8, in_c=256, k=3, out_c=512)])
    res = sweep(big, "jia-sram-65nm", ["hierarchy.tiles=1,auto"])
    infeasible, ok = res.rows
    assert infeasible["status"] == "infeasible" and "hierarchy.tiles=auto" in infeasible["reason"]
    assert not infeasible["pareto"] and infeasible["energy_pj"] > 0  # priced, never on the front
    assert ok["status"] == "ok" and ok["pareto"]


def test_mapping_grid_and_chip_base(net) -> None:
    base = load_chip("isaac-32nm", ["technology.vdd_v=0.9"])
    res = sweep(net, base, {"adc.bits": np.arange(4, 7), "device.type": "rram"})
    assert [r["adc.bits"] for r in res.rows] == [4, 5, 6]
    assert all(type(r["adc.bits"]) is int for r in res.rows)
    assert res.rows[0]["chip"] == "isaac-32nm[adc.bits=4,technology.vdd_v=0.9]"


# ------------------------------------------------------------------------------------------------ files
def test_write_csv_and_html(net, tmp_path: Path) -> None:
    res = sweep(net, "pcm-14nm", ["device.type=pcm,rram", "adc.bits=4:6"])
    paths = res.write(tmp_path / "out")
    assert set(paths) == {"sweep.csv", "sweep.html"}
    rows = list(csv.reader(paths["sweep.csv"].open()))
    head = rows[0]
    assert head[:2] == ["device.type", "adc.bits"] and head[2:2 + len(HEADLINE)] == list(HEADLINE)
    assert {"pareto", "status", "reason", "chip", "energy_adc_pj", "area_array_mm2"} <= set(head)
    assert "feasible" not in head  # folded into status
    assert len(rows) == 1 + 6
    by = {(r[0], r[1]): dict(zip(head, r)) for r in rows[1:]}
    assert by[("rram", "4")]["status"] == "skipped" and by[("rram", "4")]["energy_pj"] == ""
    assert float(by[("pcm", "4")]["energy_pj"]) > 0 and by[("pcm", "4")]["chip"] == "pcm-14nm[adc.bits=4]"
    page = paths["sweep.html"].read_text()
    assert not re.search(r"<script[^>]*\ssrc=", page)  # plotly inlined: works offline
    assert "Pareto-optimal" in page and "Effect of each field" in page and "Skipped and infeasible" in page
    assert page.count("plotly-graph-div") >= 2


def test_html_when_nothing_could_be_priced(net, tmp_path: Path) -> None:
    res = sweep(net, "pcm-14nm", ["device.type=rram", "adc.bits=4,5"])
    assert res.counts()["ok"] == 0 and res.table is None
    page = res.write(tmp_path)["sweep.html"].read_text()
    assert "no chip could be priced" in page


def test_summary_fits_80_columns(net) -> None:
    from rich.console import Console

    res = sweep(net, "neurosim-sram-22nm", ["adc.bits=3:8", "crossbar.rows=32:256:32", "technology.node_nm=7,22",
                                            "weights.bits=4,8"])
    console = Console(width=80, record=True, file=io.StringIO())
    for item in summary_table(res):
        console.print(item)
    text = console.export_text()
    assert max(len(line.rstrip()) for line in text.splitlines()) <= 80
    assert "Pareto-optimal" in text and "adc.bits" in text


def test_worn_out_chips_are_infeasible_rows_with_the_endurance_reason() -> None:
    from imcnas.workload.ops import Op, OpKind, Workload

    fc = Op(name="fc", kind=OpKind.MATRIX, module="Linear", rows=64, cols=64, vectors=16, macs=64 * 64 * 16)
    qk = Op(name="qk", kind=OpKind.DYNAMIC_MATMUL, module="matmul", macs=16 * 64 * 16, elements=256,
            meta={"m": 16, "k": 64, "n": 16, "batch": 1})
    res = sweep(Workload(name="attn", ops=(fc, qk)), "neurosim-sram-22nm",
                ["dynamic_ops_on=digital,crossbar", "device.type=sram,rram"])
    by = {(r["dynamic_ops_on"], r["device.type"]): r for r in res.rows}
    bad = by[("crossbar", "rram")]
    assert bad["status"] == "infeasible" and not bad["pareto"]
    assert bad["reason"].startswith("device rram endures 1e+06 write cycles per cell")
    assert all(r["status"] == "ok" for k, r in by.items() if k != ("crossbar", "rram"))
