"""Chip display names (preset plus overrides), hardware files (essential fields, ``base:``), CostTable helpers and
the fixed-tile-count hint."""
from __future__ import annotations

import pickle
import re
import sys
from pathlib import Path

import pytest
import yaml

from imcnas.errors import ConfigError, MappingError, UnknownNameError
from imcnas.hardware import CostTable, estimate, estimate_batch, list_presets, load_chip
from imcnas.hardware.spec import NAME_LIMIT, chip_diff, display_name
from imcnas.workload.table import from_layer_table


@pytest.fixture()
def small_net():
    return from_layer_table("small", [dict(in_hw=16, in_c=32, k=3, out_c=64), dict(in_hw=8, in_c=64, k=8, out_c=10)])


def one_line_error(spec, overrides=None, kind=ConfigError) -> str:
    with pytest.raises(kind) as info:
        load_chip(spec, overrides)
    msg = str(info.value)
    assert msg and "\n" not in msg, msg
    return msg


# ------------------------------------------------------------------------------------------------ names
@pytest.mark.parametrize("name", list_presets())
def test_a_preset_is_named_by_itself(name: str) -> None:
    assert load_chip(name).display_name == name
    assert load_chip(name, ["crossbar.rows=" + str(load_chip(name).crossbar.rows)]).display_name == name  # no change


def test_overrides_name_the_variant_sorted() -> None:
    chip = load_chip("pcm-14nm", ["crossbar.rows=128", "adc.bits=6"])
    assert chip.name == "pcm-14nm"  # the field itself is untouched
    assert chip.display_name == "pcm-14nm[adc.bits=6,crossbar.rows=128]"
    assert load_chip("pcm-14nm", ["adc.bits=6", "crossbar.rows=128"]).display_name == chip.display_name
    assert load_chip("pcm-14nm", ["hierarchy.tiles=4"]).display_name == "pcm-14nm[hierarchy.tiles=4]"
    assert load_chip("isaac-32nm", ["technology.vdd_v=0.9"]).display_name == "isaac-32nm[technology.vdd_v=0.9]"


def test_model_copy_is_named_by_diffing_against_the_preset() -> None:
    chip = load_chip("pcm-14nm")
    copy = chip.model_copy(update={"adc": chip.adc.model_copy(update={"bits": 5})})
    assert copy.display_name == "pcm-14nm[adc.bits=5]"
    assert chip.display_name == "pcm-14nm"
    # a dump-and-reload keeps no link to the preset but is still named after it
    again = type(chip).model_validate(copy.model_dump())
    assert again.display_name == "pcm-14nm[adc.bits=5]"
    assert pickle.loads(pickle.dumps(copy)).display_name == copy.display_name


def test_a_device_type_change_lists_only_the_type() -> None:
    chip = load_chip("neurosim-sram-22nm", ["device.type=rram"])
    assert chip.display_name == "neurosim-sram-22nm[device.type=rram]"
    assert chip_diff(chip, load_chip("neurosim-sram-22nm")) == {"device.type": "rram"}


def test_long_names_become_a_count_and_a_stable_hash() -> None:
    sets = ["adc.bits=6", "crossbar.rows=128", "crossbar.cols=64", "inputs.bits=4", "weights.bits=4"]
    name = load_chip("pcm-14nm", sets).display_name
    assert len(name) <= NAME_LIMIT
    assert re.fullmatch(r"pcm-14nm\[5 fields #[0-9a-f]{8}\]", name), name
    assert load_chip("pcm-14nm", sets[::-1]).display_name == name  # order of the overrides does not matter
    assert load_chip("pcm-14nm", sets[:-1] + ["weights.bits=2"]).display_name != name
    assert name == "pcm-14nm[5 fields #6bbc5ddc]"  # stable across runs and machines (SHA-1, not hash())


def test_renamed_and_already_named_chips() -> None:
    assert load_chip("pcm-14nm", ["name=mine", "adc.bits=6"]).display_name == "mine[adc.bits=6]"
    chip = load_chip("pcm-14nm", ["adc.bits=6"])
    chip.name = "pcm-14nm[my variant]"
    assert chip.display_name == "pcm-14nm[my variant]"  # a name with [...] is taken as given


def test_equality_ignores_where_a_chip_came_from(tmp_path: Path) -> None:
    a = load_chip("pcm-14nm", ["adc.bits=6"])
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(a.model_dump(mode="json")))
    assert load_chip(path) == a
    assert load_chip(path).display_name == "pcm-14nm[adc.bits=6]"  # named after the preset it names


def test_file_chips_are_named_after_their_stem_and_overrides(tmp_path: Path) -> None:
    path = tmp_path / "my-chip.yaml"
    path.write_text("technology: {node_nm: 28}\ndevice: {type: rram}\n")
    assert load_chip(path).name == "my-chip"
    assert load_chip(path).display_name == "my-chip"
    assert load_chip(path, ["adc.bits=4"]).display_name == "my-chip[adc.bits=4]"
    # a Chip given to load_chip with overrides is the reference
    base = load_chip(path, ["adc.bits=4"])
    assert load_chip(base, ["crossbar.rows=64"]).display_name == "my-chip[adc.bits=4,crossbar.rows=64]"


def test_reports_and_tables_carry_display_names(small_net) -> None:
    chips = [load_chip("pcm-14nm", [f"adc.bits={b}", f"crossbar.rows={r}"]) for b in (4, 6, 8) for r in (64, 128, 256)]
    table = estimate_batch(small_net, chips)
    assert len(set(table.chips)) == 9
    assert table.chips[0] == "pcm-14nm[adc.bits=4,crossbar.rows=64]"
    assert table.chips[-1] == "pcm-14nm"  # 8 bits and 256 rows are the preset's own
    assert [r["chip"] for r in table.to_records()] == table.chips
    report = estimate(small_net, chips[0])
    assert report.chip == report.to_dict()["chip"] == "pcm-14nm[adc.bits=4,crossbar.rows=64]"


def test_naming_many_chips_is_cheap(small_net) -> None:
    import time

    chips = [load_chip("pcm-14nm", ["adc.bits=6"])] * 200
    t0 = time.perf_counter()
    names = [display_name(c) for c in chips]
    assert time.perf_counter() - t0 < 1.0 and len(set(names)) == 1


# ------------------------------------------------------------------------------------------------ files
def test_a_file_without_essential_fields_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "thin.yaml"
    path.write_text("name: thin\ncrossbar: {rows: 64, cols: 64}\n")
    msg = one_line_error(path)
    assert "thin.yaml" in msg and "'device.type'" in msg and "base: PRESET" in msg
    path.write_text("device: {type: rram}\ncrossbar: {rows: 64, cols: 64}\n")
    assert "'technology.node_nm'" in one_line_error(path)
    # an unknown field is still named first: it is the more specific error
    path.write_text("crossbar: {rows: 64, colz: 64}\n")
    assert "'crossbar.colz'" in one_line_error(path)


def test_base_inherits_a_preset_then_overrides(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("base: pcm-14nm\nadc: {bits: 6}\ncrossbar: {rows: 128}\n")
    chip = load_chip(path)
    ref = load_chip("pcm-14nm", ["adc.bits=6", "crossbar.rows=128"])
    assert chip.model_dump(exclude={"name"}) == ref.model_dump(exclude={"name"})
    assert chip.name == "mine" and chip.display_name == "mine"
    assert chip.crossbar.cols == 256 and chip.adc.law == "survey"  # the rest of the sections are the preset's
    # a device of another type starts from its own preset, as with --set device.type=...
    path.write_text("base: pcm-14nm\nname: pcm-rram\ndevice: {type: rram}\ntechnology: {node_nm: 22}\n")
    chip = load_chip(path)
    assert chip.device.type == "rram" and chip.device.bits_per_cell == 1 and chip.technology.vdd_v == 0.8
    # a base file, relative to this one
    (tmp_path / "child.yaml").write_text("base: mine.yaml\nadc: {bits: 5}\n")
    child = load_chip(tmp_path / "child.yaml")
    assert child.device.type == "rram" and child.adc.bits == 5 and child.name == "child"


def test_bad_base_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "b.yaml"
    path.write_text("base: nope-1nm\n")
    assert "nope-1nm" in one_line_error(path, kind=UnknownNameError)
    path.write_text("base: [1, 2]\n")
    assert "'base'" in one_line_error(path)
    path.write_text("base: b.yaml\n")
    assert "nest" in one_line_error(path)


# ------------------------------------------------------------------------------------------------ CostTable
def test_cost_table_repr_is_short(small_net) -> None:
    table = estimate_batch(small_net, ["pcm-14nm"] * 3)
    text = repr(table)
    assert text.startswith("CostTable(3 chips x ") and "energy_pj" in text and "\n" not in text
    assert len(text) < 150


def test_cost_table_to_pandas(small_net) -> None:
    pd = pytest.importorskip("pandas")
    table = estimate_batch(small_net, [load_chip("pcm-14nm", ["adc.bits=6"]), "isaac-32nm"])
    df = table.to_pandas()
    assert isinstance(df, pd.DataFrame) and len(df) == 2
    assert list(df.columns[:2]) == ["chip", "energy_pj"] and df["chip"].tolist() == table.chips
    assert df["energy_pj"].tolist() == table["energy_pj"].tolist()


def test_cost_table_to_pandas_without_pandas(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match="needs pandas"):
        CostTable(["a"], {}).to_pandas()


# ------------------------------------------------------------------------------------------------ tile hint
def test_fixed_tiles_error_suggests_auto() -> None:
    big = from_layer_table("big", [dict(in_hw=8, in_c=256, k=3, out_c=512), dict(in_hw=8, in_c=512, k=3, out_c=512)])
    chip = load_chip("jia-sram-65nm")  # one tile of one 768 x 768 array
    with pytest.raises(MappingError) as info:
        estimate(big, chip)
    msg = str(info.value)
    assert "layer '" in msg and msg.endswith("use --set hierarchy.tiles=auto to size the chip to the model")
    estimate(big, load_chip("jia-sram-65nm", ["hierarchy.tiles=auto"]))  # and the hint works
