"""Reading a Prometheus scrape in tests."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of the sample ``name`` whose labels include ``labels``, or None."""
    for family in text_string_to_metric_families(text):
        for item in family.samples:
            if item.name == name and all(item.labels.get(k) == v for k, v in labels.items()):
                return float(item.value)
    return None


def series(text: str) -> set[tuple[str, tuple[tuple[str, str], ...]]]:
    """Every series in a scrape, as (name, sorted labels)."""
    return {
        (item.name, tuple(sorted(item.labels.items())))
        for family in text_string_to_metric_families(text)
        for item in family.samples
    }
