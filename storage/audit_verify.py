"""Verifying the audit chain: walk the entries, the head and every signed checkpoint, and
name the first entry that was changed, removed, reordered or inserted."""

from __future__ import annotations

import hmac
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from schemas.settings import Settings
from storage.audit import GENESIS, AuditCheckpoint, AuditEntry, compute_hash, head
from storage.checkpoints import (
    CHECKPOINT_NAME,
    Checkpoint,
    checkpoint_store,
    load_audit_key,
)


@dataclass(frozen=True)
class Problem:
    kind: str
    """changed | removed | reordered | inserted | checkpoint_altered | checkpoint_missing |
    checkpoint_mismatch | checkpoint_unverifiable | head_mismatch"""
    seq: int | None
    message: str


@dataclass
class VerifyReport:
    entries: int = 0
    head_seq: int = 0
    checkpoints: int = 0
    checkpoints_verified: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first(self) -> Problem | None:
        return self.problems[0] if self.problems else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "entries": self.entries,
            "head_seq": self.head_seq,
            "checkpoints": self.checkpoints,
            "checkpoints_verified": self.checkpoints_verified,
            "first": asdict(self.first) if self.first else None,
            "problems": [asdict(p) for p in self.problems],
        }


SHIFT_WINDOW = 64
"""How far a moved entry's original number is looked for."""


def _origin(entry: AuditEntry) -> int | None:
    """The seq this entry's stored hash was computed for: its own when untouched, another
    when the row was renumbered (moved), None when its content was changed."""
    if compute_hash(entry) == entry.entry_hash:
        return entry.seq
    for delta in range(1, SHIFT_WINDOW + 1):
        for candidate in (entry.seq + delta, entry.seq - delta):
            if candidate > 0 and compute_hash(entry, candidate) == entry.entry_hash:
                return candidate
    return None


def _walk_chain(entries: Sequence[AuditEntry]) -> Problem | None:
    """The first break in the chain, classified."""
    later_hashes = {e.entry_hash: i for i, e in enumerate(entries)}
    prev, prev_prev, expected = GENESIS, None, 1
    for index, entry in enumerate(entries):
        if entry.seq != expected:
            if entry.seq > expected:
                gap = (
                    f"entry {expected}"
                    if entry.seq == expected + 1
                    else f"entries {expected}–{entry.seq - 1}"
                )
                return Problem(
                    "removed",
                    expected,
                    f"{gap} removed: the chain jumps from {expected - 1} to {entry.seq}",
                )
            return Problem("inserted", entry.seq, f"entry {entry.seq} appears twice")
        origin = _origin(entry)
        linked = entry.prev_hash == prev
        if origin == entry.seq and linked:
            prev_prev, prev, expected = prev, entry.entry_hash, expected + 1
            continue
        points_later = later_hashes.get(entry.prev_hash, -1) > index
        if origin is None:
            following = entries[index + 1] if index + 1 < len(entries) else None
            if following is not None and _origin(following) == entry.seq:
                return Problem(
                    "inserted",
                    entry.seq,
                    f"entry {entry.seq} was inserted: the entry after it was "
                    f"numbered {entry.seq} when it was written",
                )
            if points_later:
                return Problem(
                    "reordered", entry.seq, f"entry {entry.seq} is out of order and was changed"
                )
            return Problem(
                "changed",
                entry.seq,
                f"entry {entry.seq} was changed: its content does not match its hash",
            )
        if origin != entry.seq:
            if points_later:
                return Problem(
                    "reordered",
                    entry.seq,
                    f"entry {entry.seq} is out of order: it was written as entry {origin}",
                )
            if origin > entry.seq:
                count = origin - entry.seq
                return Problem(
                    "removed",
                    entry.seq,
                    f"{count} entr{'y' if count == 1 else 'ies'} removed before "
                    f"entry {origin}, which was renumbered {entry.seq}",
                )
            return Problem(
                "inserted",
                origin,
                f"entry {origin} was inserted: the entry now numbered "
                f"{entry.seq} was written as entry {origin}",
            )
        # content intact, link broken
        if entry.seq == 1:
            return Problem("changed", 1, "entry 1 was changed: it does not start the chain")
        if points_later:
            return Problem(
                "reordered",
                entry.seq,
                f"entry {entry.seq} is out of order: it follows an entry that now comes after it",
            )
        if prev_prev is not None and entry.prev_hash == prev_prev:
            return Problem(
                "inserted",
                entry.seq - 1,
                f"entry {entry.seq - 1} was inserted: entry {entry.seq} was "
                f"written right after entry {entry.seq - 2}",
            )
        return Problem(
            "changed",
            entry.seq - 1,
            f"entry {entry.seq - 1} was changed (its hash recomputed): entry "
            f"{entry.seq} was written after a different entry {entry.seq - 1}",
        )
    return None


def verify(settings: Settings, session: Session | None = None) -> VerifyReport:
    """Walk the chain, the head and every checkpoint; report what does not hold, the first
    (lowest entry number) first."""
    from storage.db import session_scope

    if session is None:
        with session_scope(settings.sqlalchemy_url) as own:
            return verify(settings, own)
    entries = list(session.scalars(select(AuditEntry).order_by(AuditEntry.seq)))
    report = VerifyReport(entries=len(entries))
    problems: list[Problem] = []
    chain = _walk_chain(entries)
    if chain:
        problems.append(chain)
    head_seq, head_hash = head(session)
    report.head_seq = head_seq
    last = entries[-1] if entries else None
    if last is None or head_seq != last.seq:
        last_seq = last.seq if last else 0
        if head_seq > last_seq:
            problems.append(
                Problem(
                    "removed",
                    last_seq + 1,
                    f"entries {last_seq + 1}–{head_seq} removed from the end "
                    f"(the head says {head_seq})",
                )
            )
        else:
            problems.append(
                Problem(
                    "head_mismatch",
                    head_seq,
                    f"the head says {head_seq} but entries go to {last_seq}",
                )
            )
    elif head_hash != last.entry_hash and not chain:
        problems.append(
            Problem("changed", last.seq, f"entry {last.seq} was changed: it differs from the head")
        )
    problems.extend(_check_checkpoints(settings, session, entries, report))
    report.problems = sorted(problems, key=lambda p: (p.seq is None, p.seq or 0))
    return report


def _checkpoint_seq(name: str) -> int:
    matched = CHECKPOINT_NAME.match(name)
    return int(matched.group(1)) if matched else 0


def _check_checkpoints(
    settings: Settings, session: Session, entries: Sequence[AuditEntry], report: VerifyReport
) -> Iterator[Problem]:
    by_seq = {e.seq: e for e in entries}
    store = checkpoint_store(settings)
    key = load_audit_key(settings)
    names = store.names()
    recorded = {c.object_name: c for c in session.scalars(select(AuditCheckpoint))}
    report.checkpoints = len(set(names) | set(recorded))
    for name in sorted(set(recorded) - set(names)):
        yield Problem(
            "checkpoint_missing",
            recorded[name].seq,
            f"checkpoint {name} is recorded but gone from the store",
        )
    good: list[int] = []
    for name in sorted(names, key=_checkpoint_seq):
        matched = CHECKPOINT_NAME.match(name)
        if not matched:
            yield Problem(
                "checkpoint_altered", None, f"unexpected object {name} in the checkpoint store"
            )
            continue
        try:
            checkpoint = Checkpoint.from_bytes(store.get(name))
        except (ValueError, KeyError, TypeError):
            yield Problem(
                "checkpoint_altered",
                int(matched.group(1)),
                f"checkpoint {name} is not a readable checkpoint",
            )
            continue
        if checkpoint.key_id != key.id:
            yield Problem(
                "checkpoint_unverifiable",
                checkpoint.seq,
                f"checkpoint {name} was signed with another key ({checkpoint.key_id})",
            )
            continue
        if not hmac.compare_digest(
            key.sign(checkpoint.signed_part()), checkpoint.mac
        ) or checkpoint.seq != int(matched.group(1)):
            yield Problem(
                "checkpoint_altered",
                checkpoint.seq,
                f"checkpoint {name} was altered: its signature does not match",
            )
            continue
        report.checkpoints_verified += 1
        entry = by_seq.get(checkpoint.seq)
        since = max((s for s in good if s < checkpoint.seq), default=0)
        if entry is None:
            yield Problem(
                "removed",
                checkpoint.seq,
                f"entry {checkpoint.seq}, signed in checkpoint {name}, is missing",
            )
        elif entry.entry_hash != checkpoint.head_hash:
            yield Problem(
                "checkpoint_mismatch",
                checkpoint.seq,
                f"the chain was rewritten: entry {checkpoint.seq} differs from "
                f"signed checkpoint {name}; the first rewritten entry lies in "
                f"{since + 1}–{checkpoint.seq}",
            )
        else:
            good.append(checkpoint.seq)
        row = recorded.get(name)
        if row is not None and row.head_hash != checkpoint.head_hash:
            yield Problem(
                "checkpoint_altered",
                checkpoint.seq,
                f"the database record of checkpoint {name} was altered",
            )


