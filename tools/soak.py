"""Soak test: a long unpaced `live run` with its memory (RSS) sampled, to show nothing grows in a long call.

    python tools/soak.py --minutes 30 --out docs/soak.json

Builds a long input by looping data/jwp_office.mp4 (its packets copied, not re-encoded), runs
`nice -n 10 python -m live run --no-pace` on it into an .mp4 in a temporary folder, samples the
process's RSS every --sample-s seconds, stops it with SIGTERM after --minutes and prints the curve
(start, 1, 10, 20, 30 min) and the growth after the first minute. Not a unit test: it takes the
whole --minutes.
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av
import psutil

REPOSITORY = Path(__file__).resolve().parents[1]
CLIP = REPOSITORY / "data" / "jwp_office.mp4"
GROWTH_LIMIT_MB = 5.0


def loop_clip(clip: Path, out: Path, minutes: float) -> int:
    """Write `clip` repeated to last `minutes` into `out` (packets copied); returns the frame count."""
    with av.open(str(clip)) as source:
        stream = source.streams.video[0]
        packets = [
            (bytes(packet), int(packet.pts), int(packet.dts), packet.is_keyframe)
            for packet in source.demux(stream)
            if packet.size
        ]
        frame_rate, time_base = float(stream.average_rate), stream.time_base
        duration = max(pts for _, pts, _, _ in packets) + (packets[1][1] - packets[0][1])
        loops = int(minutes * 60 * frame_rate / len(packets)) + 1
        with av.open(str(out), "w") as sink:
            copy = sink.add_stream_from_template(stream)
            for loop in range(loops):
                for data, pts, dts, keyframe in packets:
                    packet = av.Packet(data)
                    packet.pts, packet.dts = pts + loop * duration, dts + loop * duration
                    packet.time_base, packet.is_keyframe, packet.stream = time_base, keyframe, copy
                    sink.mux(packet)
    return loops * len(packets)


def rss_mb(process: psutil.Process) -> float:
    return process.memory_info().rss / 2**20


def soak(model: Path, source: Path, minutes: float, sample_s: float, folder: Path) -> dict:
    """Run `live run --no-pace` for `minutes`; the RSS samples, the run's summary and the command."""
    command = ["nice", "-n", "10", sys.executable, "-m", "live", "run", "--model", str(model)]
    command += ["--source", str(source), "--no-pace", "--output", str(folder / "soak.mp4"), "--device", "cpu"]
    log = (folder / "run.log").open("w+")
    run = subprocess.Popen(command, cwd=REPOSITORY, stdout=log, stderr=subprocess.STDOUT, text=True)
    process = psutil.Process(run.pid)
    start_s = time.monotonic()
    samples: list[tuple[float, float]] = []
    while run.poll() is None and time.monotonic() - start_s < minutes * 60:
        samples.append((round(time.monotonic() - start_s, 1), round(rss_mb(process), 2)))
        print(f"{samples[-1][0]:7.1f} s  RSS {samples[-1][1]:8.2f} MB", flush=True)
        time.sleep(sample_s)
    ended_early = run.poll() is not None
    run.send_signal(signal.SIGTERM)
    run.wait(60)
    log.seek(0)
    summary = log.read()
    return {"samples_s_mb": samples, "ended_early": ended_early, "exit_code": run.returncode, "summary": summary}


def rss_at(samples: list[tuple[float, float]], minute: float) -> float:
    """The sample nearest `minute` minutes."""
    return min(samples, key=lambda sample: abs(sample[0] - minute * 60))[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=REPOSITORY / "models" / "jwp.onnx")
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--sample-s", type=float, default=10.0)
    parser.add_argument("--input-minutes", type=float, default=45.0, help="length of the looped input video")
    parser.add_argument("--out", type=Path, default=None, help="JSON file for the samples and the curve")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="live-soak-") as temporary:
        folder = Path(temporary)
        source = folder / "long.mp4"
        frame_count = loop_clip(CLIP, source, args.input_minutes)
        print(f"input: {source} ({frame_count} frames, {args.input_minutes:g} min at the clip's rate)", flush=True)
        result = soak(args.model, source, args.minutes, args.sample_s, folder)
    samples = result["samples_s_mb"]
    marks = [0, 1, 10, 20, 30] if args.minutes >= 30 else [0, 1, args.minutes]
    curve = {f"{minute:g} min": rss_at(samples, minute) for minute in marks}
    after_first_minute = [rss for t_s, rss in samples if t_s >= 60.0]
    growth_mb = after_first_minute[-1] - after_first_minute[0] if after_first_minute else float("nan")
    peak_growth_mb = max(after_first_minute) - after_first_minute[0] if after_first_minute else float("nan")
    frames = re.search(r"(\d+) captured, (\d+) written, (\d+) dropped", result["summary"])
    report = {
        "command": "nice -n 10 python -m live run --model MODEL --source LONG.mp4 --no-pace --output SOAK.mp4",
        "model": str(args.model.relative_to(REPOSITORY) if args.model.is_relative_to(REPOSITORY) else args.model),
        "minutes": args.minutes,
        "sample_s": args.sample_s,
        "rss_mb_curve": curve,
        "growth_after_first_minute_mb": round(growth_mb, 2),
        "peak_growth_after_first_minute_mb": round(peak_growth_mb, 2),
        "growth_limit_mb": GROWTH_LIMIT_MB,
        "frames_captured_written_dropped": [int(group) for group in frames.groups()] if frames else None,
        "ended_early": result["ended_early"],
        "exit_code": result["exit_code"],
        "samples_s_mb": samples,
    }
    print(json.dumps({key: value for key, value in report.items() if key != "samples_s_mb"}, indent=2))
    if args.out:
        args.out.write_text(json.dumps(report, indent=1) + "\n")
    return 0 if growth_mb < GROWTH_LIMIT_MB and not result["ended_early"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
