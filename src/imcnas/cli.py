"""Command line: thin wrappers over the public API. User errors print one line and exit with code 2."""
from __future__ import annotations

import functools
import json
import shlex
import signal
import sys
from pathlib import Path
from typing import Any, Callable, Optional

import typer
import yaml
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from imcnas.cli_report import print_report, warn_unsupported
from imcnas.errors import ConfigError, ImcnasError

app = typer.Typer(help="imcnas: hardware-aware NAS and co-design for in-memory-computing accelerators.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
hardware_app = typer.Typer(help="List and show hardware presets.", no_args_is_help=True)
app.add_typer(hardware_app, name="hardware")
out = Console()
err = Console(stderr=True)


def _user_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn ImcnasError into a one-line message and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ImcnasError as exc:
            err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
            raise typer.Exit(code=exc.exit_code) from None

    return wrapper


@app.command()
@_user_errors
def estimate(
    model: str = typer.Argument(..., help="zoo model name (see 'imcnas models') or path/to/file.py:factory"),
    hardware: str = typer.Option("neurosim-sram-22nm", "--hardware", "-H", help="preset name or YAML file"),
    set_: Optional[list[str]] = typer.Option(None, "--set", help="override a hardware field: path.to.field=value"),
    as_json: bool = typer.Option(False, "--json", help="print the full report as JSON"),
    ops: bool = typer.Option(False, "--ops", help="also list every operation with where it runs (crossbar, "
                             "dynamic, digital, unsupported)"),
) -> None:
    """Energy, latency and area of MODEL on a crossbar IMC chip."""
    from imcnas.hardware import estimate as _estimate, load_chip

    chip = load_chip(hardware, set_ or [])
    report = _estimate(model, chip).to_dict()
    if as_json:
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
        warn_unsupported(report)
    else:
        print_report(report, every_op=ops)


@app.command()
@_user_errors
def sweep(
    model: str = typer.Argument(..., help="zoo model name (see 'imcnas models') or path/to/file.py:factory"),
    hardware: str = typer.Option("neurosim-sram-22nm", "--hardware", "-H", help="base chip: preset or YAML file"),
    grid: Optional[list[str]] = typer.Option(None, "--grid", "-g", help="a swept field: FIELD=a:b (integers, "
                                             "inclusive), FIELD=a:b:step or FIELD=v1,v2,... (repeatable)"),
    set_: Optional[list[str]] = typer.Option(None, "--set", help="a fixed override: path.to.field=value"),
    out_dir: str = typer.Option("", "--out", "-o", help="output folder (default: runs/sweep-MODEL-HARDWARE)"),
) -> None:
    """Cost-only hardware sweep: MODEL priced on every combination of the --grid fields (one vectorised pass);
    writes sweep.csv and sweep.html."""
    from pathlib import Path

    from imcnas.hardware.sweep import sweep as _sweep, summary_table

    if not grid:
        raise ConfigError("give at least one --grid FIELD=VALUES, e.g. --grid adc.bits=3:8")
    result = _sweep(model, hardware, grid, set_ or [])
    stem = lambda s: Path(s.split(":")[0]).stem or s  # noqa: E731
    target = Path(out_dir) if out_dir else Path("runs") / f"sweep-{stem(model)}-{stem(hardware)}"
    paths = result.write(target)
    for renderable in summary_table(result):
        out.print(renderable)
    for name, path in paths.items():
        out.print(f"{name}: {path}", highlight=False, soft_wrap=True)


@app.command()
@_user_errors
def models() -> None:
    """List the built-in models."""
    from imcnas.workload.zoo import list_models

    for name in list_models():
        out.print(name)


@hardware_app.command("list")
@_user_errors
def hardware_list() -> None:
    """List the hardware presets with their sources."""
    from imcnas.hardware import list_presets, load_chip

    wide = out.width >= 110  # narrower terminals get the sources below the table, names are never cut
    table = Table(title="hardware presets")
    table.add_column("preset", no_wrap=True)
    for col in ("node", "device", "crossbar", "ADC"):
        table.add_column(col, no_wrap=True, justify="right" if col == "node" else "left")
    if wide:
        table.add_column("source", overflow="fold")
    sources = Table.grid(padding=(0, 2))
    sources.add_column(no_wrap=True)
    sources.add_column(overflow="fold")
    for name in list_presets():
        c = load_chip(name)
        source = " ".join(c.source.split(":")[0].split())
        cells = [name, f"{c.technology.node_nm:g} nm", c.device.type, f"{c.crossbar.rows}x{c.crossbar.cols}",
                 f"{c.adc.bits}b {c.adc.type}/{c.adc.cols_per_adc}"]
        table.add_row(*cells, *([source] if wide else []))
        sources.add_row(name, source)
    out.print(table)
    if not wide:
        out.print("sources:")
        out.print(sources)


@hardware_app.command("show")
@_user_errors
def hardware_show(
    name: str = typer.Argument(..., help="preset name or YAML file"),
    set_: Optional[list[str]] = typer.Option(None, "--set", help="override a field: path.to.field=value"),
) -> None:
    """Print the full, validated hardware description as YAML (defaults filled in)."""
    from imcnas.hardware import load_chip

    chip = load_chip(name, set_ or [])
    sys.stdout.write(yaml.safe_dump(chip.model_dump(), sort_keys=False))


def _fresh_dir(base: Path, resume: bool) -> Path:
    """runs/<name>, or runs/<name>-2, -3, ... when that already holds a study (resume takes the newest)."""
    taken = [base] + [base.with_name(f"{base.name}-{i}") for i in range(2, 1000)]
    used = [p for p in taken if (p / "study.db").exists()]
    if resume:
        return used[-1] if used else base
    return next(p for p in taken if not (p / "study.db").exists())


@app.command()
@_user_errors
def search(
    config: str = typer.Argument(..., help="experiment YAML (see examples/quickstart.yaml)"),
    out_dir: str = typer.Option("", "--out", "-o", help="output folder (default: a new runs/<config name>[-N])"),
    resume: bool = typer.Option(False, "--resume", help="continue the study stored in --out"),
    set_: Optional[list[str]] = typer.Option(None, "--set", help="override a config field: path.to.field=value"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress bar"),
) -> None:
    """Co-search networks and hardware: the Pareto front of (network, chip) designs."""
    from imcnas.config import load_config
    from imcnas.search.study import Study
    from imcnas.ui import SearchDisplay, front_table

    cfg = load_config(config, set_ or [])
    target = Path(out_dir) if out_dir else _fresh_dir(Path("runs") / cfg.name, resume)
    display = SearchDisplay(cfg.formulation_obj().metrics, err)
    try:
        study = Study(cfg, target, resume=resume, progress=None if quiet else display)
    except KeyboardInterrupt:
        err.print("[bold yellow]interrupted before the first trial[/]; nothing was evaluated", highlight=False)
        raise typer.Exit(code=130) from None
    try:
        if quiet:
            status = study.run()
        else:
            with display:
                status = study.run()
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the message below is not cut by a second Ctrl-C
        again = " ".join(["imcnas search", shlex.quote(config), "--out", shlex.quote(str(target)), "--resume",
                          *[f"--set {shlex.quote(x)}" for x in set_ or []]])
        err.print(f"[bold yellow]{escape(study.status.message or 'interrupted')}[/]; continue with:\n  {escape(again)}",
                  highlight=False, soft_wrap=True)
        raise typer.Exit(code=130) from None
    metrics = list(cfg.formulation_obj().metrics)
    out.print(front_table(status.trials, metrics, width=out.width))
    if status.message:
        err.print(f"[yellow]{escape(status.message)}[/]", highlight=False, soft_wrap=True)
    out.print(f"study stored in {target} (run 'imcnas report {target}' for the HTML report)", soft_wrap=True)
    if status.failed and not status.complete:
        reasons = "; ".join(f"{n}x {r}" for r, n in status.failure_summary())
        err.print(f"[bold red]error:[/] all {status.failed} evaluated trials failed; most common reasons: "
                  f"{escape(reasons)}", highlight=False, soft_wrap=True)
        raise typer.Exit(code=1)


@app.command()
@_user_errors
def report(out_dir: str = typer.Argument(..., help="a study folder written by 'imcnas search'")) -> None:
    """Write report.html, front.csv, trials.csv and the front's designs into the study folder."""
    from imcnas.analysis.report import write_report

    paths = write_report(Path(out_dir))
    for name, path in paths.items():
        out.print(f"{name}: {path}")


@app.command()
@_user_errors
def export(
    out_dir: str = typer.Argument(..., help="a study folder written by 'imcnas search'"),
    trial: Optional[list[int]] = typer.Option(None, "--trial", "-t", help="trial number (repeatable); "
                                              "default: the Pareto front"),
    dest: str = typer.Option("", "--dest", help="where to write the designs (default: DIR/designs)"),
) -> None:
    """Export designs: model.py (accepted by 'imcnas estimate DIR/designs/trial_N/model.py:model'),
    weights.pt, hardware.yaml and design.json."""
    from imcnas.analysis.export import export_designs

    for path in export_designs(out_dir, trial or None, dest or None):
        out.print(str(path))


@app.command()
@_user_errors
def bench(
    quick: bool = typer.Option(False, "--quick", help="2 seeds, 100 and 300 evaluations (minutes)"),
    problems: str = typer.Option("", "--problems", "-p", help="comma-separated (default: all available)"),
    methods: str = typer.Option("", "--methods", "-m", help="comma-separated (default: all)"),
    seeds: int = typer.Option(0, "--seeds", help="seeds per (problem, method) (default 10, quick 2)"),
    jobs: int = typer.Option(0, "--jobs", "-j", help="worker processes (default: every core)"),
    out_dir: str = typer.Option("runs/bench", "--out", "-o", help="folder for results.json, bench.md, figures"),
    doc: str = typer.Option("", "--doc", help="also put the report into this markdown file (its own block), "
                            "e.g. docs/benchmarks.md"),
    figures: str = typer.Option("", "--figures", help="figure folder (default: OUT)"),
    load: Optional[list[str]] = typer.Option(None, "--load", help="render saved results.json (repeatable: "
                                             "merged), run nothing"),
    resume: bool = typer.Option(False, "--resume", help="continue an interrupted benchmark in OUT (runs.jsonl)"),
) -> None:
    """Search-efficiency benchmark: methods x problems x seeds against each problem's true front."""
    import os

    from imcnas.benchmarks import bench_report
    from imcnas.benchmarks.suite import BenchConfig, load_results, read_journal, run_bench, save_results

    target = Path(out_dir)
    if load:
        data = load_results([Path(p) for p in load])
    else:
        split = lambda s: [x.strip() for x in s.split(",") if x.strip()]  # noqa: E731
        cfg = BenchConfig(quick=quick, seeds=seeds or (2 if quick else 10), jobs=jobs,
                          **({"problems": split(problems)} if problems else {}),
                          **({"methods": split(methods)} if methods else {}))

        def tick(r: dict, k: int, n: int) -> None:
            last = r["ratio"][-1] if r["ratio"] else 0.0
            err.print(f"[{k}/{n}] {r['problem']} {r['method']} seed {r['seed']}: {len(r['ratio'])} evals, "
                      f"HV ratio {last:.3f}, {r['seconds']:.1f} s", highlight=False)

        journal = target / "runs.jsonl"
        if journal.exists() and not resume:
            raise ConfigError(f"{journal} holds runs of an earlier benchmark: add --resume to continue it, or "
                              "choose another --out")
        target.mkdir(parents=True, exist_ok=True)
        try:
            data = run_bench(cfg, tick, journal)
        except KeyboardInterrupt:
            again = " ".join(shlex.quote(a) for a in sys.argv[1:] if a != "--resume")
            err.print(f"interrupted: {len(read_journal(journal))} finished runs kept in {journal}; continue with: "
                      f"imcnas {again} --resume", highlight=False, soft_wrap=True)
            raise typer.Exit(code=130) from None
        save_results(data, target / "results.json")
    fig_dir = Path(figures) if figures else target
    made = bench_report.figures(data, fig_dir)
    for name, why in data["meta"]["skipped"].items():
        err.print(f"skipped {name}: {why}", highlight=False, soft_wrap=True)
    md_path = target / "bench.md"
    md_path.parent.mkdir(parents=True, exist_ok=True)
    md_path.write_text(bench_report.render(data, os.path.relpath(fig_dir, target) if made else None))
    if doc:
        rel = os.path.relpath(fig_dir, Path(doc).resolve().parent) if made else None
        bench_report.write_block(doc, bench_report.render(data, rel))
    for line in bench_report.verdict(data):
        out.print(line.strip(), highlight=False, soft_wrap=True)
    for p in [target / "results.json"] * (not load) + [md_path] + ([Path(doc)] if doc else []) + made:
        out.print(f"wrote {p}", highlight=False, soft_wrap=True)


def main() -> None:
    """Console entry point."""
    app()


if __name__ == "__main__":
    main()
