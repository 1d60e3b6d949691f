"""The report of ``imcnas bench``: markdown tables, the verdict on the default strategy, HV-vs-evaluations
figures, and the block it owns in ``docs/benchmarks.md`` (between ``BEGIN``/``END`` markers; the rest of
the file is left as it is)."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import numpy as np

from imcnas.benchmarks.runners import BATCH, METHODS, PATIENCE

__all__ = ["BEGIN", "END", "figures", "render", "verdict", "write_block"]

BEGIN = "<!-- BEGIN imcnas bench (generated: edits here are overwritten) -->"
END = "<!-- END imcnas bench -->"
BASELINES = ("pymoo-nsga2", "optuna")


def _runs(data: dict, problem: str, method: str) -> list[dict]:
    return sorted((r for r in data["results"] if r["problem"] == problem and r["method"] == method),
                  key=lambda r: r["seed"])


def _at(r: dict, n: int) -> float:
    return float(r["ratio"][n - 1]) if len(r["ratio"]) >= n else math.nan


def _stats(xs: Sequence[float]) -> tuple[float, float, int]:
    good = [x for x in xs if x is not None and not math.isnan(x)]
    if not good:
        return math.nan, math.nan, 0
    return float(np.mean(good)), float(np.std(good, ddof=1)) if len(good) > 1 else 0.0, len(good)


def _cell(xs: Sequence[float], digits: int = 3) -> str:
    m, s, k = _stats(xs)
    if k == 0:
        return "—"
    out = f"{m:.{digits}f} ± {s:.{digits}f}"
    return out if k == len(xs) else f"{out} ({k}/{len(xs)})"


def _col(c: int, pm: dict) -> str:
    return f"{c:,} (1 %)" if c == pm.get("one_percent") else f"{c:,}"


def _to_target(runs: list[dict], t: float) -> str:
    hits = [r["to_target"][str(t)] for r in runs]
    ok = sorted(h for h in hits if h is not None)
    if not ok:
        return f"— (0/{len(runs)})"
    med = float(np.median([h if h is not None else math.inf for h in hits]))
    med_s = f"{int(med):,}" if math.isfinite(med) else "—"
    return f"{med_s} ({len(ok)}/{len(runs)}; {ok[0]:,}-{ok[-1]:,})"


def _label(m: str) -> str:
    return METHODS[m].label if m in METHODS else m


def compare(data: dict, problem: str, a: str, b: str, c: int) -> tuple[str, float]:
    """'ahead', 'at' or 'behind': method ``a`` against ``b`` at ``c`` evaluations. 'at' = the difference of
    the means is within one standard error of that difference; a run that stopped short counts its last
    ratio."""
    def vals(m: str) -> list[float]:
        return [r["ratio"][min(c, len(r["ratio"])) - 1] if r["ratio"] else 0.0 for r in _runs(data, problem, m)]

    xa, xb = vals(a), vals(b)
    if not xa or not xb:
        return "n/a", math.nan
    d = float(np.mean(xa) - np.mean(xb))
    se = math.sqrt((np.var(xa, ddof=1) if len(xa) > 1 else 0) / len(xa)
                   + (np.var(xb, ddof=1) if len(xb) > 1 else 0) / len(xb))
    return ("ahead" if d > se else "behind" if d < -se else "at"), d


def shortfalls(data: dict, method: str) -> tuple[list[str], list[str], int]:
    """Where ``method`` falls short: the (problem, budget, baseline) cells where it is behind a plain baseline,
    the finite problems where not every seed reaches 0.98 of the true HV within 1 % of the space, and the
    number of (problem, seed) runs that do reach it."""
    meta = data["meta"]
    behind: list[str] = []
    goal_miss: list[str] = []
    reached = 0
    for name, pm in meta["problems"].items():
        for b in BASELINES:
            if b not in meta["methods"] or b == method:
                continue
            for c in pm["checkpoints"]:
                how, d = compare(data, name, method, b, c)
                if how == "behind":
                    behind.append(f"{pm['label']} at {c:,} vs {_label(b)} ({d:+.3f})")
        pct = pm.get("one_percent")
        if pct is None:
            continue
        hits = [r["to_target"]["0.98"] for r in _runs(data, name, method)]
        k = sum(h is not None and h <= pct for h in hits)
        reached += k
        if pct > pm["checkpoints"][-1]:
            goal_miss.append(f"{pm['label']}: not measured (1 % = {pct:,} evaluations > this run's budget)")
        elif k < len(hits):
            few = f" (the true front alone has {pm['front_size']} designs)" if pct < pm["front_size"] else ""
            goal_miss.append(f"{pm['label']}: {k}/{len(hits)} seeds reach 0.98 within {pct:,} evaluations{few}")
    return behind, goal_miss, reached


def verdict(data: dict) -> list[str]:
    """Markdown lines: is the default strategy at or ahead of the plain baselines at every budget, and does it
    reach 0.98 of the true HV within 1 % of each finite space on every seed? Which imcnas method would make
    the best default by the same two tests, and which method wins most cells."""
    from imcnas.config import StrategyConfig

    meta = data["meta"]
    default = StrategyConfig().name  # today's default (the saved results may predate a change of default)
    L: list[str] = [f"Default strategy: `{default}` (`strategy.name` when the YAML names none).\n"]
    if default in meta["methods"]:
        behind, goal_miss, _ = shortfalls(data, default)
        if behind:
            L.append(f"- **Not at or ahead everywhere**: `{default}` is behind (by more than one standard error) "
                     "at " + "; ".join(behind) + ".")
        else:
            L.append(f"- `{default}` is at or ahead of plain pymoo NSGA-II and plain optuna at every budget on "
                     "every problem (\"at\": within one standard error of the difference of the means).")
        if goal_miss:
            L.append("- **0.98 of the true HV within 1 % of the space, every seed: not met** — "
                     + "; ".join(goal_miss) + ".")
        else:
            L.append("- 0.98 of the true HV within 1 % of the space on every seed: met on every finite problem.")
    ours = [m for m in meta["methods"] if m in METHODS and METHODS[m].kind == "strategy"]
    if ours:
        score = {m: shortfalls(data, m) for m in ours}

        def key(m: str) -> tuple[int, int]:
            return (len(score[m][0]), -score[m][2]) if m in score else (10**9, 0)

        ranked = sorted(ours, key=key)
        best = ranked[0]
        L.append("- Candidates for the default (imcnas strategies and their *-style* configurations), by cells "
                 "behind a plain baseline, then runs reaching 0.98 within 1 % of the space (cells / runs): "
                 + ", ".join(f"{_label(m)} {len(score[m][0])} / {score[m][2]}" for m in ranked) + ". "
                 + (f"The default `{default}` is the best by this rule." if key(default) == key(best)
                    else f"**{_label(best)} would be the better default.**"))
    wins: dict[str, float] = {}
    cells = 0
    for name, pm in meta["problems"].items():
        for c in pm["checkpoints"]:
            mean = {m: np.mean([r["ratio"][min(c, len(r["ratio"])) - 1] if r["ratio"] else 0.0
                                for r in _runs(data, name, m)] or [0.0]) for m in meta["methods"]}
            top = max(mean.values())
            tied = [m for m, v in mean.items() if v >= top - 1e-9]
            for m in tied:  # a tie shares the cell
                wins[m] = wins.get(m, 0.0) + 1.0 / len(tied)
            cells += 1
    order = sorted(wins.items(), key=lambda kv: -kv[1])
    L.append(f"- Best mean HV ratio per (problem, budget) cell ({cells} cells, ties shared): "
             + ", ".join(f"{_label(m)} {k:.3g}" for m, k in order) + ".")
    return L


def render(data: dict, figure_dir: str | None = None) -> str:
    """The markdown report."""
    meta = data["meta"]
    L: list[str] = [BEGIN, "", "## Search efficiency: `imcnas bench`", ""]
    resumed = meta.get("resumed_runs", 0)
    runtime = (f"{meta['total_s'] / 60:.1f} min" + (f" (after resuming {resumed} finished runs)" if resumed else "")
               + (f"; the runs took {meta['run_s'] / 60:.1f} min of worker time" if "run_s" in meta else ""))
    L.append(f"Written by `imcnas bench{' --quick' if meta['quick'] else ''}` in {runtime} on "
             f"{meta['machine']} ({meta['jobs']} worker process{'es' if meta['jobs'] > 1 else ''}, one thread each); Python "
             f"{meta['versions']['python']}, numpy {meta['versions']['numpy']}, pymoo {meta['versions']['pymoo']}, "
             f"optuna {meta['versions']['optuna']}. {meta['seeds']} seeds (0-{meta['seeds'] - 1}); cells are mean ± "
             "standard deviation over seeds (ddof 1); (k/n): only k seeds got that far.\n")
    L.append("**Scores.** HV ratio: hypervolume of every design evaluated so far / the true front's (pymoo `HV`, "
             "reference point = the true front's nadir + 10 % of its range). IGD+ (pymoo `IGDPlus`) of the "
             "evaluated non-dominated set to the true front, both normalised by the true front's ideal and nadir "
             "points (lower is better). Time to target: distinct evaluations until the HV ratio reaches 0.95 / "
             "0.98 of the true HV: median over seeds (a miss counts as infinite), seeds reaching it, range.\n")
    L.append(f"**Counting.** An evaluation is a distinct design: a method that asks a design again is told its "
             f"values for free. Runs stop at the budget (the last column), after {meta['reask_factor']} x the "
             f"budget samples asked, after {PATIENCE:,} asks in a row without a new design, or, for the "
             f"optuna-based methods (`tpe`, plain optuna; their cost grows with the square of the trials), after "
             f"{meta['slow_asks']:,} samples asked. imcnas strategies ask in batches of {BATCH}.\n")
    L.append("**Problems.**\n")
    L.append("| problem | designs | parameters | objectives | true front | notes |")
    L.append("|---|---:|---:|---|---:|---|")
    for name, pm in meta["problems"].items():
        size = f"{pm['size']:,}" if pm["size"] else "continuous"
        L.append(f"| {pm['label']} (`{name}`) | {size} | {pm['params']} | {', '.join(pm['objectives'])} | "
                 f"{pm['front_size']:,} | {pm['notes']} |")
    for name, why in meta["skipped"].items():
        L.append(f"| `{name}` | — | — | — | — | skipped: {why} |")
    L.append("")
    L.append("**Methods.** imcnas strategies with default options; plain library baselines; the search schemes "
             "of published IMC NAS methods as configurations of our strategies (the scheme only, labelled "
             "*-style*).\n")
    for m in meta["methods"]:
        md = METHODS[m]
        what = md.note or f"`get_strategy('{md.strategy}')` with default options"
        if md.kind == "strategy" and md.options:
            what += f" (options {dict(md.options)})"
        L.append(f"- **{md.label}** (`{m}`): {what}.")
    L.append("")
    L.append("### Verdict\n")
    L += verdict(data)
    L.append("")
    for name, pm in meta["problems"].items():
        cols = pm["checkpoints"]
        L.append(f"### {pm['label']}\n")
        if figure_dir:
            L.append(f"![HV ratio vs evaluations on {pm['label']}]({figure_dir}/bench_{name}.png)\n")
        L.append("HV ratio after N distinct evaluations:\n")
        L.append("| method | " + " | ".join(_col(c, pm) for c in cols) + " | distinct / asked | s per run |")
        L.append("|---|" + "---:|" * (len(cols) + 2))
        for m in meta["methods"]:
            rs = _runs(data, name, m)
            if not rs:
                continue
            L.append(f"| {_label(m)} | " + " | ".join(_cell([_at(r, c) for r in rs]) for c in cols)
                     + f" | {np.mean([len(r['ratio']) for r in rs]):,.0f} / {np.mean([r['asks'] for r in rs]):,.0f}"
                     f" | {np.mean([r['seconds'] for r in rs]):.1f} |")
        L.append("\nIGD+ (normalised) after N distinct evaluations, and evaluations to reach 0.95 / 0.98 of the "
                 "true HV:\n")
        L.append("| method | " + " | ".join(_col(c, pm) for c in cols) + " | to 0.95 | to 0.98 |")
        L.append("|---|" + "---:|" * len(cols) + "---|---|")
        for m in meta["methods"]:
            rs = _runs(data, name, m)
            if not rs:
                continue
            igd = [_cell([r["igd"][str(c)] if r["igd"][str(c)] is not None else math.nan for r in rs], 4)
                   for c in cols]
            L.append(f"| {_label(m)} | " + " | ".join(igd) + f" | {_to_target(rs, 0.95)} | {_to_target(rs, 0.98)} |")
        L.append("")
    L.append(END)
    return "\n".join(L) + "\n"


def figures(data: dict, out_dir: str | Path) -> list[Path]:
    """One PNG per problem: mean HV ratio vs distinct evaluations (log x) per method, band = ± 1 std.
    Needs matplotlib (the ``dev`` extra); returns [] without it."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    from imcnas.config import StrategyConfig

    paths = []
    meta = data["meta"]
    default = StrategyConfig().name
    for name, pm in meta["problems"].items():
        fig, ax = plt.subplots(figsize=(9.5, 4.8))
        n = pm["checkpoints"][-1]
        x = np.arange(1, n + 1)
        colours = plt.get_cmap("tab20").colors
        for i, m in enumerate(meta["methods"]):
            rs = _runs(data, name, m)
            if not rs:
                continue
            Y = np.array([np.pad(r["ratio"], (0, n - len(r["ratio"])), mode="edge") if r["ratio"] else np.zeros(n)
                          for r in rs])[:, :n]
            mu, sd = Y.mean(0), Y.std(0)
            style = "--" if m.endswith("-style") else ":" if METHODS[m].kind != "strategy" else "-"
            main = m == default
            ax.plot(x, mu, style, color=colours[(2 * i) % 20 if i < 10 else (2 * i + 1) % 20], lw=2.4 if main else 1.2,
                    label=_label(m).replace("`", "") + (" (default)" if main else ""), zorder=3 if main else 2)
            ax.fill_between(x, mu - sd, np.minimum(mu + sd, 1.0), color=colours[(2 * i) % 20], alpha=0.07)
        for t in (0.95, 0.98):
            ax.axhline(t, color="grey", lw=0.6, ls="--")
        if pm.get("one_percent") and pm["one_percent"] <= n:
            ax.axvline(pm["one_percent"], color="grey", lw=0.6, ls=":")
            ax.annotate("1 % of the space", (pm["one_percent"], 0.02), fontsize=7, color="grey", rotation=90)
        ax.set_xscale("log")
        ax.set_xlabel("distinct evaluations")
        ax.set_ylabel("HV ratio (of the true front)")
        ax.set_ylim(0.0, 1.01)
        ax.set_title(f"{pm['label']}: mean ± std over {meta['seeds']} seeds")
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
        fig.tight_layout()
        p = out / f"bench_{name}.png"
        fig.savefig(p, dpi=110)
        plt.close(fig)
        paths.append(p)
    return paths


def write_block(doc: str | Path, block: str) -> None:
    """Put ``block`` into ``doc`` in place of the previous BEGIN..END block (or at the top, under the title)."""
    path = Path(doc)
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        text = head + block.rstrip("\n") + tail
    else:
        lines = text.split("\n", 1)
        text = lines[0] + "\n\n" + block + ("\n" + lines[1] if len(lines) > 1 else "")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
