"""Language-model backends: the packaged GGUF in-process, and the same model behind an OpenAI-compatible endpoint."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from listenloop.respond.answer import strip_emotion_tag
from listenloop.respond.base import ResponseContext
from listenloop.respond.llm import ChatMessage, Generation, LlmError, OpenAIBackend, Role, load_backend, resolve_model

QUESTION = [ChatMessage(Role.SYSTEM, "You are a voice assistant. Answer in one full sentence."),
            ChatMessage(Role.USER, "What is the capital of France?")]


@pytest.fixture(scope="module")
def llm():
    return load_backend("qwen2.5-0.5b")


def test_packaged_model_streams_an_answer_piece_by_piece(llm):
    pieces = list(llm.stream(QUESTION, Generation(max_tokens=24)))
    assert len(pieces) > 2  # streamed, not one block
    assert "paris" in "".join(pieces).lower()


def test_leaving_the_stream_early_frees_the_model_for_the_next_caller(llm):
    stream = llm.stream(QUESTION, Generation(max_tokens=24))
    next(stream)
    stream.close()  # barge-in: the caller stops reading
    assert "paris" in "".join(llm.stream(QUESTION, Generation(max_tokens=24))).lower()


@pytest.fixture(scope="module")
def endpoint(llm):
    """A real OpenAI-compatible endpoint (stdlib HTTP server) that serves the packaged model as server-sent events."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            messages = [ChatMessage(Role(m["role"]), m["content"]) for m in body["messages"]]
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            for piece in llm.stream(messages, Generation(max_tokens=body["max_tokens"])):
                chunk = {"choices": [{"index": 0, "delta": {"content": piece}}]}
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.write(b"data: [DONE]\n\n")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/v1"
    server.shutdown()


def test_openai_compatible_endpoint_streams_the_same_answer(endpoint):
    backend = load_backend(url=endpoint)
    assert isinstance(backend, OpenAIBackend)
    pieces = list(backend.stream(QUESTION, Generation(max_tokens=24)))
    assert len(pieces) > 2 and "paris" in "".join(pieces).lower()


def test_unreachable_endpoint_is_one_clear_error():
    backend = OpenAIBackend("http://127.0.0.1:9/v1", timeout=2.0)
    with pytest.raises(LlmError, match="cannot reach"):
        list(backend.stream(QUESTION))


def test_bad_model_options_are_clear_errors(tmp_path):
    with pytest.raises(LlmError, match="http"):
        OpenAIBackend("localhost:8080")
    with pytest.raises(LlmError, match="no GGUF model"):
        resolve_model(str(tmp_path / "missing.gguf"))
    with pytest.raises(LlmError, match="qwen2.5-0.5b"):
        resolve_model("gpt-5")


def test_leading_emotion_tag_becomes_the_response_emotion():
    ctx = ResponseContext()
    text = "".join(strip_emotion_tag(iter(["[", "happy", "] Sure", ", it is ", "sunny."]), ctx))
    assert text == "Sure, it is sunny." and ctx.extra["emotion"] == "happy"
    ctx = ResponseContext()
    assert "".join(strip_emotion_tag(iter(["No tag", " here."]), ctx)) == "No tag here."
    assert "emotion" not in ctx.extra
