"""The same stages as the threaded pipeline in one plain loop, for `live bench`'s comparison."""

from __future__ import annotations

import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import replace

from live.io.sources import Source, describe_source, media_time_s
from live.pipeline.messages import Frame
from live.pipeline.presenter import Output, Presenter
from live.pipeline.stages import PipelineConfig, Stages, describe_stages, open_stages
from live.pipeline.stats import PipelineReport, PipelineStats, Status
from live.pipeline.steps import (
    BufferPool,
    SketchStep,
    TrackStep,
)


def run_sequential(
    config: PipelineConfig, source: Source, outputs: Sequence[Output], stages: Stages | None = None
) -> PipelineReport:
    """The same stages in one plain loop (read, landmarks, retarget, sketch, generate, write),
    as fast as they go (no pacing, nothing dropped), for comparison with run_pipeline. It uses one
    generator session: when it opens its own stages, one worker's (with all the automatic threads)."""
    with ExitStack() as stack:
        stages = stages or stack.enter_context(open_stages(replace(config, generator_workers=1)))
        stats = PipelineStats("sequential")
        describe_stages(stats, stages)
        stats.set_text(Status.SOURCE, describe_source(source))
        pool = BufferPool(stages.card.size_px)
        presenter = Presenter(outputs, stats, pool)
        stack.callback(presenter.close)
        stack.callback(source.close)
        track = TrackStep(stages.detector, stats)
        sketch = SketchStep(stages.retargeter, stages.card.size_px, pool, stats, body=stages.body_follower)
        render = stages.render_step(stages.session, stats, config.no_face_hold_s)
        index = 0
        while config.max_frames <= 0 or index < config.max_frames:
            start_s = time.perf_counter()
            image_bgr = source.read()
            if image_bgr is None:
                break
            t_capture_s = time.perf_counter()
            stats.record_stage("capture", (t_capture_s - start_s) * 1000.0)
            stats.record_capture(t_capture_s)
            presenter.present(render(sketch(track(Frame(index, t_capture_s, image_bgr, media_time_s(source, index))))))
            stages.save_new_calibration()
            index += 1
        stats.set_text(Status.END_REASON, "end of input")
    stats.finish()
    return stats.snapshot()
