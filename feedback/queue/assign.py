"""Task distribution: each open clip goes to as many reviewers as the verdict rule needs, no more.

Why: when everyone works the queue in the same order, two reviewers collide on
the same clips while others wait. As in Argilla's task distribution, an item is
offered only to reviewers who have not reviewed it yet and only while it still
needs reviews; on top of that, an item being looked at is *claimed* for a while
(a named lease per review slot, `feedback.lease`: one atomic statement each, so
two reviewers asking at the same moment get different clips on PostgreSQL and
SQLite alike). A verdict releases the claim; an abandoned claim expires.

Reviews still needed by an item (`reviews_needed`): the rule decides when the
leading definitive verdict has `required_agreement` reviewers and strictly more
than the other, so an item needs `required - leading` more, and at least one
more while the two verdicts are tied. "unsure" never counts.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Collection, Iterable

from sqlalchemy import delete, exists, select
from sqlalchemy.orm import Session

from feedback import lease
from feedback.models import ITEM_OPEN, Lease, Review, ReviewItem, utcnow
from feedback.queue.listing import QueueFilter, filter_conditions
from feedback.queue.verdicts import DEFINITIVE, required_agreement

CLAIM_TTL_S = 15 * 60  # long enough to listen and decide; an abandoned claim frees the slot after this
_PREFIX = "review:"
_BATCH = 64


def _slot(item_id: int, k: int) -> str:
    return f"{_PREFIX}{item_id}:{k}"


def reviews_needed(verdicts: Iterable[tuple[str, str]], required: int) -> int:
    """More reviews an item needs under the rule, from its (reviewer, verdict) pairs in time order."""
    latest: dict[str, str] = {}
    for reviewer, verdict in verdicts:
        latest[reviewer] = verdict
    counts = [sum(1 for v in latest.values() if v == d) for d in DEFINITIVE]
    leading, other = max(counts), min(counts)
    needed = max(max(required, 1) - leading, 0)
    return max(needed, 1) if leading == other and leading > 0 else needed


def claim_next(
    session: Session, reviewer: str, filters: QueueFilter | None = None, *, required: int | None = None,
    now: dt.datetime | None = None, ttl_s: float = CLAIM_TTL_S, exclude: Collection[int] = (),
) -> int | None:
    """The item `reviewer` should review next, claimed for them; None when nothing is left for them.

    A claim they already hold on an item they have not reviewed is returned first (renewed), so
    a reload or a second tab shows the same clip. `exclude`: items the reviewer skipped.
    Runs in the caller's transaction: commit right after.
    """
    now = now or utcnow()
    required = required_agreement(session) if required is None else required
    # Abandoned claims are dropped here, so the lease table holds about one row per active reviewer.
    session.execute(delete(Lease).where(Lease.name.like(f"{_PREFIX}%"), Lease.expires_at < now)
                    .execution_options(synchronize_session=False))
    for item_id in my_claims(session, reviewer, now):
        if item_id not in exclude and _still_mine(session, item_id, reviewer, filters):
            lease.renew(session, _slot_of(session, item_id, reviewer, now) or _slot(item_id, 0), reviewer, ttl_s, now)
            return item_id
    offset = 0
    while True:
        batch = _candidates(session, reviewer, filters, _BATCH, offset, exclude)
        if not batch:
            return None
        offset += len(batch)
        pairs = _pairs(session, batch)
        held = _claims(session, batch, now)
        for item_id in batch:
            if _free(pairs.get(item_id, []), held.get(item_id, set()), reviewer, required) <= 0:
                continue
            # Slots 0..n: the first free one is taken atomically; losing a race just moves on.
            for k in range(len(held.get(item_id, set())) + required):
                if lease.acquire(session, _slot(item_id, k), reviewer, ttl_s, now):
                    return item_id


def claim(
    session: Session, reviewer: str, item_id: int, *, required: int | None = None,
    now: dt.datetime | None = None, ttl_s: float = CLAIM_TTL_S,
) -> bool:
    """Claim one chosen item for `reviewer` (picked from the list); False when it has no slot left for them."""
    now = now or utcnow()
    required = required_agreement(session) if required is None else required
    if not _still_mine(session, item_id, reviewer, None):
        return False
    held = _claims(session, [item_id], now).get(item_id, set())
    if reviewer in held:
        return True
    if _free(_pairs(session, [item_id]).get(item_id, []), held, reviewer, required) <= 0:
        return False
    return any(lease.acquire(session, _slot(item_id, k), reviewer, ttl_s, now)
               for k in range(len(held) + required))


def release(session: Session, item_id: int, reviewer: str) -> None:
    """Give up `reviewer`'s claim on the item (after their verdict, or when they skip it)."""
    session.execute(delete(Lease).where(Lease.name.like(f"{_PREFIX}{item_id}:%"), Lease.holder == reviewer)
                    .execution_options(synchronize_session=False))


def my_claims(session: Session, reviewer: str, now: dt.datetime | None = None) -> list[int]:
    """Items `reviewer` holds an unexpired claim on, oldest claim first."""
    now = now or utcnow()
    names = session.scalars(select(Lease.name).where(Lease.holder == reviewer, Lease.name.like(f"{_PREFIX}%"),
                                                     Lease.expires_at >= now).order_by(Lease.expires_at))
    return list(dict.fromkeys(int(n.split(":")[1]) for n in names))


def available_items(
    session: Session, reviewer: str, filters: QueueFilter | None = None, *, required: int | None = None,
    limit: int = 50, now: dt.datetime | None = None, exclude: Collection[int] = (),
) -> list[int]:
    """Up to `limit` item ids `reviewer` could be assigned now (their own claims first), in queue order."""
    now = now or utcnow()
    required = required_agreement(session) if required is None else required
    out = [i for i in my_claims(session, reviewer, now)
           if i not in exclude and _still_mine(session, i, reviewer, filters)]
    offset = 0
    while len(out) < limit:
        batch = _candidates(session, reviewer, filters, _BATCH, offset, exclude)
        if not batch:
            break
        offset += len(batch)
        pairs, held = _pairs(session, batch), _claims(session, batch, now)
        out += [i for i in batch
                if i not in out and _free(pairs.get(i, []), held.get(i, set()), reviewer, required) > 0]
    return out[:limit]


def _mine_to_review(reviewer: str, filters: QueueFilter | None) -> list:
    """Conditions: open, matching the filters (whatever their status), not yet reviewed by `reviewer`."""
    f = dataclasses.replace(filters or QueueFilter(), status=ITEM_OPEN)
    reviewed = exists().where(Review.item_id == ReviewItem.id, Review.reviewer == reviewer)
    return [*filter_conditions(f), ~reviewed]


def _candidates(session: Session, reviewer: str, filters: QueueFilter | None, limit: int, offset: int,
                exclude: Collection[int] = ()) -> list[int]:
    """Open items (matching the filters) that `reviewer` has not reviewed, in queue order."""
    skip = [ReviewItem.id.not_in(list(exclude))] if exclude else []
    stmt = (select(ReviewItem.id).where(*_mine_to_review(reviewer, filters), *skip)
            .order_by(ReviewItem.priority.desc(), ReviewItem.id.desc()).limit(limit).offset(offset))
    return list(session.scalars(stmt))


def _still_mine(session: Session, item_id: int, reviewer: str, filters: QueueFilter | None) -> bool:
    return session.scalar(select(ReviewItem.id).where(ReviewItem.id == item_id,
                                                      *_mine_to_review(reviewer, filters))) is not None


def _free(pairs: list[tuple[str, str]], holders: set[str], reviewer: str, required: int) -> int:
    """Review slots of an item still open to `reviewer`: needed reviews minus others' live claims
    (a claim whose holder already voted no longer counts)."""
    voted = {r for r, _ in pairs}
    return reviews_needed(pairs, required) - len(holders - voted - {reviewer})


def _pairs(session: Session, ids: list[int]) -> dict[int, list[tuple[str, str]]]:
    out: dict[int, list[tuple[str, str]]] = {}
    rows = session.execute(select(Review.item_id, Review.reviewer, Review.verdict)
                           .where(Review.item_id.in_(ids)).order_by(Review.created_at, Review.id))
    for item_id, reviewer, verdict in rows:
        out.setdefault(item_id, []).append((reviewer, verdict))
    return out


def _claims(session: Session, ids: list[int], now: dt.datetime) -> dict[int, set[str]]:
    """Unexpired claim holders per item (claims are few: about one per active reviewer)."""
    wanted, out = set(ids), {}
    rows = session.execute(select(Lease.name, Lease.holder).where(Lease.name.like(f"{_PREFIX}%"),
                                                                  Lease.expires_at >= now))
    for name, holder in rows:
        item_id = int(name.split(":")[1])
        if item_id in wanted:
            out.setdefault(item_id, set()).add(holder)
    return out


def _slot_of(session: Session, item_id: int, reviewer: str, now: dt.datetime) -> str | None:
    return session.scalar(select(Lease.name).where(Lease.name.like(f"{_PREFIX}{item_id}:%"), Lease.holder == reviewer,
                                                   Lease.expires_at >= now).limit(1))
