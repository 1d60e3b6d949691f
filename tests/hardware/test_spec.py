"""The hardware description: presets, strict validation with one-line errors naming the field, --set overrides,
device-type switches and YAML files."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from imcnas.errors import ConfigError, ImcnasError, UnknownNameError
from imcnas.hardware import Chip, chip_from_dict, list_presets, load_chip
from imcnas.hardware.devices import DEVICE_PRESETS, DEVICE_TYPES, device_defaults

BASE = "neurosim-sram-22nm"
README_PRESETS = ("neurosim-sram-22nm", "neurosim-rram-22nm", "isaac-32nm", "pcm-14nm")


def config_error(spec: str | Path, overrides: list[str] | None = None) -> str:
    """The message of the ConfigError that loading raises; it must be a single line."""
    with pytest.raises(ConfigError) as info:
        load_chip(spec, overrides)
    msg = str(info.value)
    assert msg and "\n" not in msg, f"not one line: {msg!r}"
    assert info.value.exit_code == 2
    return msg


# ------------------------------------------------------------------------------------------------ presets
def test_readme_presets_are_listed() -> None:
    names = list_presets()
    assert names == sorted(names)
    assert set(README_PRESETS) <= set(names)


@pytest.mark.parametrize("name", list_presets())
def test_every_preset_loads(name: str) -> None:
    chip = load_chip(name)
    assert isinstance(chip, Chip)
    assert chip.name == name
    assert chip.source.strip(), "a preset names its source"
    assert chip.cells_per_weight >= 1 and chip.cols_per_weight >= chip.cells_per_weight
    # a Chip passes through load_chip unchanged
    assert load_chip(chip) == chip


def test_unknown_preset_lists_the_known_ones() -> None:
    with pytest.raises(UnknownNameError) as info:
        load_chip("neurosim-sram-23nm")
    msg = str(info.value)
    assert isinstance(info.value, ImcnasError) and info.value.exit_code == 2
    assert "neurosim-sram-23nm" in msg and "\n" not in msg
    for name in list_presets():
        assert name in msg


# ------------------------------------------------------------------------------------------------ unknown keys
@pytest.mark.parametrize("override, path", [
    ("adcc=4", "adcc"),
    ("adc.bitz=4", "adc.bitz"),
    ("crossbar.row=256", "crossbar.row"),
    ("device.colour=1", "device.colour"),  # the device section is merged with its type's preset first
    ("technology.node=22", "technology.node"),
    ("calibration.zeta=1.2", "calibration.zeta"),
])
def test_unknown_key_at_any_depth_names_its_path(override: str, path: str) -> None:
    msg = config_error(BASE, [override])
    assert f"'{path}'" in msg
    assert "unknown" in msg.lower()


def test_unknown_key_in_a_dict_names_its_path() -> None:
    with pytest.raises(ConfigError, match=r"'hierarchy\.tile'"):
        chip_from_dict({"crossbar": {"rows": 64}, "hierarchy": {"tile": 3}})
    with pytest.raises(ConfigError, match=r"'nme'"):
        chip_from_dict({"nme": "x"})


# ------------------------------------------------------------------------------------------------ physical ranges
@pytest.mark.parametrize("override, field", [
    ("crossbar.rows=0", "crossbar.rows"),
    ("crossbar.rows=-128", "crossbar.rows"),
    ("crossbar.cols=0", "crossbar.cols"),
    ("adc.bits=0", "adc.bits"),
    ("adc.bits=17", "adc.bits"),
    ("adc.bits=40", "adc.bits"),
    ("technology.node_nm=0.5", "technology.node_nm"),
    ("technology.node_nm=0", "technology.node_nm"),
    ("technology.node_nm=131", "technology.node_nm"),
    ("crossbar.rows=abc", "crossbar.rows"),
])
def test_non_physical_value_names_the_field(override: str, field: str) -> None:
    assert f"'{field}'" in config_error(BASE, [override])


@pytest.mark.parametrize("overrides", [["adc.bits=1"], ["adc.bits=16"], ["technology.node_nm=1"],
                                       ["technology.node_nm=130"], ["crossbar.parallel_rows=128"],
                                       ["crossbar.rows=1", "crossbar.parallel_rows=null"]])
def test_range_limits_are_inclusive(overrides: list[str]) -> None:
    load_chip(BASE, overrides)


def test_parallel_rows_beyond_rows_is_rejected() -> None:
    msg = config_error(BASE, ["crossbar.rows=64", "crossbar.parallel_rows=65"])
    assert "parallel_rows" in msg
    assert load_chip(BASE, ["crossbar.rows=64", "crossbar.parallel_rows=64"]).crossbar.active_rows == 64


@pytest.mark.parametrize("kind", DEVICE_TYPES)
def test_bits_per_cell_limited_by_device(kind: str) -> None:
    limit = DEVICE_PRESETS[kind]["max_bits_per_cell"]
    assert load_chip(BASE, [f"device.type={kind}", f"device.bits_per_cell={limit}"]).device.bits_per_cell == limit
    msg = config_error(BASE, [f"device.type={kind}", f"device.bits_per_cell={limit + 1}"])
    assert "bits_per_cell" in msg


@pytest.mark.parametrize("kind", ["sram", "mram"])
def test_binary_devices_hold_one_bit(kind: str) -> None:
    assert "bits_per_cell" in config_error(BASE, [f"device.type={kind}", "device.bits_per_cell=2"])


# found while writing these tests (tiles=0 made estimate raise MappingError while estimate_batch called it
# feasible; duplication=0 gave infinite latency, -2 negative latency)
@pytest.mark.parametrize("override, field", [
    ("hierarchy.tiles=0", "hierarchy.tiles"),
    ("hierarchy.tiles=-3", "hierarchy.tiles"),
    ("mapping.duplication=0", "mapping.duplication"),
    ("mapping.duplication=-2", "mapping.duplication"),
])
def test_non_positive_counts_are_rejected(override: str, field: str) -> None:
    assert field in config_error(BASE, [override])


# found while writing these tests (.inf turned energy into nan and --json output into invalid JSON)
@pytest.mark.parametrize("override, field", [
    ("buffers.tile_kb=.inf", "buffers.tile_kb"),
    ("device.cell_area_f2=.inf", "device.cell_area_f2"),
    ("device.r_on_ohm=.nan", "device.r_on_ohm"),
    ("technology.clock_ghz=.nan", "technology.clock_ghz"),
])
def test_infinite_values_are_rejected(override: str, field: str) -> None:
    assert field in config_error(BASE, [override])


# ------------------------------------------------------------------------------------------------ overrides
def test_overrides_apply_and_leave_the_rest() -> None:
    base = load_chip("isaac-32nm")
    chip = load_chip("isaac-32nm", ["adc.bits=6", "crossbar.rows=256"])
    assert chip.adc.bits == 6 and chip.crossbar.rows == 256
    assert base.adc.bits == 8 and base.crossbar.rows == 128
    assert chip.crossbar.cols == base.crossbar.cols and chip.adc.law == base.adc.law
    assert chip.model_dump(exclude={"adc", "crossbar"}) == base.model_dump(exclude={"adc", "crossbar"})
    # the preset itself is not changed by an earlier override
    assert load_chip("isaac-32nm") == base


def test_override_values_are_typed() -> None:
    chip = load_chip(BASE, ["adc.law=saberi", "hierarchy.tiles=12", "mapping.pipeline=false",
                            "technology.clock_ghz=0.5", "crossbar.parallel_rows=16"])
    assert chip.adc.law == "saberi"
    assert chip.hierarchy.tiles == 12
    assert chip.mapping.pipeline is False
    assert chip.technology.clock_ghz == 0.5
    assert chip.crossbar.active_rows == 16
    assert load_chip(BASE, ["hierarchy.tiles=auto"]).hierarchy.tiles == "auto"


def test_later_override_wins() -> None:
    assert load_chip(BASE, ["adc.bits=6", "adc.bits=4"]).adc.bits == 4


@pytest.mark.parametrize("override", ["adc.bits", "=4", "adc.bits.x=1"])
def test_malformed_override_is_a_config_error(override: str) -> None:
    config_error(BASE, [override])


# found while writing these tests (yaml.ParserError escaped: CLI traceback, exit 1)
@pytest.mark.parametrize("override", ["adc.bits=[8", "name=*x"])
def test_unparsable_override_value_is_a_config_error(override: str) -> None:
    assert override.split("=")[0] in config_error(BASE, [override])


def test_override_on_a_chip_object() -> None:
    chip = load_chip(load_chip("pcm-14nm"), ["adc.bits=6"])
    assert chip.name == "pcm-14nm" and chip.adc.bits == 6


# ------------------------------------------------------------------------------------------------ device type
def _device_numbers(chip: Chip) -> dict:
    return {k: v for k, v in chip.device.model_dump().items() if k in device_defaults(chip.device.type)}


def test_device_type_override_takes_the_new_devices_preset() -> None:
    base = load_chip("isaac-32nm")  # RRAM with its own numbers: 2 kOhm, on/off 10, 2-bit cells, 4 F^2, 100 ns
    chip = load_chip("isaac-32nm", ["device.type=pcm"])
    assert chip.device.type == "pcm"
    expected = device_defaults("pcm")
    for key, value in _device_numbers(chip).items():
        if key == "noise":  # the preset names some noise fields; the rest keep the Noise record's defaults
            assert all(value[k] == v for k, v in expected["noise"].items())
        else:
            assert value == expected[key], key
    assert chip.device.noise.model == "pcm"
    assert chip.device.r_on_ohm != base.device.r_on_ohm
    assert chip.device.bits_per_cell == expected["bits_per_cell"] != base.device.bits_per_cell
    assert chip.device.cell_area_f2 == expected["cell_area_f2"] != base.device.cell_area_f2
    # same as a YAML that names only the device type
    assert chip.device == chip_from_dict({"device": {"type": "pcm"}}).device


def test_device_type_override_then_field_override() -> None:
    chip = load_chip("isaac-32nm", ["device.type=pcm", "device.bits_per_cell=3"])
    assert chip.device.bits_per_cell == 3
    assert chip.device.r_on_ohm == device_defaults("pcm")["r_on_ohm"]


def test_device_type_override_to_sram_drops_resistances() -> None:
    chip = load_chip("neurosim-rram-22nm", ["device.type=sram"])
    assert chip.device.type == "sram" and chip.device.r_on_ohm is None
    assert chip.device.cell_area_f2 == device_defaults("sram")["cell_area_f2"]


# found while writing these tests (device.type=... cleared device overrides given before it)
def test_device_field_override_before_type_override_is_kept() -> None:
    chip = load_chip(BASE, ["device.bits_per_cell=2", "device.type=pcm"])
    assert chip.device.type == "pcm" and chip.device.bits_per_cell == 2


# ------------------------------------------------------------------------------------------------ YAML files
def test_yaml_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump({
        "name": "mine", "technology": {"node_nm": 28},
        "device": {"type": "rram", "bits_per_cell": 2},
        "crossbar": {"rows": 256, "cols": 64, "parallel_rows": 64},
        "adc": {"bits": 6, "law": "saberi"},
    }))
    chip = load_chip(path)
    assert chip.name == "mine"
    assert chip.technology.node_nm == 28
    assert chip.device.bits_per_cell == 2 and chip.device.r_on_ohm == device_defaults("rram")["r_on_ohm"]
    assert (chip.crossbar.rows, chip.crossbar.cols, chip.crossbar.active_rows) == (256, 64, 64)
    assert chip.adc.bits == 6 and chip.adc.law == "saberi"
    assert chip.cells_per_weight == 4  # 8-bit default weights on 2-bit cells
    # the same file as a string path, with an override
    assert load_chip(str(path), ["adc.bits=4"]).adc.bits == 4


def test_yml_suffix(tmp_path: Path) -> None:
    path = tmp_path / "mine.yml"
    path.write_text("base: neurosim-sram-22nm\ncrossbar: {rows: 64}\n")
    assert load_chip(path).crossbar.rows == 64


def test_yaml_typo_key_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "typo.yaml"
    path.write_text("crossbar:\n  rows: 128\n  colz: 128\n")
    msg = config_error(path)
    assert "'crossbar.colz'" in msg and "typo.yaml" in msg


def test_yaml_out_of_range_names_the_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("adc: {bits: 0}\n")
    assert "'adc.bits'" in config_error(path)


@pytest.mark.parametrize("text", ["- just\n- a list\n", "crossbar: {rows: [\n", "42\n"])
def test_yaml_that_is_not_a_mapping_is_a_config_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "odd.yaml"
    path.write_text(text)
    assert "odd.yaml" in config_error(path)


@pytest.mark.parametrize("name", ["missing.yaml", "missing.yml", "sub/dir/missing.yaml"])
def test_missing_yaml_file(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    msg = config_error(path)
    assert "missing" in msg and "not found" in msg
    assert config_error(str(path)) == msg


def test_a_hardware_field_written_twice_is_an_error(tmp_path) -> None:
    from imcnas.errors import ConfigError
    from imcnas.hardware import load_chip

    path = tmp_path / "chip.yaml"
    path.write_text("base: pcm-14nm\nadc:\n  bits: 6\n  bits: 4\n")
    with pytest.raises(ConfigError, match=r"chip.yaml: line 4: key 'bits' appears twice"):
        load_chip(path)
