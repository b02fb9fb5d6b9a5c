"""The operator credential for tests: issue a node's operator token and send it.

Operator pages and /metrics need the token that 'digitalstate node operator-token' issues
(web/operator.py). In-process tests issue it directly into the node's data directory.
"""

from __future__ import annotations

from pathlib import Path

from digitalstate.web.operator_token import issue_operator_token


def operator_headers(data_dir: Path) -> dict[str, str]:
    """Issue a fresh operator token for the node at data_dir; its Authorization header."""
    return {"authorization": f"Bearer {issue_operator_token(data_dir)}"}
