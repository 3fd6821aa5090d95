"""Metadata filters, written once and applied to both retrievers.

The syntax is the subset of chroma's `where` that the web form and the designer need, so the dense side
hands it to chroma as is and the keyword side evaluates the same dict in Python:

    {"year": {"$gte": 2020}, "kind": "fulltext", "paper_id": {"$in": ["mamba", "s4"]}}

Several keys mean "all of them"; `$and` / `$or` take lists of filters.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Filters = Mapping[str, Any]

_COMPARISONS = {"$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin"}
_LOGICAL = {"$and", "$or"}


class FilterError(ValueError):
    """A filter that neither retriever could apply; the message says which part."""


def validate(filters: Filters | None) -> None:
    if filters is None:
        return
    if not isinstance(filters, Mapping):
        raise FilterError("filters must be a mapping of field to value or {operator: value}")
    for key, value in filters.items():
        if key in _LOGICAL:
            if not isinstance(value, list) or not value:
                raise FilterError(f"{key} needs a non-empty list of filters")
            for part in value:
                validate(part)
        elif key.startswith("$"):
            raise FilterError(f"unknown logical operator {key!r}")
        elif isinstance(value, Mapping):
            if len(value) != 1:
                raise FilterError(f"{key}: one operator per condition, got {sorted(value)}")
            (op, operand), = value.items()
            if op not in _COMPARISONS:
                raise FilterError(f"{key}: unknown operator {op!r}")
            if op in {"$in", "$nin"} and not isinstance(operand, list | tuple):
                raise FilterError(f"{key}: {op} needs a list")
        elif not isinstance(value, str | int | float | bool):
            raise FilterError(f"{key}: value must be a string, number or boolean")


def to_chroma_where(filters: Filters | None) -> dict[str, Any] | None:
    """Chroma wants exactly one key per level, so several keys become an explicit $and."""
    if not filters:
        return None
    validate(filters)
    parts = [_one_to_chroma(key, value) for key, value in filters.items()]
    return parts[0] if len(parts) == 1 else {"$and": parts}


def _one_to_chroma(key: str, value: Any) -> dict[str, Any]:
    if key in _LOGICAL:
        return {key: [to_chroma_where(part) for part in value]}
    if isinstance(value, Mapping):
        (op, operand), = value.items()
        if op in {"$in", "$nin"}:
            return {key: {op: list(operand)}}
        return {key: {op: operand}}
    return {key: {"$eq": value}}


def matches(metadata: Mapping[str, Any], filters: Filters | None) -> bool:
    """Whether one record's metadata passes; a missing field fails every condition except $ne / $nin."""
    if not filters:
        return True
    for key, value in filters.items():
        if key == "$and":
            if not all(matches(metadata, part) for part in value):
                return False
        elif key == "$or":
            if not any(matches(metadata, part) for part in value):
                return False
        elif not _condition(metadata.get(key), value):
            return False
    return True


def _condition(actual: Any, condition: Any) -> bool:
    if not isinstance(condition, Mapping):
        return actual is not None and actual == condition
    (op, operand), = condition.items()
    if op == "$ne":
        return actual != operand
    if op == "$nin":
        return actual not in operand
    if actual is None:
        return False
    if op == "$eq":
        return bool(actual == operand)
    if op == "$in":
        return actual in operand
    try:
        if op == "$gt":
            return bool(actual > operand)
        if op == "$gte":
            return bool(actual >= operand)
        if op == "$lt":
            return bool(actual < operand)
        if op == "$lte":
            return bool(actual <= operand)
    except TypeError:
        return False
    raise FilterError(f"unknown operator {op!r}")
