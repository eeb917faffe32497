"""Reading a `/metrics` answer with prometheus-client's own text parser."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of the scrape, by name and labels (the parser refuses bad text)."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(text: str, name: str, **labels: str) -> float:
    """The sample `name` with exactly these labels; 0 when absent (not counted yet)."""
    return samples(text).get((name, frozenset(labels.items())), 0.0)


def label_values(text: str, name: str, label: str) -> set[str]:
    """The values `label` takes among the samples called `name`."""
    return {dict(labels)[label] for (n, labels) in samples(text) if n == name}
