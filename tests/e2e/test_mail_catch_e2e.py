"""`digitalstate mail catch`: the standalone mail catcher, as an operator runs it."""

from __future__ import annotations

import asyncio
import re
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import pytest
from e2e_support import HOST, Processes, flags, free_port_block, http_get, run_cli, wait_for

pytestmark = pytest.mark.e2e

TOKEN_LINE = re.compile(r"Operator token \(shown once;.*\): (\S+)$", re.MULTILINE)


def send(port: int, subject: str) -> None:
    message = EmailMessage()
    message["From"] = "prisons@example.org"
    message["To"] = "alice@example.org"
    message["Subject"] = subject
    message.set_content("Your visit is booked.\n")
    asyncio.run(aiosmtplib.send(message, hostname=HOST, port=port, start_tls=False))


def test_the_catcher_prints_its_token_once_keeps_what_it_takes_and_shows_it(
    procs: Processes, tmp_path: Path
) -> None:
    port = free_port_block(2)
    options = flags(data_dir=tmp_path / "catcher", port=port, smtp_port=port + 1)
    url = f"http://{HOST}:{port}"

    first = procs.start("catcher", ["mail", "catch", *options], url)
    procs.wait_ready(first, "/healthz")
    printed = first.log_path.read_text()
    assert f"SMTP at {HOST}:{port + 1}, caught messages at {url}/operator/mail" in printed
    found = TOKEN_LINE.search(printed)
    assert found, printed
    bearer = {"authorization": f"Bearer {found.group(1)}"}
    send(port + 1, "Kept across a restart")
    procs.stop(first)

    # Started again on the same folder: the same token, no new one printed, nothing lost.
    again = procs.start("catcher", ["mail", "catch", *options], url)
    procs.wait_ready(again, "/healthz")
    assert "Operator token" not in again.log_path.read_text()
    send(port + 1, "After the restart")

    def both() -> list[str] | None:
        answer = http_get(url + "/operator/mail.json", headers=bearer)
        assert answer.status == 200, answer.body
        subjects = [m["subject"] for m in answer.json()["messages"]]
        return subjects if len(subjects) == 2 else None

    assert wait_for(both, 10, "both messages") == ["After the restart", "Kept across a restart"]
    assert http_get(url + "/operator/mail.json").status == 401


def test_a_busy_port_is_refused_in_one_line(procs: Processes, tmp_path: Path) -> None:
    port = free_port_block(2)
    options = flags(data_dir=tmp_path / "catcher", port=port, smtp_port=port + 1)
    running = procs.start("catcher", ["mail", "catch", *options], f"http://{HOST}:{port}")
    procs.wait_ready(running, "/healthz")

    result = run_cli("mail", "catch", *options, check=False)

    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"port {port + 1}" in lines[0] and "--smtp-port" in lines[0]
