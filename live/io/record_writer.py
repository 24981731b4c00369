"""The video `live record` writes: the camera's frames at their own size, at a quality to train on.

A VideoWriter (live.io.video_writer: fragmented MP4 or MJPEG AVI, written to NAME.partial and renamed over
the file once it holds a frame, a failed write raising VideoWriteError) with the encoder turned up:
H.264 at CRF 14 instead of 22, MJPEG at quantiser 2 instead of 3. On jwp_intro (640x480) CRF 14 keeps
40.0 dB PSNR against the decoded frames (CRF 12: 40.3, CRF 22: 38.6; the 4:2:0 colour conversion bounds it)
at about 18 MB a minute; 1280x720 is about 50 MB a minute.
"""

from __future__ import annotations

from dataclasses import replace

import av
import numpy as np

from live.io.video_writer import VIDEO_FORMATS, VideoFormat, VideoWriter, even_size_px

RECORDING_CRF = 14
RECORDING_FORMATS: dict[str, VideoFormat] = {
    ".mp4": replace(
        VIDEO_FORMATS[".mp4"], codec_options={**VIDEO_FORMATS[".mp4"].codec_options, "crf": str(RECORDING_CRF)}
    ),
    ".avi": replace(VIDEO_FORMATS[".avi"], codec_options={"qmin": "2", "qmax": "2"}),
}


class RecordingWriter(VideoWriter):
    """A VideoWriter with RECORDING_FORMATS' encoder settings; frames of an odd size are padded to even
    by repeating their last column or row (4:2:0 video needs even sizes; the pixels keep their places)."""

    def _add_stream(self, fps: float) -> av.VideoStream:
        self.format = RECORDING_FORMATS[self.path.suffix.lower()]
        return super()._add_stream(fps)

    def write(self, image_bgr: np.ndarray) -> None:
        """Encode one BGR frame of the recording's size (before padding)."""
        height_px, width_px = image_bgr.shape[:2]
        even_width_px, even_height_px = even_size_px((width_px, height_px))
        if (even_width_px, even_height_px) != (width_px, height_px):
            image_bgr = np.pad(
                image_bgr, ((0, even_height_px - height_px), (0, even_width_px - width_px), (0, 0)), mode="edge"
            )
        super().write(image_bgr)
