"""The HTML report as a browser shows it: headless Chromium loads it, every figure decodes, the table is there."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess

import pytest

from kerasbatch.reports.plots import figures as plots
from kerasbatch.reports.html import write_report
from tests.study_factory import make_study

BROWSER = next((shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome")
                if shutil.which(name)), None)
pytestmark = pytest.mark.skipif(BROWSER is None, reason="no Chromium on this machine (Debian: apt-get install chromium)")

# Run once the page and its images have loaded; the browser then prints the DOM with the result in it.
PROBE = """<script>
window.addEventListener("load", () => {
  const images = [...document.images];
  const rows = document.querySelectorAll("#comparison table tbody tr");
  document.body.dataset.probe = JSON.stringify({
    widths: images.map((image) => image.complete ? image.naturalWidth : 0),
    ids: images.map((image) => image.closest("figure").id),
    rows: [...rows].map((row) => row.cells[0].textContent),
    overflow: document.documentElement.scrollWidth - window.innerWidth,
    finding: document.querySelector(".finding").textContent,
  });
});
</script>"""


def _open_in_chromium(page, profile) -> dict:
    """Load ``page`` in headless Chromium 1280 px wide and return what :data:`PROBE` found."""
    probed = page.with_name("probed.html")
    probed.write_text(page.read_text().replace("</body>", PROBE + "\n</body>"))
    command = [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               f"--user-data-dir={profile}", "--window-size=1280,900", "--virtual-time-budget=10000",
               "--dump-dom", probed.as_uri()]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    found = re.search(r'data-probe="([^"]*)"', result.stdout)
    assert found, f"the page never finished loading:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
    return json.loads(html.unescape(found.group(1)))


def test_chromium_shows_every_figure_and_the_table(tmp_path):
    study = make_study(tmp_path, "mnist-sweep", batch_sizes=(32, 128, 512, 1024), failed=(128,))
    probe = _open_in_chromium(write_report(study), tmp_path / "profile")
    shown = len(plots.build_figures(study))  # the figures of 2-D data or changing batches need such runs
    assert len(probe["widths"]) == shown >= 7 and all(width > 0 for width in probe["widths"]), probe
    assert probe["ids"][0] == "fig-val_accuracy_vs_batch"  # the key figure comes first
    assert probe["rows"] == ["32", "128", "512", "1024"]
    assert probe["overflow"] <= 0  # wide tables scroll inside their box, the page does not
    assert probe["finding"].startswith("Best batch size by validation accuracy: ")
