"""Reading OpenTelemetry points back from the SDK's in-memory reader, by name and attributes."""

from __future__ import annotations

from collections.abc import Mapping

import attrs
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    HistogramDataPoint,
    InMemoryMetricReader,
    NumberDataPoint,
)


@attrs.frozen
class Point:
    name: str
    attributes: Mapping[str, object]
    value: float  # the number, or a histogram's count
    total: float  # a histogram's sum (the number itself otherwise)


def in_memory() -> tuple[MeterProvider, InMemoryMetricReader]:
    reader = InMemoryMetricReader()
    return MeterProvider(metric_readers=[reader]), reader


def collect(reader: InMemoryMetricReader) -> list[Point]:
    data = reader.get_metrics_data()
    points: list[Point] = []
    if data is None:
        return points
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                for point in metric.data.data_points:
                    attributes = dict(point.attributes or {})
                    if isinstance(point, HistogramDataPoint):
                        points.append(Point(metric.name, attributes, point.count, point.sum))
                    elif isinstance(point, NumberDataPoint):
                        points.append(Point(metric.name, attributes, point.value, point.value))
    return points


def value(points: list[Point], name: str, **attributes: object) -> float:
    """The sum over points of ``name`` whose attributes include ``attributes``."""
    matching = [
        p
        for p in points
        if p.name == name and all(p.attributes.get(k) == v for k, v in attributes.items())
    ]
    assert matching, f"no point {name} {attributes}; have {sorted({p.name for p in points})}"
    return sum(p.value for p in matching)
