"""Shared helpers: small hand-built workloads (no torch tracing) and chips derived from presets."""
from __future__ import annotations

from typing import Callable

import pytest
from typer.testing import CliRunner

from imcnas.hardware import Chip, load_chip
from imcnas.workload.ops import Op, OpKind, Workload


def make_matrix_op(name: str, rows: int, cols: int, vectors: int, groups: int = 1,
                   in_shape: tuple[int, ...] = (), out_shape: tuple[int, ...] = ()) -> Op:
    """A MATRIX op of ``groups`` weight blocks of rows x cols, applied ``vectors`` times."""
    return Op(name=name, kind=OpKind.MATRIX, module="Conv2d", rows=rows, cols=cols, groups=groups,
              vectors=vectors, macs=rows * cols * groups * vectors, in_shape=in_shape, out_shape=out_shape)


def make_workload(*ops: Op, name: str = "hand", batch: int = 1) -> Workload:
    return Workload(name=name, ops=tuple(ops), batch=batch)


@pytest.fixture()
def matrix_op() -> Callable[..., Op]:
    return make_matrix_op


@pytest.fixture()
def workload() -> Callable[..., Workload]:
    return make_workload


@pytest.fixture()
def chip() -> Callable[..., Chip]:
    """``chip(preset, *overrides)``: a preset with ``--set`` style overrides. Duplication is fixed to 1 and tiles
    are allocated as needed unless the overrides say otherwise, so crossbar counts are easy to predict."""

    def build(preset: str = "neurosim-sram-22nm", *overrides: str) -> Chip:
        return load_chip(preset, ["mapping.duplication=1", "hierarchy.tiles=auto", *overrides])

    return build


# ------------------------------------------------------------------------------------------------ CLI helpers
CLI_ENV = {"COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"}
_runner = CliRunner()


def run_cli(*args: str):
    """Invoke the imcnas CLI in-process with a wide, colourless terminal."""
    from imcnas.cli import app

    return _runner.invoke(app, list(args), env=CLI_ENV)


def assert_user_error(result, *needles: str, quiet_stdout: bool = False) -> str:
    """Exit code 2, one line on stderr that contains every needle, no traceback (and, when asked, nothing on
    stdout)."""
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert "Traceback" not in result.output
    msg = result.stderr.strip()
    assert msg.startswith("error:") and "\n" not in msg, repr(msg)
    for needle in needles:
        assert needle in msg, (needle, msg)
    if quiet_stdout:
        assert result.stdout == ""
    return msg


@pytest.fixture()
def one_thread():
    """Tiny networks train much faster with one torch thread, above all on a loaded machine."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
