"""`live run`'s --output web options, derived from live.io.web_sink.WebConfig, and the sinks' status lines
(the web output's viewers) in the final summary."""

from __future__ import annotations

import argparse
import dataclasses

from live.io.web_sink import WebConfig
from live.pipeline.presenter import Output
from live.pipeline.stats import PipelineReport


def add_web_arguments(parser: argparse.ArgumentParser) -> None:
    """--web-port and --web-host (defaults from WebConfig)."""
    default = WebConfig()
    web = parser.add_argument_group("--output web (a browser page: OBS browser source, another device)")
    web.add_argument("--web-port", type=int, default=default.port, help=f"TCP port (default {default.port})")
    web.add_argument(
        "--web-host",
        default=default.host,
        help=f"address to serve the page and its media on (default {default.host}: this machine only; "
        "0.0.0.0: every address, the LAN, with a token; a LAN address: that one, with a token)",
    )


def web_config(args: argparse.Namespace) -> WebConfig:
    """The WebConfig of --web-host and --web-port."""
    return WebConfig(host=args.web_host, port=args.web_port)


def with_sink_notes(report: PipelineReport, outputs: list[Output]) -> PipelineReport:
    """The report with the sinks' own status lines (the web output's viewers) as notes."""
    lines = [line for output in outputs for line in getattr(output.sink, "status_lines", list)()]
    return dataclasses.replace(report, notes=report.notes + tuple(lines))
