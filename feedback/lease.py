"""Named database leases with expiry: one holder at a time, even across machines.

Each operation is a single conditional statement (UPDATE ... WHERE expired or
mine; INSERT ... ON CONFLICT DO NOTHING), atomic on PostgreSQL and SQLite alike.
Functions run in the caller's transaction: commit right after to publish.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from feedback._sql import insert_for
from feedback.models import Lease, utcnow


def acquire(session: Session, name: str, holder: str, ttl_s: float, now: dt.datetime | None = None) -> bool:
    """Take lease `name` for `ttl_s` seconds if free, expired or already ours; True on success."""
    now = now or utcnow()
    expires = now + dt.timedelta(seconds=ttl_s)
    res = session.execute(
        update(Lease).where(Lease.name == name, or_(Lease.holder == holder, Lease.expires_at < now))
        .values(holder=holder, expires_at=expires).execution_options(synchronize_session=False))
    if res.rowcount == 1:
        return True
    ins = insert_for(session, Lease.__table__)
    # RETURNING, not rowcount: drivers disagree on rowcount for INSERT ... ON CONFLICT.
    res = session.execute(ins.values(name=name, holder=holder, expires_at=expires)
                          .on_conflict_do_nothing(index_elements=["name"]).returning(Lease.name))
    return res.first() is not None


def renew(session: Session, name: str, holder: str, ttl_s: float, now: dt.datetime | None = None) -> bool:
    """Extend our lease; False if it is no longer ours (expired and taken)."""
    now = now or utcnow()
    res = session.execute(
        update(Lease).where(Lease.name == name, Lease.holder == holder)
        .values(expires_at=now + dt.timedelta(seconds=ttl_s)).execution_options(synchronize_session=False))
    return res.rowcount == 1


def transfer(
    session: Session, name: str, holder: str, new_holder: str, ttl_s: float, now: dt.datetime | None = None
) -> bool:
    """Hand our lease to `new_holder` (e.g. from a scheduler to the run it launched)."""
    now = now or utcnow()
    res = session.execute(
        update(Lease).where(Lease.name == name, Lease.holder == holder)
        .values(holder=new_holder, expires_at=now + dt.timedelta(seconds=ttl_s))
        .execution_options(synchronize_session=False))
    return res.rowcount == 1


def release(session: Session, name: str, holder: str) -> bool:
    """Give the lease up if we hold it."""
    res = session.execute(delete(Lease).where(Lease.name == name, Lease.holder == holder)
                          .execution_options(synchronize_session=False))
    return res.rowcount == 1


def current_holder(session: Session, name: str, now: dt.datetime | None = None) -> str | None:
    """Who holds the lease now (None if free or expired)."""
    now = now or utcnow()
    return session.scalar(select(Lease.holder).where(Lease.name == name, Lease.expires_at >= now))
