"""The cost model against published figures (tests/data/costmodel.yaml, a copy of the shared references)."""
from pathlib import Path

import pytest

from imcnas.hardware.validation import TOLERANCE, isaac_rows, load_references, macro_rows, neurosim_rows

REF = load_references(Path(__file__).resolve().parents[1] / "data" / "costmodel.yaml")


def _fmt(rows):
    return "; ".join(f"{r.reference} {r.quantity}: {r.estimate:.4g} vs {r.published:.4g} ({r.error:+.0%})"
                     for r in rows)


def test_neurosim_vgg8_table_rows_within_tolerance():
    rows = [r for r in neurosim_rows(REF) if r.role == "validation"]
    assert len(rows) == 6  # area, TOPS, TOPS/W for parallel rows 32 and 64
    bad = [r for r in rows if abs(r.error) > TOLERANCE]
    assert not bad, _fmt(bad)


def test_neurosim_calibration_runs_reproduced():
    rows = [r for r in neurosim_rows(REF) if r.role == "calibration"]
    bad = [r for r in rows if abs(r.error) > TOLERANCE]
    assert not bad, _fmt(bad)


def test_isaac_components_and_adc_survey_within_tolerance():
    rows = [r for r in isaac_rows(REF) if "crossbar" not in r.reference or r.role == "calibration"]
    assert len(rows) >= 12
    bad = [r for r in rows if abs(r.error) > TOLERANCE]
    assert not bad, _fmt(bad)


def test_fewer_parallel_rows_cost_more_energy_like_neurosim():
    rows = {(r.reference, r.quantity): r for r in neurosim_rows(REF) if r.role == "validation"}
    e32 = rows[("NeuroSim V1.4 Table VII, parallel rows 32", "tops_per_w")].estimate
    e64 = rows[("NeuroSim V1.4 Table VII, parallel rows 64", "tops_per_w")].estimate
    assert 1.6 < e64 / e32 < 2.3  # NeuroSim: 17.13 / 8.76 = 1.96


@pytest.mark.xfail(strict=True, reason="known gap: macro cycle times are not in our references (docs/validation.md)")
def test_macro_throughput_within_tolerance():
    rows = [r for r in macro_rows(REF) if r.quantity == "tops"]
    assert all(abs(r.error) <= TOLERANCE for r in rows), _fmt(rows)


@pytest.mark.xfail(strict=True, reason="known gap: NeuRRAM neurons and Jia's charge-domain cell (docs/validation.md)")
def test_macro_energy_efficiency_within_tolerance():
    rows = [r for r in macro_rows(REF) if r.quantity == "tops_per_w"]
    assert all(abs(r.error) <= TOLERANCE for r in rows), _fmt(rows)


@pytest.mark.xfail(strict=True, reason="known gap: ISAAC's read voltage/pulse are not in our references")
def test_isaac_crossbar_read_energy_within_tolerance():
    rows = [r for r in isaac_rows(REF) if r.quantity == "array_energy_pj_per_read"]
    assert rows and all(abs(r.error) <= TOLERANCE for r in rows), _fmt(rows)
