"""`listenloop serve`: the command that loads the engine and serves it (server/app.py), on this machine or as Ray
Serve replicas (server/ray_serve.py)."""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import sys
from pathlib import Path

from listenloop.audio.constants import PCM16_BYTES_PER_SAMPLE, SAMPLE_RATE
from listenloop.server import ray_serve as on_ray
from listenloop.server.app import TOKEN_ENV, _import_server, create_app, uvicorn_config
from listenloop.server.limits import DEFAULT_HOST, DEFAULT_PORT, Limits, ServerSettings, is_loopback


def add_arguments(p: argparse.ArgumentParser) -> None:
    d = Limits()
    p.add_argument("--host", default=DEFAULT_HOST,
                   help=f"interface to bind (default {DEFAULT_HOST}: this machine only)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"TCP port (default {DEFAULT_PORT})")
    p.add_argument("--token", help=f"require this token from clients (?token=...); also read from ${TOKEN_ENV}")
    p.add_argument("--allow-no-token", action="store_true", help="bind a non-loopback host without a token")
    p.add_argument("--allow-origin", action="append", default=[], metavar="ORIGIN",
                   help="a browser origin allowed besides the server's own (repeatable)")
    p.add_argument("--max-sessions", type=int, default=d.max_sessions,
                   help=f"concurrent sessions (default {d.max_sessions})")
    p.add_argument("--max-session-minutes", type=float, default=d.max_session_seconds / 60,
                   help=f"audio per session, minutes (default {d.max_session_seconds / 60:.0f})")
    p.add_argument("--max-frame-ms", type=float,
                   default=d.max_frame_bytes / PCM16_BYTES_PER_SAMPLE / SAMPLE_RATE * 1000,
                   help="largest binary frame, ms of audio (default %(default).0f)")
    p.add_argument("--no-sounds", action="store_true", help="do not load the sound tagger")
    p.add_argument("--policy", type=Path, help="a sound-policy TOML file for every session (docs/policy.md)")
    p.add_argument("--llm", default="qwen2.5-0.5b",
                   help="language model for answers and translation: a packaged name or a .gguf path")
    p.add_argument("--llm-url", help="an OpenAI-compatible server (llama.cpp, Ollama, vLLM) instead of --llm")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    on_ray.add_arguments(p)


def settings_from_args(args: argparse.Namespace) -> ServerSettings:
    """Validated settings; SystemExit with one clear line for a setting that would be unsafe or impossible."""
    token = args.token or os.environ.get(TOKEN_ENV) or None
    if not is_loopback(args.host) and token is None and not args.allow_no_token:
        raise SystemExit(f"listenloop serve: binding {args.host} exposes the microphone stream endpoint to the "
                         f"network; give --token (or ${TOKEN_ENV}), e.g. --token {secrets.token_urlsafe(16)}, "
                         "or --allow-no-token")
    if args.max_sessions < 1 or args.max_session_minutes <= 0 or args.max_frame_ms <= 0:
        raise SystemExit("listenloop serve: --max-sessions, --max-session-minutes and --max-frame-ms must be positive")
    limits = Limits(
        max_sessions=args.max_sessions,
        max_session_seconds=args.max_session_minutes * 60,
        max_frame_bytes=int(args.max_frame_ms / 1000 * SAMPLE_RATE) * PCM16_BYTES_PER_SAMPLE,
    )
    return ServerSettings(host=args.host, port=args.port, token=token,
                          allowed_origins=tuple(args.allow_origin), limits=limits)


def run(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    _import_server()
    import uvicorn

    from listenloop.runtime.engine import Engine, EngineConfig

    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(message)s")
    config = EngineConfig(sounds=not args.no_sounds, policy_path=args.policy, llm=args.llm, llm_url=args.llm_url)
    if args.ray is not None:
        return on_ray.run(args, settings, config)
    print("listenloop serve: loading models ...", file=sys.stderr)
    engine = Engine(config)
    app = create_app(engine, settings)
    query = "?token=..." if settings.token else ""
    print(f"listenloop serve: http://{settings.host}:{settings.port}/{query}  (WebSocket /ws)", file=sys.stderr)
    try:
        uvicorn.Server(uvicorn_config(app, settings, args.log_level)).run()
    except KeyboardInterrupt:  # uvicorn shuts down on Ctrl-C, then raises it again
        print("listenloop serve: stopped", file=sys.stderr)
    finally:
        engine.close()
    return 0
