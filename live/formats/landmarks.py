"""The landmark layout every stage and file agrees on.

Landmarks are one `(478, 3) float32` array in pixels of the image they
refer to: x and y in pixels, z in pixels on the same scale as x
(MediaPipe's normalised z times the image width). `None` means "no face".
"""

LANDMARK_COUNT = 478
LANDMARK_FORMAT_VERSION = 1
