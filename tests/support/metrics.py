"""A node's /metrics answer, read as the tests compare it."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

Series = tuple[str, tuple[tuple[str, str], ...]]


def metric_values(text: str, worker: str | None = None) -> dict[Series, float]:
    """Each sample's value by its name and labels, less the worker label every sample carries
    (one worker answered: worker, when given, is the one)."""
    samples = [s for family in text_string_to_metric_families(text) for s in family.samples]
    workers = {sample.labels.pop("worker", None) for sample in samples}
    assert len(workers) == 1 and None not in workers, f"every sample names one worker: {workers}"
    assert worker is None or workers == {worker}, (workers, worker)
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for s in samples}
