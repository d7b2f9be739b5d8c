"""The page at /, in a real headless Chromium whose fake microphone plays a real recording (jfk.flac).

Chromium (Debian's /usr/bin/chromium) is driven by Python playwright; the page captures through its AudioWorklet,
downsamples to 16 kHz and streams to a real server with the real engine.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from listenloop.audio.constants import SAMPLE_RATE
from listenloop.audio.decode import load_audio
from listenloop.audio.wav import write_wav
from listenloop.server.app import BackgroundServer, create_app
from listenloop.server.limits import ServerSettings

CHROMIUM = Path("/usr/bin/chromium")
HEARD_WITHIN_MS = 45_000  # the 11 s recording, live, plus recognition on a loaded 2-core machine
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--no-first-run", "--disable-sync", "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
]


@pytest.fixture(scope="module")
def engine():
    from listenloop.runtime.engine import Engine, EngineConfig

    return Engine(EngineConfig(sounds=False))


@pytest.fixture(scope="module")
def microphone_wav(shared_audio, tmp_path_factory) -> Path:
    """jfk.flac with a second of silence around it (Chromium loops the file; the silence separates the loops)."""
    speech = load_audio(shared_audio / "speech" / "jfk.flac")
    quiet = np.zeros(SAMPLE_RATE, np.float32)
    path = tmp_path_factory.mktemp("mic") / "jfk.wav"
    write_wav(path, np.concatenate([quiet, speech, quiet]))
    return path


@pytest.fixture(scope="module")
def browser(microphone_wav):
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} absent: apt-get install chromium")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM),
                                      args=[*CHROMIUM_FLAGS, f"--use-file-for-fake-audio-capture={microphone_wav}"])
        yield chromium
        chromium.close()


def serve(engine, **settings):
    s = ServerSettings(port=0, **settings)
    return BackgroundServer(create_app(engine, s), s)


def decisions(page) -> int:
    return int(page.get_attribute("#strip", "data-count"))


def test_the_page_listens_live_and_shows_decisions_transcripts_and_instructions(engine, browser):
    from playwright.sync_api import expect

    with serve(engine) as server:
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(server.http + "/")
        expect(page.locator("#state")).to_have_attribute("data-state", "idle")
        # it starts as an assistant, like the CLI and the protocol, and says so and how to change it
        expect(page.locator("#mode-now")).to_have_text("assistant")
        expect(page.locator("#mode-line")).to_contain_text("answers questions addressed to it")
        expect(page.locator("#mode-line")).to_contain_text("mode menu")
        page.select_option("#mode", "transcribe")  # captions as responses: this test reads them
        expect(page.locator("#mode-help")).to_contain_text("caption")

        page.click("#toggle")
        expect(page.locator("#state")).to_have_attribute("data-state", re.compile("listening|answering"))
        expect(page.locator("#transcript")).to_contain_text(re.compile("fellow americans", re.I),
                                                            timeout=HEARD_WITHIN_MS)
        expect(page.locator("#transcript .final")).to_contain_text([re.compile("your country", re.I)],
                                                                   timeout=HEARD_WITHIN_MS)
        before = decisions(page)
        page.wait_for_timeout(2000)
        assert decisions(page) >= before + 3, "the strip keeps moving: one mark per 0.4 s"
        assert page.locator("#strip .mark.respond").count() >= 1
        assert page.locator("#responses .response").count() >= 1

        page.fill("#instruction", "be quiet")  # needs no language model, so stopping stays quick
        page.press("#instruction", "Enter")
        expect(page.locator("#mode-now")).to_have_text("quiet", timeout=10_000)

        page.click("#toggle")
        expect(page.locator("#state")).to_have_attribute("data-state", "idle", timeout=60_000)
        assert errors == []
        page.close()


def test_the_page_shows_a_refusal_as_an_error_state(engine, browser):
    from playwright.sync_api import expect

    with serve(engine, token="s3cret") as server:
        page = browser.new_page()
        page.goto(server.http + "/")
        page.click("#toggle")
        expect(page.locator("#state")).to_have_attribute("data-state", "error")
        expect(page.locator("#error")).to_contain_text("4401")
        page.close()
