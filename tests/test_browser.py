"""Recordings play in a real browser: headless Chromium opens a page with a <video> element of a recorded
.mp4, served from 127.0.0.1; the page reports back to the same server (a GET of /report?...) once
playback has passed 1 s (currentTime, decoded size) or failed (the media error code). The test waits
for that report in real time, so it does not depend on how fast the machine decodes.

OpenCV's old mp4v files fail here (MEDIA_ERR_SRC_NOT_SUPPORTED, 0x0): browsers do not decode MPEG-4
part 2. Needs Debian's `chromium` (.ci/run installs it).
"""

from __future__ import annotations

import functools
import queue
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import av
import pytest
from headless_browser import CHROMIUM_FLAGS

REPO = Path(__file__).resolve().parents[1]
CLIP = REPO / "data" / "jwp_office.mp4"
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
PLAYED_S = 1.0
PAGE = """<!doctype html>
<html><body>
<video id="video" src="{video}" muted autoplay playsinline></video>
<script>
const video = document.getElementById("video");
let reported = false;
function report(event) {{
  if (reported) return;
  reported = true;
  const error = video.error ? video.error.code : 0;
  fetch(`/report?event=${{event}}&time=${{video.currentTime}}&width=${{video.videoWidth}}`
        + `&height=${{video.videoHeight}}&error=${{error}}`);
}}
video.addEventListener("timeupdate", () => {{ if (video.currentTime > {played_s}) report("timeupdate"); }});
video.addEventListener("ended", () => report("ended"));
video.addEventListener("error", () => report("error"));
video.play().catch(error => report("refused-" + error.name));
</script>
</body></html>
"""

pytestmark = [pytest.mark.browser, pytest.mark.needs("chromium")]


class Site:
    """A folder served on 127.0.0.1 (a free port); pages report playback with GET /report?..."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.reports: queue.Queue[dict[str, str]] = queue.Queue()
        reports = self.reports

        class Handler(SimpleHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                if url.path != "/report":
                    super().do_GET()
                    return
                reports.put({key: values[0] for key, values in parse_qs(url.query).items()})
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                """No request log on the test's output."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(folder)))
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    folder = tmp_path / "site"
    folder.mkdir()
    served = Site(folder)
    try:
        yield served
    finally:
        served.close()


def chromium() -> str:
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    pytest.fail("no Chromium to play the recording in: `apt-get install chromium` (.ci/run installs it)")


def play_in_browser(site: Site, video_name: str, profile: Path) -> dict[str, str]:
    """What the page reports about playing `video_name` in headless Chromium (waits up to 120 s)."""
    page = f"play_{video_name}.html"
    (site.folder / page).write_text(PAGE.format(video=video_name, played_s=PLAYED_S))
    command = [
        chromium(),
        *(flag for flag in CHROMIUM_FLAGS if not flag.startswith("--remote-debugging")),
        f"--user-data-dir={profile}",
        f"{site.url}/{page}",
    ]
    browser = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        return site.reports.get(timeout=120)
    except queue.Empty:
        pytest.fail(f"the page never reported on {video_name} (Chromium exit code {browser.poll()})")
    finally:
        browser.terminate()
        try:
            browser.wait(20)
        except subprocess.TimeoutExpired:
            browser.kill()
            browser.wait()


def test_a_recorded_mp4_plays_in_chromium(tiny_model_path: Path, site: Site, tmp_path: Path) -> None:
    out = site.folder / "avatar.mp4"
    command = [sys.executable, "-m", "live", "run", "--model", str(tiny_model_path), "--source", str(CLIP)]
    command += ["--output", str(out), "--no-pace", "--max-frames", "90", "--device", "cpu", "--retarget", "off"]
    subprocess.run(command, cwd=REPO, check=True, capture_output=True, timeout=300)
    data = out.read_bytes()
    (site.folder / "cut.mp4").write_bytes(data[: int(len(data) * 0.8)])  # what kill -9 leaves: a cut last fragment
    with av.open(str(out)) as container:
        size_px = (container.streams.video[0].width, container.streams.video[0].height)

    for name in ("avatar.mp4", "cut.mp4"):
        report = play_in_browser(site, name, tmp_path / f"profile-{name}")
        assert report["event"] in ("timeupdate", "ended") and report["error"] == "0", (name, report)
        assert (int(report["width"]), int(report["height"])) == size_px, (name, report)
        assert float(report["time"]) > PLAYED_S, (name, report)


def test_a_transparent_webm_plays_in_chromium(tiny_model_path: Path, site: Site, tmp_path: Path) -> None:
    """`--background transparent` into .webm: VP9 with alpha that Chromium plays, at the avatar's frame size."""
    out = site.folder / "overlay.webm"
    command = [sys.executable, "-m", "live", "run", "--model", str(tiny_model_path), "--source", str(CLIP)]
    command += ["--output", str(out), "--no-pace", "--max-frames", "90", "--device", "cpu"]
    command += ["--background", "transparent"]
    subprocess.run(command, cwd=REPO, check=True, capture_output=True, timeout=300)
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        size_px = (stream.width, stream.height)
    report = play_in_browser(site, out.name, tmp_path / "profile-webm")
    assert report["event"] in ("timeupdate", "ended") and report["error"] == "0", report
    assert (int(report["width"]), int(report["height"])) == size_px, report
    assert float(report["time"]) > PLAYED_S, report
