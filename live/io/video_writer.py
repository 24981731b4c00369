"""Video files written through PyAV (FFmpeg), so that a recording survives what ends the process.

.mp4: H.264 (libx264, yuv420p, what browsers play) in fragmented MP4: the header goes first
and a self-contained fragment is written at each keyframe (one a second), so a file cut by
kill -9, a crash or a power loss plays up to about its last second. .avi: Motion JPEG, every
frame flushed as it is written. .webm: VP9 (libvpx) in WebM, one cluster a second; with alpha
(`--background transparent`) as yuva420p, which browsers and OBS's media source play with it.
Each write reaches the operating system (not only a user-space buffer), and a failed write (full
disk, quota, removed drive) raises VideoWriteError naming the file and the cause instead of being
ignored.

The frames go to NAME.partial beside the file, renamed over it once the recording holds its first
frame (for .mp4, its first fragment; where an open file cannot be renamed, at the end): a run that
stops before that (a usage error, a stage failure, no frame rendered) leaves an existing file as it
was, and no new one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO

import av
import numpy as np

from live.closing import Closing
from live.errors import UsageError
from live.formats.replacing import partial_path

MAX_FPS = 1000.0  # what a source may report (live.io.sources); `live run --fps` is stricter
KEYFRAME_INTERVAL_S = 1.0  # one fragment a second: what a killed recording can lose at most
FRAGMENTED_MP4_FLAGS = "frag_keyframe+empty_moov+default_base_moof"
RENAME_WHILE_OPEN = os.name == "posix"  # Windows cannot rename a file that is open


@dataclass(frozen=True, slots=True)
class VideoFormat:
    """How one file suffix is encoded: FFmpeg's encoder, pixel format, muxer and their options.

    keyframes_flush: True when the muxer writes frames only at keyframes (fragmented MP4, WebM's
    clusters), so the frames before the last muxed keyframe are the ones in the file; False when
    every frame is written as it comes.
    alpha_pixel_format: the pixel format for frames with alpha (BGRA in), None: the format has none.
    """

    codec: str
    pixel_format: str
    container: str
    codec_options: dict[str, str] = field(default_factory=dict)
    container_options: dict[str, str] = field(default_factory=dict)
    keyframes_flush: bool = False
    alpha_pixel_format: str | None = None


VIDEO_FORMATS: dict[str, VideoFormat] = {
    ".mp4": VideoFormat(
        codec="libx264",
        pixel_format="yuv420p",
        container="mp4",
        # zerolatency: no lookahead or B-frames, so each frame's packet comes out at once. On the shipped
        # avatar's 237 frames at 640x480 against OpenCV's mp4v (711 KiB, 37.7 dB PSNR): superfast crf 22
        # 599 KiB, 38.7 dB, encoding about as fast; veryfast crf 20 633 KiB, 38.8 dB at twice the time.
        codec_options={"preset": "superfast", "tune": "zerolatency", "crf": "22", "threads": "1"},
        container_options={"movflags": FRAGMENTED_MP4_FLAGS, "flush_packets": "1"},
        keyframes_flush=True,
    ),
    ".avi": VideoFormat(
        codec="mjpeg",
        pixel_format="yuvj420p",
        container="avi",
        codec_options={"qmin": "3", "qmax": "3"},  # the size and quality of OpenCV's MJPG writer
        container_options={"flush_packets": "1"},
    ),
    ".webm": VideoFormat(
        codec="libvpx-vp9",
        pixel_format="yuv420p",
        container="webm",
        # realtime deadline, fastest speed, no lookahead (each frame's packet comes out at once), constant quality
        codec_options={
            "deadline": "realtime",
            "cpu-used": "8",
            "lag-in-frames": "0",
            "row-mt": "1",
            "crf": "30",
            "b": "0",
            "threads": "1",
        },
        container_options={"flush_packets": "1"},
        keyframes_flush=True,
        alpha_pixel_format="yuva420p",
    ),
}


class VideoWriteError(Exception):
    """A video file could not be written: one line naming the file and the cause."""


def even_size_px(size_px: tuple[int, int]) -> tuple[int, int]:
    """(width, height) rounded up to even numbers (4:2:0 video needs them)."""
    width_px, height_px = size_px
    return width_px + width_px % 2, height_px + height_px % 2


def _reason(error: BaseException) -> str:
    """The cause of a failed write in words (the OS's message when there is one)."""
    return getattr(error, "strerror", None) or str(error) or type(error).__name__


class VideoWriter(Closing):
    """Encode BGR frames (BGRA with `alpha`, .webm only) of one fixed size into `path` (a VIDEO_FORMATS suffix)
    at `fps`.

    frames_saved: how many frames are in the file now (for .mp4, the frames of complete
    fragments). close() finishes the file; after a failed write it only releases it. Frames
    are written to `partial_path(path)` until the first is saved (see the module docstring).
    """

    def __init__(self, path: Path, size_px: tuple[int, int], fps: float, alpha: bool = False) -> None:
        self.path = Path(path)
        video_format = VIDEO_FORMATS.get(self.path.suffix.lower())
        if video_format is None:
            raise VideoWriteError(f"cannot write {self.path}: use a {' or '.join(VIDEO_FORMATS)} file name")
        if alpha and video_format.alpha_pixel_format is None:
            raise VideoWriteError(f"cannot write {self.path}: {self.path.suffix} video has no alpha")
        self.alpha = alpha
        if size_px != even_size_px(size_px):
            raise VideoWriteError(f"cannot write {self.path}: {size_px[0]}x{size_px[1]} is not an even size")
        self.format = video_format
        self.size_px = size_px
        self.frames_sent = 0
        self.frames_saved = 0
        self.failure: str | None = None
        self._target = Path(os.path.realpath(self.path))  # a symlink is written through, as open() would
        self._partial: Path | None = partial_path(self._target)  # None once renamed over the target
        self._file: BinaryIO | None = None
        self._container: av.container.OutputContainer | None = None
        try:
            self._file = open(self._partial, "wb")  # noqa: SIM115 (closed by close())
            self._container = av.open(
                self._file, "w", format=video_format.container, options=video_format.container_options
            )
            self._stream = self._add_stream(fps)
        except (OSError, av.FFmpegError, ValueError) as error:
            self._release()
            self._discard_partial()
            raise VideoWriteError(f"cannot write {self.path}: {_reason(error)}") from error

    def _add_stream(self, fps: float) -> av.VideoStream:
        assert self._container is not None
        rate = Fraction(fps).limit_denominator(1001)
        stream = self._container.add_stream(self.format.codec, rate=rate, options=dict(self.format.codec_options))
        stream.width, stream.height = self.size_px
        stream.pix_fmt = (self.format.alpha_pixel_format if self.alpha else None) or self.format.pixel_format
        stream.codec_context.time_base = 1 / rate
        stream.codec_context.gop_size = max(1, round(fps * KEYFRAME_INTERVAL_S))
        return stream

    def write(self, image_bgr: np.ndarray) -> None:
        """Encode one (height, width, 3) uint8 BGR frame, (height, width, 4) BGRA with `alpha`; VideoWriteError
        when the file cannot take it."""
        if self._container is None:
            raise VideoWriteError(f"cannot write {self.path}: {self.failure or 'it is closed'}")
        frame = av.VideoFrame.from_ndarray(image_bgr, format="bgra" if self.alpha else "bgr24")
        frame.pts = self.frames_sent
        frame.time_base = self._stream.codec_context.time_base
        self._mux(self._stream.encode(frame))
        self.frames_sent += 1

    def _mux(self, packets: list[av.Packet]) -> None:
        """Write packets; count the frames that reached the file; turn a failure into VideoWriteError."""
        assert self._container is not None and self._file is not None
        for packet in packets:
            index = int(packet.pts)  # the frame's index: packets come in the codec's time base (1 / fps)
            try:
                self._container.mux(packet)  # rescales packet.pts to the stream's time base
                self._file.flush()  # to the OS now; a short write (disk full) raises here
            except (OSError, av.FFmpegError) as error:
                self.failure = _reason(error)
                self._release()
                self._discard_partial()
                raise VideoWriteError(self.failure_message()) from error
            if not self.format.keyframes_flush:
                self.frames_saved = index + 1
            elif packet.is_keyframe:
                self.frames_saved = index  # the fragment before this keyframe was written
            if self.frames_saved and RENAME_WHILE_OPEN:
                self._put_in_place()

    def _put_in_place(self) -> None:
        """Rename the partial file over the target, once; VideoWriteError when it cannot be (the frames are
        then kept in the partial file, which the message names)."""
        if self._partial is None:
            return
        try:
            os.replace(self._partial, self._target)
        except OSError as error:
            self.failure = f"{_reason(error)}; the recording is kept in {self._partial}"
            self._release()
            self._partial = None
            raise VideoWriteError(self.failure_message()) from error
        self._partial = None

    def _discard_partial(self) -> None:
        """Remove the partial file that was never put in place (the target stays as it was)."""
        partial, self._partial = self._partial, None
        if partial is not None:
            try:
                partial.unlink(missing_ok=True)
            except OSError:
                pass  # what stopped the recording is the error reported

    def failure_message(self) -> str:
        """One line: the file, why it could not be written, and how many frames it holds."""
        return f"cannot write {self.path}: {self.failure} (it holds the first {self.frames_saved} frames)"

    def close(self) -> None:
        """Flush the encoder and finish the file (it then holds every frame sent); safe to call twice.
        With no frame sent, the partial file is removed and the target left as it was."""
        if self._container is None:
            self._release()
            self._discard_partial()
            return
        try:
            self._mux(self._stream.encode(None))
            self._container.close()
            self._container = None
            assert self._file is not None
            self._file.close()
        except (OSError, av.FFmpegError) as error:
            self.failure = _reason(error)
            self._release()
            self._discard_partial()
            raise VideoWriteError(self.failure_message()) from error
        self.frames_saved = self.frames_sent
        self._release()
        if self.frames_saved:
            self._put_in_place()
        self._discard_partial()

    def _release(self) -> None:
        """Drop the muxer and the file without writing more (after a failure, or once closed)."""
        container, self._container = self._container, None
        file, self._file = self._file, None
        for resource in (container, file):
            if resource is None:
                continue
            try:
                resource.close()
            except (OSError, av.FFmpegError):
                pass  # the write that failed first is the one reported


def check_video_path(path: Path) -> None:
    """UsageError when a video file cannot be written at `path` (checked before anything is opened)."""
    if path.suffix.lower() not in VIDEO_FORMATS:
        raise UsageError(f"cannot write video {path}: use a {' or '.join(VIDEO_FORMATS)} file name")
    if path.is_dir():
        raise UsageError(f"cannot write video {path}: it is a folder; name a file")
    if not path.parent.is_dir():
        raise UsageError(f"cannot write video {path}: folder {path.parent} does not exist")
    if not os.access(path.parent, os.W_OK):
        raise UsageError(f"cannot write video {path}: folder {path.parent} is not writable")
    if path.exists() and not os.access(path, os.W_OK):
        raise UsageError(f"cannot write video {path}: the file is write-protected; name another file")
