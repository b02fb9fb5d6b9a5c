"""A real node process refuses hostile request heads at once and keeps answering /healthz.

One node, set up with the CLI and served by `digitalstate node serve` (so through
web/serving.py), with no trust anchor running: every check here comes before the federation
document is needed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from e2e_support import HOST, answers_ok, flags, free_port, processes, run_cli

from digitalstate.keys import KeyPair
from digitalstate.problems import PROBLEM_BASE
from security.raw_http_support import exchange, status_and_body

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """The address of a node that answers /healthz."""
    root = tmp_path_factory.mktemp("node")
    port = free_port()
    anchor_key = KeyPair.from_seed(bytes(32)).public.b64
    run_cli(
        "node",
        "init",
        *flags(
            id="bravo",
            roles="register",
            anchor_key=anchor_key,
            anchor_url=f"http://{HOST}:{free_port()}",
            dir=root / "bravo",
            port=port,
        ),
    )
    with processes(tmp_path_factory.mktemp("logs")) as group:
        url = f"http://{HOST}:{port}"
        group.serve_node("bravo", root / "bravo" / "node.toml", url, ready=False)
        yield HOST, port


def request(*lines: str) -> bytes:
    """A POST to the exchange with these header lines and an empty body."""
    head = ["POST /exchange/v1/services HTTP/1.1", f"host: {HOST}", "content-length: 0", *lines]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")


def problem_of(answer: bytes) -> tuple[int, str]:
    """The status and problem type of an answer."""
    status, body = status_and_body(answer)
    return status, json.loads(body)["type"].removeprefix(PROBLEM_BASE)


def many_params(count: int) -> str:
    """A Signature-Input with count parameters, the shape of the review's attack."""
    return 'sig1=("@method");' + ";".join(f"p{i}={i}" for i in range(count))


def test_the_32000_parameter_header_gets_431_and_health_still_answers(
    node: tuple[str, int],
) -> None:
    answer = exchange(node, request("signature-input: " + many_params(32_000)))
    assert problem_of(answer) == (431, "header-too-large")
    assert answers_ok(f"http://{node[0]}:{node[1]}/healthz")


def test_a_signature_input_past_its_own_bound_gets_431_from_the_exchange(
    node: tuple[str, int],
) -> None:
    answer = exchange(node, request("signature-input: " + many_params(1_000)[:5_000]))
    status, body = status_and_body(answer)
    assert (status, json.loads(body)["header"].lower()) == (431, "signature-input")


def test_a_signature_header_sent_twice_gets_400(node: tuple[str, int]) -> None:
    signature = "signature: sig1=:" + "A" * 86 + "==:"
    answer = exchange(node, request(signature, signature))
    assert problem_of(answer) == (400, "repeated-covered-field")
