"""`listenloop bench users`: real people's recordings with the reference demo, every response listed."""

from __future__ import annotations

import json

from listenloop.cli import main


def test_the_users_bench_lists_every_response_and_counts_instructions_taken(shared_audio, tmp_path, capsys):
    users = shared_audio / "users"
    out = tmp_path / "users.json"
    assert main(["bench", "users", "--dir", str(users), "--labels", "instruction", "--limit", "1",
                 "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    report = json.loads(out.read_text())
    run = report["runs"][0]
    assert run["label"] == "instruction" and run["instructions"], run  # "Transcribe the speech into Chinese, ..."
    assert report["summary"]["instructions taken (label instruction)"] == "1 of 1"
    for response in run["responses"]:
        assert response["text"] in printed
