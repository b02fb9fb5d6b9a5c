"""[performance] in a node's settings: costs refused at load in one line naming the file, the
key and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from digitalstate.keys import KeyPair
from digitalstate.settings import SettingsError, load_node_settings

ANCHOR = KeyPair.generate()


def node_file(tmp_path: Path, performance: str) -> Path:
    path = tmp_path / "node.toml"
    path.write_text(
        '[node]\nid = "liverpool-pensions"\nname = "Pensions"\nroles = ["service"]\n'
        'base_url = "http://127.0.0.1:8101"\n'
        f'[federation]\nanchor_url = "http://127.0.0.1:9"\n'
        f'anchor_public_key = "{ANCHOR.public.b64}"\n'
        f"[performance]\n{performance}\n"
    )
    return path


def test_costs_are_read_with_their_currency(tmp_path: Path) -> None:
    settings = load_node_settings(
        node_file(tmp_path, 'currency = "EUR"\ndigital_cost = 0.45\nassisted_cost = 6.5')
    )
    section = settings.performance
    assert (section.currency, section.digital_cost, section.assisted_cost) == ("EUR", 0.45, 6.5)


def test_no_costs_is_a_node_that_publishes_no_cost_per_transaction(tmp_path: Path) -> None:
    section = load_node_settings(node_file(tmp_path, "")).performance
    assert section.digital_cost is None and section.assisted_cost is None
    assert section.refresh_seconds == 300


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        ("digital_cost = 0.45", "assisted_cost", "set both, or neither"),
        ("digital_cost = -1\nassisted_cost = 2", "digital_cost", "greater than or equal to 0"),
        ("digital_cost = nan\nassisted_cost = 2", "digital_cost", "finite number"),
        ('currency = "pounds"', "currency", "expected form"),
        ("refresh_seconds = 1", "refresh_seconds", "greater than or equal to 10"),
    ],
)
def test_a_bad_value_is_refused_in_one_line_naming_file_key_and_fix(
    tmp_path: Path, text: str, key: str, problem: str
) -> None:
    path = node_file(tmp_path, text)
    with pytest.raises(SettingsError) as caught:
        load_node_settings(path)
    message = str(caught.value)
    assert "\n" not in message and str(path) in message
    assert f"[performance] {key}:" in message and problem in message
    assert f"DIGITALSTATE_PERFORMANCE__{key.upper()}" in message and "fix:" in message
