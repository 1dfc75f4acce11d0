"""The decision log: one JSON line per request, written off the request path.

`DecisionRecord` is the value (built from the enforced `Decision`), `DecisionLog` the
bounded queue and writer task, `Sink`s the destinations (stdout, file).
"""

from authgate.decisionlog.record import DecisionRecord, rfc3339_millis
from authgate.decisionlog.sinks import FileSink, Sink, StdoutSink, build_sinks
from authgate.decisionlog.writer import DecisionLog

__all__ = [
    "DecisionLog",
    "DecisionRecord",
    "FileSink",
    "Sink",
    "StdoutSink",
    "build_sinks",
    "rfc3339_millis",
]
