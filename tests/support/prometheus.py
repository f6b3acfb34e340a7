"""Reading samples out of a Prometheus text exposition (``/metrics``)."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families


def sample(exposition: str, name: str, **labels: str) -> float:
    """The value of the one sample ``name`` whose labels include ``labels``; 0.0 when absent."""
    for family in text_string_to_metric_families(exposition):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return 0.0
