"""Child process of tests/test_sinks.py's window test: a WindowSink on the display in $DISPLAY.

Shows a frame of one colour (argv[1] as B,G,R) at argv[2] px until a key arrives or 60 s pass, then prints
the key's code and whether the sink counted itself closed before and after leaving its context, and exits.
Run alone on a display of its own, nothing can cover its window.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from live.io.sinks import WindowSink, parse_output


def main() -> int:
    colour_bgr = [int(value) for value in sys.argv[1].split(",")]
    size_px = int(sys.argv[2])
    image = np.zeros((size_px, size_px, 3), dtype=np.uint8)
    image[:] = colour_bgr
    key = None
    with WindowSink(parse_output("window"), (size_px, size_px), title="live-keys") as sink:
        deadline_s = time.monotonic() + 60.0
        while key is None and time.monotonic() < deadline_s:
            image[0, 0] += 1  # a changing frame, like a live video (uint8 wraps)
            sink.write(image)
            key = sink.poll_key()
        print(f"key {key}", flush=True)
        print(f"closed while open {sink.closed}", flush=True)
    print(f"closed after {sink.closed}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
