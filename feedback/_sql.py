"""Small SQL helpers shared by the feedback modules (dialect-specific upserts)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session


def insert_for(session: Session, table: Any) -> Any:
    """An INSERT supporting `.on_conflict_do_nothing/update` on SQLite and PostgreSQL."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # the upserts below are the only non-portable SQL we use
        raise NotImplementedError(f"feedback DB supports sqlite and postgresql, not {dialect}")
    return insert(table)
