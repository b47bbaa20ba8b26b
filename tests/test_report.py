"""Tests of CalSciPy.report: the HTML page, and the analysis report as a person sees it
(headless Chromium: screenshot, console errors, images decode, headline numbers)."""
from __future__ import annotations

import json
import re
import shutil
import subprocess

import numpy as np
import pytest
from matplotlib.figure import Figure

from CalSciPy.report import Report, figure_to_data_uri

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--disable-extensions",
                  "--hide-scrollbars"]


def _figure():
    fig = Figure(figsize=(2, 1.5))
    fig.add_subplot().plot([0, 1], [1, 0])
    return fig


def test_report_page_is_self_contained_and_escaped(tmp_path):
    import base64

    report = Report("Mouse <1>", subtitle="folder & co")
    report.add_headline("neurons", "neurons", 12)
    report.add_headline("responsive:A", "responsive to A", 3)
    report.add_facts({"rate (Hz)": 30.0, "name": "<b>"})
    report.add_figure(_figure(), "a line")
    import pandas as pd

    report.add_table(pd.DataFrame({"x": range(60), "y": 0.5}), "t", max_rows=5)
    path = report.write(tmp_path / "r.html")
    html = path.read_text(encoding="utf-8")
    assert "<b>" not in html and "&lt;b&gt;" in html and "Mouse &lt;1&gt;" in html
    assert re.findall(r'data-key="([^"]+)">([^<]+)<', html) == [("neurons", "12"),
                                                                ("responsive:A", "3")]
    uri = re.search(r'src="(data:image/png;base64,[^"]+)"', html).group(1)
    assert base64.b64decode(uri.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<script" not in html and "http" not in html
    assert "first 5 of 60 rows" in html
    with pytest.raises(FileExistsError):
        report.write(path)


def test_figure_to_data_uri_of_a_subfigure_is_its_whole_figure():
    fig = Figure()
    sub = fig.subfigures(1, 2)[0]
    sub.add_subplot().plot([1, 2])
    assert figure_to_data_uri(sub) == figure_to_data_uri(fig)


@pytest.fixture(scope="module")
def demo_session(tmp_path_factory):
    """A small synthetic session with stimulus responders (as in tests/cli)."""
    from CalSciPy.cli.demo import make_session

    written, truth = make_session(tmp_path_factory.mktemp("report"), neurons=12, seconds=20.0,
                                  frame_rate=30.0, seed=5, progress=False)
    return written, truth, None


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("Chromium is not installed (Debian: apt-get install chromium; .ci/run "
                "installs it when it can)")


_PROBE = """<script>
window.__errors = [];
window.addEventListener('error', e => window.__errors.push(String(e.message || e)));
window.addEventListener('load', () => {
  const images = Array.from(document.images).map(i => [i.complete, i.naturalWidth]);
  const headlines = {};
  document.querySelectorAll('.headline[data-key]').forEach(
      e => { headlines[e.dataset.key] = e.textContent; });
  const out = document.createElement('pre');
  out.id = 'probe';
  out.textContent = JSON.stringify({images, headlines, errors: window.__errors});
  document.body.appendChild(out);
});
</script>"""


def test_report_in_headless_chromium(demo_session, tmp_path):
    from CalSciPy.report import analyze_session

    browser = _chromium()
    written, truth, _ = demo_session
    out = tmp_path / "analysis"
    analyze_session(written.folder, out, rois=truth["movie"].rois, post_s=1.0)
    summary = json.loads((out / "summary.json").read_text())
    report = out / "report.html"

    # 1. the page as it is: screenshot, and no console errors or failed loads
    shot = tmp_path / "shot.png"
    result = subprocess.run(
        [browser, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile1'}",
         "--enable-logging=stderr", "--v=0", f"--screenshot={shot}",
         "--window-size=1200,2400", report.as_uri()],
        capture_output=True, text=True, timeout=120, check=False)
    assert shot.is_file() and shot.stat().st_size > 10_000, result.stderr[-2000:]
    console = [line for line in result.stderr.splitlines() if "CONSOLE" in line]
    assert console == [], console
    assert "net::ERR" not in result.stderr
    from matplotlib.image import imread

    pixels = imread(shot)
    assert pixels.shape[:2] == (2400, 1200) and np.ptp(pixels[..., :3]) > 0.5

    # 2. an instrumented copy: every image decodes, headline numbers equal summary.json
    probe = tmp_path / "probe.html"
    probe.write_text(report.read_text(encoding="utf-8").replace("</body>", _PROBE + "</body>"),
                     encoding="utf-8")
    result = subprocess.run(
        [browser, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile2'}",
         "--virtual-time-budget=10000", "--dump-dom", probe.as_uri()],
        capture_output=True, text=True, timeout=120, check=False)
    found = re.search(r'<pre id="probe">(.*?)</pre>', result.stdout, re.S)
    assert found, result.stdout[-2000:] + result.stderr[-2000:]
    import html as html_module

    state = json.loads(html_module.unescape(found.group(1)))
    assert state["errors"] == []
    assert len(state["images"]) == 6
    assert all(complete and width > 0 for complete, width in state["images"])
    expected = {key: str(value) for key, value in summary["headline"].items()}
    assert state["headlines"] == expected
