"""Recordings play in a real browser: headless Chromium loads a recorded .mp4 into a <video> element
from a local web server, and the page writes how far playback got (currentTime), the decoded size and
any media error into the DOM, read back with --dump-dom once the virtual time budget has run out.

OpenCV's old mp4v files fail here (MEDIA_ERR_SRC_NOT_SUPPORTED, 0x0): browsers do not decode MPEG-4
part 2. Needs Debian's `chromium` (.ci/run installs it).
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import av
import pytest

REPO = Path(__file__).resolve().parents[1]
CLIP = REPO / "data" / "jwp_office.mp4"
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
PAGE = """<!doctype html>
<html><body>
<video id="video" src="{video}" muted autoplay playsinline></video>
<pre id="state">not started</pre>
<script>
const video = document.getElementById("video"), state = document.getElementById("state");
function show(what) {{
  state.textContent = `${{what}} time=${{video.currentTime.toFixed(3)}}`
    + ` size=${{video.videoWidth}}x${{video.videoHeight}} error=${{video.error ? video.error.code : 0}}`;
}}
for (const event of ["timeupdate", "ended", "error"]) video.addEventListener(event, () => show(event));
video.play().catch(error => show("refused " + error.name));
</script>
</body></html>
"""
STATE = re.compile(r'id="state">(\S+) time=([\d.]+) size=(\d+)x(\d+) error=(\d+)<')

pytestmark = pytest.mark.browser


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """No request log on the test's output."""


@pytest.fixture
def web_folder(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A folder served on 127.0.0.1 (a free port) for the test's lifetime: (folder, base URL)."""
    folder = tmp_path / "site"
    folder.mkdir()
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield folder, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def chromium() -> str:
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    pytest.fail("no Chromium to play the recording in: `apt-get install chromium` (.ci/run installs it)")


def play_in_browser(folder: Path, base_url: str, video_name: str, tmp_path: Path) -> tuple[str, float, int, int, int]:
    """(last event, currentTime s, videoWidth, videoHeight, media error code) after ~8 s of virtual time."""
    page = f"play_{video_name}.html"
    (folder / page).write_text(PAGE.format(video=video_name))
    profile = tmp_path / f"chromium-profile-{video_name}"
    command = [
        chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--autoplay-policy=no-user-gesture-required",
        "--virtual-time-budget=8000",
        "--dump-dom",
        f"{base_url}/{page}",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=180)
    match = STATE.search(done.stdout)
    assert match, (
        f"the page did not report playback (exit {done.returncode}): {done.stdout[-500:]} {done.stderr[-500:]}"
    )
    event, time_s, width_px, height_px, error = match.groups()
    return event, float(time_s), int(width_px), int(height_px), int(error)


def test_a_recorded_mp4_plays_in_chromium(tiny_model_path: Path, web_folder: tuple[Path, str], tmp_path: Path) -> None:
    folder, base_url = web_folder
    out = folder / "avatar.mp4"
    command = [sys.executable, "-m", "live", "run", "--model", str(tiny_model_path), "--source", str(CLIP)]
    command += ["--output", str(out), "--no-pace", "--max-frames", "90", "--device", "cpu", "--retarget", "off"]
    subprocess.run(command, cwd=REPO, check=True, capture_output=True, timeout=300)
    # what kill -9 leaves: the file cut in the middle of its last fragment
    data = out.read_bytes()
    (folder / "cut.mp4").write_bytes(data[: int(len(data) * 0.8)])

    with av.open(str(out)) as container:
        size_px = (container.streams.video[0].width, container.streams.video[0].height)
    for name in ("avatar.mp4", "cut.mp4"):
        event, time_s, width_px, height_px, error = play_in_browser(folder, base_url, name, tmp_path)
        assert error == 0 and (width_px, height_px) == size_px, (name, event, time_s, width_px, height_px, error)
        assert time_s > 0.5, f"{name}: playback did not advance ({event} at {time_s} s)"
