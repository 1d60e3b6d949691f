"""report.html in a real browser: headless Chromium loads the page and logs every console message to stderr
(``--enable-logging=stderr``: lines with ``CONSOLE``); an uncaught exception or console.error in any of the
page's scripts is a failure. No CDP client or browser-automation package is needed, only a Chromium binary
(Debian/Ubuntu: ``apt-get install -y chromium``); without one the tests skip.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from imcnas.analysis import write_report

from test_report import THREE, make_study  # noqa: E402 (tests/analysis is on sys.path under pytest)

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
# messages of the browser itself, not of the page's scripts: software WebGL in a GPU-less headless run
BENIGN = re.compile(r"WebGL|GL Driver Message|swiftshader|willReadFrequently|GPU stall", re.IGNORECASE)


def chromium() -> str:
    """The Chromium binary: $IMCNAS_CHROMIUM, else the first of BROWSERS on PATH; skips the test if none."""
    path = os.environ.get("IMCNAS_CHROMIUM") or next((p for p in map(shutil.which, BROWSERS) if p), None)
    if not path:
        pytest.skip("no Chromium binary found (tried $IMCNAS_CHROMIUM and " + ", ".join(BROWSERS) +
                    "); install one, e.g. 'apt-get install -y chromium'")
    return path


def render(page: Path, profile: Path, fragment: str = "") -> tuple[str, list[str]]:
    """The DOM after the page's scripts ran, and the console messages of the page (browser noise dropped)."""
    cmd = [chromium(), "--headless", "--disable-gpu", "--no-sandbox", "--disable-dev-shm-usage",
           "--no-first-run", "--no-default-browser-check", f"--user-data-dir={profile}", "--enable-logging=stderr",
           "--v=0", "--dump-dom", page.resolve().as_uri() + fragment]
    try:
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        pytest.fail(f"chromium did not finish rendering {page} within 120 s")
    assert run.stdout.strip(), f"chromium rendered nothing (exit {run.returncode}):\n{run.stderr[-3000:]}"
    console = [line for line in run.stderr.splitlines()
               if ("CONSOLE" in line or "Uncaught" in line) and not BENIGN.search(line)]
    return run.stdout, console


def test_the_console_check_sees_errors(tmp_path: Path) -> None:
    """The check below is not vacuous: a script error and a console.error on a page are both caught."""
    page = tmp_path / "bad.html"
    page.write_text("<!DOCTYPE html><html><body><p id='p'>before</p><script>console.error('boom-1');"
                    "document.getElementById('p').textContent = 'after';</script>"
                    "<script>notDefinedAnywhere();</script></body></html>")
    dom, console = render(page, tmp_path / "profile")
    assert "after" in dom
    assert any("boom-1" in line for line in console), console
    assert any("Uncaught ReferenceError" in line for line in console), console


def test_report_renders_without_js_errors(tmp_path: Path) -> None:
    make_study(tmp_path, n=30, weights=False, config=THREE, extras=True)
    page = write_report(tmp_path, export=False)["report.html"]
    html = page.read_text()
    n_plots = html.count('class="plotly-graph-div"')
    assert n_plots == 6  # 3-D front, pairwise projections, HV, drift accuracy, parallel coordinates, bars
    # one load (about 7 s: software WebGL for the 3-D view), with a filter preset by the address: the failed
    # and infeasible trials whose row mentions "violates"
    dom, console = render(page, tmp_path / "profile", "#state=failed,infeasible&q=violates")
    assert console == [], "JavaScript errors in report.html:\n" + "\n".join(console)
    assert dom.count('class="plot-container plotly"') == n_plots  # every figure was drawn
    n_rejected = sum(i % 7 == 3 for i in range(30))
    assert re.search(rf'id="trial-count">showing {n_rejected} of 33 trials<', dom)
    hidden = re.findall(r'<tr id="trial-(\d+)" data-state="(\w+)"[^>]*style="display: none;"', dom)
    assert len(hidden) == 33 - n_rejected and all(state != "infeasible" for _, state in hidden)
