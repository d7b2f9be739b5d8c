"""Prometheus metrics of one server (or one Ray Serve replica), served at GET /metrics.

Each app has its own registry, so several servers in one process (tests, replicas) never share counts.
"""

from __future__ import annotations

from listenloop.runtime.events import DecisionEvent, Event, ResponseEvent

CHUNK_BUCKETS_S = (0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.4, 0.6, 1.0, 2.0)  # s; 0.4 s is one chunk: slower falls behind
PREFIX = "listenloop"


def import_prometheus():
    try:
        import prometheus_client
    except ImportError as e:
        raise SystemExit("listenloop serve needs the server extra for /metrics: pip install 'listenloop[server]' "
                         f"({e.name})") from e
    return prometheus_client


class ServerMetrics:
    """What an operator watches: load, speed, what sessions decide and why they end."""

    def __init__(self, engine, replica: str = "") -> None:
        pc = import_prometheus()
        self.registry = pc.CollectorRegistry()
        labels = {"replica": replica} if replica else {}
        self.content_type = pc.CONTENT_TYPE_LATEST
        self._generate = pc.generate_latest
        self.sessions = pc.Gauge(f"{PREFIX}_sessions_open", "WebSocket sessions running now", list(labels),
                                 registry=self.registry)
        self.sessions_total = pc.Counter(f"{PREFIX}_sessions", "sessions started", list(labels),
                                         registry=self.registry)
        self.chunk_seconds = pc.Histogram(
            f"{PREFIX}_chunk_processing_seconds",
            "wall time of the feed that completed a 0.4 s chunk of one session (its perception and decision)",
            list(labels), buckets=CHUNK_BUCKETS_S, registry=self.registry)
        self.backlog = pc.Gauge(f"{PREFIX}_backlog_seconds", "audio received and not yet processed, all sessions, s",
                                list(labels), registry=self.registry)
        self.decisions = pc.Counter(f"{PREFIX}_decisions", "decisions per chunk, by action and task",
                                    [*labels, "action", "task"], registry=self.registry)
        self.responses = pc.Counter(f"{PREFIX}_responses", "complete responses, by task", [*labels, "task"],
                                    registry=self.registry)
        self.closes = pc.Counter(f"{PREFIX}_session_errors", "sessions the server closed for a reason other than "
                                 "stop, by close code", [*labels, "code"], registry=self.registry)
        loaded = pc.Gauge(f"{PREFIX}_model_loaded", "1 when the model is loaded", [*labels, "model"],
                          registry=self.registry)
        shed = pc.Gauge(f"{PREFIX}_partials_at_pauses_only", "1 while live streams fell behind real time and get "
                        "partials at pauses only (runtime/load.py)", list(labels), registry=self.registry)
        self._labels = labels
        self._l(shed).set_function(lambda: float(engine.load.shedding))
        for name, is_loaded in _model_states(engine).items():
            loaded.labels(**labels, model=name).set_function(is_loaded)
        for metric in (self.sessions, self.sessions_total, self.chunk_seconds, self.backlog):
            self._l(metric)  # a labelled metric shows (at 0) before its first change: every replica is visible

    def _l(self, metric, **extra):
        return metric.labels(**self._labels, **extra) if (self._labels or extra) else metric

    def session_opened(self) -> None:
        self._l(self.sessions).inc()
        self._l(self.sessions_total).inc()

    def session_closed(self) -> None:
        self._l(self.sessions).dec()

    def chunk(self, seconds: float) -> None:
        self._l(self.chunk_seconds).observe(seconds)

    def backlog_change(self, seconds: float) -> None:
        self._l(self.backlog).inc(seconds)

    def event(self, event: Event) -> None:
        if isinstance(event, DecisionEvent):
            self._l(self.decisions, action=event.action, task=event.task or "").inc()
        elif isinstance(event, ResponseEvent):
            self._l(self.responses, task=event.task).inc()

    def closed(self, code_name: str) -> None:
        self._l(self.closes, code=code_name).inc()

    def render(self) -> bytes:
        return self._generate(self.registry)


def _model_states(engine) -> dict[str, object]:
    perception = engine.perception
    return {"vad": lambda: 1.0 if perception.vad is not None else 0.0,
            "asr": lambda: 1.0 if perception.recognizer is not None else 0.0,
            "sounds": lambda: 1.0 if perception.tagger is not None else 0.0,
            "llm": lambda: 1.0 if getattr(engine, "_llm", None) is not None else 0.0}
