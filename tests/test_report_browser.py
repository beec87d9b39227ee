"""The report page in a real headless Chromium: it renders, and every image loads.

Needs a Chromium binary (``scripts/install-browser.sh`` installs Debian's); skipped with the
reason when there is none. The browser runs with networking features off and a throwaway
profile, on ``file://`` URLs only.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import matplotlib.image
import pytest
from support.report_runs import write_run_dir

from segmentation.report import build_report

CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome")

#: Appended to a test-only copy of the page: after load, report the images that failed.
CHECK_SCRIPT = """
<script>
window.addEventListener("load", function () {
  var images = Array.prototype.slice.call(document.images);
  var broken = images.filter(function (i) { return !i.complete || i.naturalWidth === 0; });
  var out = document.createElement("div");
  out.id = "image-check";
  out.textContent = "images=" + images.length + " broken=" + broken.length + " names=" +
    broken.map(function (i) { return i.getAttribute("src"); }).join(",");
  document.body.appendChild(out);
});
</script>
"""


def find_chromium() -> str | None:
    for candidate in CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    return None


@pytest.fixture(scope="module")
def chromium() -> str:
    binary = find_chromium()
    if binary is None:
        pytest.skip("no Chromium binary (looked for " + ", ".join(CANDIDATES) +
                    "); run scripts/install-browser.sh")
    return binary


def run_chromium(binary: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--disable-dev-shm-usage", "--hide-scrollbars", f"--user-data-dir={profile}"]
    return subprocess.run([binary, *flags, *args], capture_output=True, text=True, timeout=90,
                          check=False)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = write_run_dir(tmp_path_factory.mktemp("browser") / "run", migration=True)
    return Path(build_report(run))


def test_every_image_loads(chromium: str, report: Path, tmp_path: Path) -> None:
    page = report.read_text(encoding="utf-8")
    expected = len(re.findall(r"<img ", page))
    check = report.with_name("browser_check.html")
    check.write_text(page.replace("</body>", CHECK_SCRIPT + "</body>"), encoding="utf-8")
    done = run_chromium(chromium, tmp_path / "profile", "--virtual-time-budget=5000",
                        "--dump-dom", check.as_uri())
    found = re.search(r'id="image-check">images=(\d+) broken=(\d+) names=([^<]*)<', done.stdout)
    assert found, f"no image check in the DOM (exit {done.returncode}): {done.stderr[-2000:]}"
    assert int(found[1]) == expected == 6
    assert int(found[2]) == 0, f"broken images: {found[3]}"


def test_page_renders_visibly(chromium: str, report: Path, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    done = run_chromium(chromium, tmp_path / "profile", "--window-size=1400,4000",
                        f"--screenshot={shot}", report.as_uri())
    assert shot.is_file(), f"no screenshot (exit {done.returncode}): {done.stderr[-2000:]}"
    pixels = matplotlib.image.imread(shot)
    assert pixels.shape[:2] == (4000, 1400)
    assert pixels[..., :3].std() > 0.05
    # the plots are drawn, not just the text: plenty of saturated (coloured) pixels
    rgb = pixels[..., :3]
    saturation = rgb.max(axis=-1) - rgb.min(axis=-1)
    assert (saturation > 0.3).mean() > 0.02
