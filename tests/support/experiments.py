"""Experiments for the service definitions of tests: the TOML of one with two variants."""

from __future__ import annotations


def half_and_half(experiment_id: str, page: str, plain: str) -> str:
    """The TOML of an experiment on page of a service definition, to add at its end: the control
    "as-now" and the variant "plain" (plain: its own keys and tables), half the people each."""
    return f"""
[[experiments]]
id = "{experiment_id}"
page = "{page}"

[[experiments.variants]]
id = "as-now"
share = 50

[[experiments.variants]]
id = "plain"
share = 50
{plain}"""
