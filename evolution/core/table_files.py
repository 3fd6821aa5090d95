"""Rows (dicts with the same keys) as CSV or Parquet bytes, with the column order given.

Values are written as they are: numbers as numbers (None is an empty CSV cell, a Parquet null),
everything else as text, so that reading the file back gives the rows again."""

from __future__ import annotations

import csv
import io
from typing import Any

FORMATS = {"csv": "text/csv; charset=utf-8", "parquet": "application/vnd.apache.parquet"}


def _cell(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def to_csv(columns: list[str], rows: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if (v := _cell(row.get(c))) is None else v for c in columns])
    return out.getvalue().encode("utf-8")


def to_parquet(columns: list[str], rows: list[dict[str, Any]], types: dict[str, str]) -> bytes:
    """`types` per column: "int", "float", "bool" or "str" (the default); a typed schema, so an all-empty
    column keeps its type and ints never turn into floats."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrow = {"int": pa.int64(), "float": pa.float64(), "bool": pa.bool_(), "str": pa.string()}
    schema = pa.schema([(c, arrow[types.get(c, "str")]) for c in columns])
    data = {c: [_typed(_cell(r.get(c)), types.get(c, "str")) for r in rows] for c in columns}
    table = pa.Table.from_pydict(data, schema=schema)
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def _typed(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind == "int":
        return int(value)
    if kind == "float":
        return float(value)
    if kind == "bool":
        return bool(value)
    return str(value)


def write_table(fmt: str, columns: list[str], rows: list[dict[str, Any]], types: dict[str, str]) -> bytes:
    if fmt == "csv":
        return to_csv(columns, rows)
    if fmt == "parquet":
        return to_parquet(columns, rows, types)
    raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
