"""Bulk writes the ORM makes slow: many rows' own values in one `UPDATE … FROM (VALUES …)`.

`QuerySet.bulk_update` builds a `CASE WHEN pk = … THEN …` per row and field, which costs more to
build and to plan than the write itself at a few hundred rows; a VALUES list costs neither.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection, models


def update_rows(rows: Sequence[models.Model], fields: Sequence[str]) -> int:
    """Write these fields of these rows (of one model) as they are in memory; rows updated."""
    if not rows or not fields:
        return 0
    meta = rows[0]._meta
    pk = meta.pk
    assert pk is not None  # noqa: S101 - every concrete model has one
    columns = [pk, *(meta.get_field(name) for name in fields)]
    concrete = [c for c in columns if isinstance(c, models.Field) and c.column]
    if len(concrete) != len(columns):
        raise TypeError(f"{meta.label}: only concrete fields can be written in bulk")
    quote = connection.ops.quote_name
    row = "(" + ", ".join(f"%s::{c.db_type(connection)}" for c in concrete) + ")"
    params: list[Any] = []
    for obj in rows:
        params += [c.get_db_prep_save(getattr(obj, c.attname), connection) for c in concrete]
    names = ", ".join(quote(str(c.column)) for c in concrete)
    sets = ", ".join(f"{quote(str(c.column))} = v.{quote(str(c.column))}" for c in concrete[1:])
    key = quote(str(concrete[0].column))
    with connection.cursor() as cursor:
        # Quoted identifiers of our own models; every value is a bound parameter.
        cursor.execute(
            f"UPDATE {quote(meta.db_table)} AS t SET {sets} "  # noqa: S608
            f"FROM (VALUES {', '.join([row] * len(rows))}) AS v({names}) "
            f"WHERE t.{key} = v.{key}",
            params,
        )
        return int(cursor.rowcount)
