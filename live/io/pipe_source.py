"""A named pipe's reading end, opened without blocking in open(2).

Opening a FIFO for reading blocks until a writer opens it, inside C code where Ctrl-C is not seen.
`open_pipe` opens it with O_NONBLOCK instead (which returns at once), says once on stderr that it waits
for a writer, and waits in poll(2) (a signal interrupts it: Ctrl-C raises KeyboardInterrupt) until the
first data or the writer's close arrives. The descriptor it returns is then blocking again and is read
through FFmpeg's `pipe:FD` protocol (`open_video_capture`): the FIFO is not opened a second time, so a
writer that has already written everything and closed loses nothing.
"""

from __future__ import annotations

import os
import select
import sys
from pathlib import Path

import cv2


def open_pipe(path: Path) -> int:
    """A blocking read descriptor of the FIFO at `path`, once a writer has sent something (or closed)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        if not poller.poll(0):
            print(f"live: waiting for a writer on {path} (Ctrl-C stops)", file=sys.stderr, flush=True)
            poller.poll()  # until data or the writer's close; Ctrl-C's KeyboardInterrupt ends it
        os.set_blocking(fd, True)
    except BaseException:  # KeyboardInterrupt included: the descriptor is not leaked
        os.close(fd)
        raise
    return fd


def open_video_capture(path: Path) -> tuple[cv2.VideoCapture, int | None]:
    """OpenCV's decoder of the video file at `path`; for a FIFO, of its descriptor once a writer came (that
    descriptor is returned too: the caller closes it after releasing the decoder)."""
    if not path.is_fifo():
        return cv2.VideoCapture(str(path)), None
    fd = open_pipe(path)
    return cv2.VideoCapture(f"pipe:{fd}", cv2.CAP_FFMPEG), fd
