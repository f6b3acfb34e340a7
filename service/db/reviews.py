"""Review decisions on copy: approve or reject a version, optimistically versioned, with full history.

Every decision names ``base_version``: the product's ``row_version`` the reviewer
saw (0 for a product nobody has decided on yet). The write succeeds only when
that is still the current one; otherwise :class:`Conflict` says who decided in
between, so two marketers never overwrite each other silently. A decision is
committed before it is acknowledged (SQLite ``synchronous=FULL``, PostgreSQL
commit), so a killed server loses nothing it answered for.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import Engine, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from service.db.models import CopyEntry, CopyVersion
from service.errors import ClientError

DecisionKind = Literal["approved", "rejected"]


class Conflict(ClientError):
    status = 409
    code = "conflict"


@dataclass(frozen=True)
class Decision:
    """One reviewer's decision on one text of one product's copy."""

    product_id: str
    decision: DecisionKind
    headline: str
    body: str
    bullets: list[str]
    cta: str
    base_version: int
    decided_by: str
    title: str = ""
    channel: str = "pdp"
    language: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    product: dict[str, Any] = field(default_factory=dict)
    findings: list[dict[str, Any]] = field(default_factory=list)
    edited: bool = False
    override: bool = False
    override_reason: str | None = None
    note: str | None = None
    prompt_version: str | None = None
    provider: str | None = None
    model: str | None = None
    job_id: str | None = None


def _version_dict(v: CopyVersion) -> dict[str, Any]:
    return {
        "number": v.number,
        "decision": v.decision,
        "headline": v.headline,
        "body": v.body,
        "bullets": list(v.bullets or []),
        "cta": v.cta,
        "channel": v.channel,
        "language": v.language,
        "options": v.options or {},
        "product": v.product or {},
        "findings": v.findings or [],
        "edited": v.edited,
        "override": v.override,
        "override_reason": v.override_reason,
        "note": v.note,
        "prompt_version": v.prompt_version,
        "provider": v.provider,
        "model": v.model,
        "job_id": v.job_id,
        "decided_by": v.decided_by,
        "decided_at": _iso(v.decided_at),
    }


def _entry_dict(e: CopyEntry) -> dict[str, Any]:
    return {
        "product_id": e.product_id,
        "status": e.status,
        "current_version": e.current_version,
        "row_version": e.row_version,
        "title": e.title,
        "updated_at": _iso(e.updated_at),
        "updated_by": e.updated_by,
    }


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:  # SQLite hands back naive datetimes; they were written in UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.isoformat(timespec="seconds")


class ReviewStore:
    """Decisions and history in the database (SQLite or PostgreSQL, through SQLAlchemy)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    def describe(self) -> dict[str, Any]:
        """Backend and counts, for the ops view (password never shown)."""
        with self._sessions() as session:
            rows = session.execute(select(CopyEntry.status, func.count()).group_by(CopyEntry.status)).all()
        return {
            "backend": self.engine.dialect.name,
            "url": self.engine.url.render_as_string(hide_password=True),
            "entries": {status: count for status, count in rows},
        }

    def decide(self, d: Decision) -> dict[str, Any]:
        """Record the decision as the product's next version; returns the entry and the new version.

        :raises Conflict: someone decided on this product since ``base_version``.
        """
        now = datetime.now(UTC)
        with self._sessions() as session:
            try:
                with session.begin():
                    entry = self._advance(session, d, now)
                    version = CopyVersion(
                        product_id=d.product_id,
                        number=entry.current_version,
                        decision=d.decision,
                        headline=d.headline,
                        body=d.body,
                        bullets=list(d.bullets),
                        cta=d.cta,
                        channel=d.channel,
                        language=d.language,
                        options=d.options,
                        product=d.product,
                        findings=d.findings,
                        edited=d.edited,
                        override=d.override,
                        override_reason=d.override_reason,
                        note=d.note,
                        prompt_version=d.prompt_version,
                        provider=d.provider,
                        model=d.model,
                        job_id=d.job_id,
                        decided_by=d.decided_by,
                        decided_at=now,
                    )
                    session.add(version)
            except IntegrityError:  # a first decision raced another first decision
                raise self._conflict(d) from None
            return {"entry": _entry_dict(entry), "version": _version_dict(version)}

    def _advance(self, session: Session, d: Decision, now: datetime) -> CopyEntry:
        if d.base_version == 0:
            entry = CopyEntry(
                product_id=d.product_id,
                status=d.decision,
                current_version=1,
                row_version=1,
                title=d.title,
                updated_at=now,
                updated_by=d.decided_by,
            )
            session.add(entry)
            session.flush()  # the primary key decides a race between two first decisions
            return entry
        result = session.execute(
            update(CopyEntry)
            .where(CopyEntry.product_id == d.product_id, CopyEntry.row_version == d.base_version)
            .values(
                status=d.decision,
                current_version=CopyEntry.current_version + 1,
                row_version=CopyEntry.row_version + 1,
                title=d.title or CopyEntry.title,
                updated_at=now,
                updated_by=d.decided_by,
            )
        )
        if result.rowcount != 1:
            raise self._conflict(d)
        entry = session.get(CopyEntry, d.product_id, populate_existing=True)
        assert entry is not None
        return entry

    def _conflict(self, d: Decision) -> Conflict:
        current = self.entry(d.product_id)
        if current is None:
            return Conflict(
                f"base_version: product {d.product_id!r} has no decision yet; send base_version 0", field="base_version"
            )
        return Conflict(
            f"base_version: {current['updated_by']} {current['status']} this product at {current['updated_at']} "
            f"(now version {current['row_version']}, you had version {d.base_version}); reload it and decide again",
            field="base_version",
        )

    def entry(self, product_id: str) -> dict[str, Any] | None:
        with self._sessions() as session:
            entry = session.get(CopyEntry, product_id)
            return _entry_dict(entry) if entry else None

    def history(self, product_id: str) -> list[dict[str, Any]]:
        """Every version of the product's copy, newest first."""
        with self._sessions() as session:
            rows = session.scalars(
                select(CopyVersion).where(CopyVersion.product_id == product_id).order_by(CopyVersion.number.desc())
            ).all()
            return [_version_dict(v) for v in rows]

    def states(self, product_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The entries of those products that have one."""
        out: dict[str, dict[str, Any]] = {}
        ids = list(dict.fromkeys(product_ids))
        with self._sessions() as session:
            for start in range(0, len(ids), 500):
                for entry in session.scalars(select(CopyEntry).where(CopyEntry.product_id.in_(ids[start : start + 500]))):
                    out[entry.product_id] = _entry_dict(entry)
        return out

    def entries(self, status: DecisionKind | None = None, *, limit: int = 50, offset: int = 0) -> tuple[int, list[dict[str, Any]]]:
        """(total, a page of entries), most recently decided first."""
        with self._sessions() as session:
            query = select(CopyEntry)
            count = select(func.count()).select_from(CopyEntry)
            if status:
                query = query.where(CopyEntry.status == status)
                count = count.where(CopyEntry.status == status)
            total = session.scalar(count) or 0
            rows = session.scalars(
                query.order_by(CopyEntry.updated_at.desc(), CopyEntry.product_id).limit(limit).offset(offset)
            ).all()
            return total, [_entry_dict(e) for e in rows]

    def approved(self, batch: int = 500) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
        """(entry, its current version) for every approved product, by product id, in batches."""
        last = ""
        while True:
            with self._sessions() as session:
                rows = session.execute(
                    select(CopyEntry, CopyVersion)
                    .join(
                        CopyVersion,
                        (CopyVersion.product_id == CopyEntry.product_id)
                        & (CopyVersion.number == CopyEntry.current_version),
                    )
                    .where(CopyEntry.status == "approved", CopyEntry.product_id > last)
                    .order_by(CopyEntry.product_id)
                    .limit(batch)
                ).all()
            if not rows:
                return
            for entry, version in rows:
                yield _entry_dict(entry), _version_dict(version)
            last = rows[-1][0].product_id
