"""live: real-time webcam face reenactment (MediaPipe landmarks -> pix2pix avatar)."""

__version__ = "0.1.0"
