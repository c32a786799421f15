"""The lease sweep: expire the leases of lost workers, but only while the service could hear.

A worker that keeps retrying through a server restart or a database outage must keep its
trial and its curve. So after start-up, and after any transaction that failed because the
database was unavailable (`Hearing`), this process expires nothing until a sweep has granted
every running trial (and finalization) a grace of one lease from now; then it expires as usual.

Each replica keeps its own `Hearing`. That is safe because a grace only ever lengthens a lease
(max of the old and the new end, never shorter) and is idempotent: a replica that was deaf
while another heard fine can at most delay by one lease the requeue of a trial whose worker
really is lost, and never takes a trial from a worker that is alive. An outage of the database
makes every replica deaf at once, since each one's transactions fail.
"""

from __future__ import annotations

from sqlalchemy import or_, select, update

from parzen.service.db.base import utcnow
from parzen.service.db.models import Finalization, Study, Trial
from parzen.service.storage.base import lease_until, lock_study
from parzen.service.storage.errors import NotFoundError
from parzen.service.storage.finalizations import FinalizationStore
from parzen.service.storage.records import LeaseExpiry
from parzen.service.storage.trials import TrialStore


class SweepStore(TrialStore, FinalizationStore):
    def sweep_leases(self, *, finalization_lease_seconds: float) -> tuple[LeaseExpiry, int]:
        """One sweep of the reaper: a grace if this process was deaf, else requeue (or fail)
        trials and finalizations whose lease ran out. Returns the trials' expiries and how
        many finalizations expired."""
        if self.hearing.deaf:
            self.grant_grace(finalization_lease_seconds=finalization_lease_seconds)
            return LeaseExpiry(), 0
        return self.expire_leases(), self.expire_finalizations()

    def grant_grace(self, *, finalization_lease_seconds: float) -> None:
        """Every running lease ends no sooner than one lease from now; clears the deafness
        that was seen before it began (an outage that starts meanwhile needs another)."""
        outages = self.hearing.outages()
        with self.session() as session:
            studies = session.execute(
                select(Study.id, Study.lease_seconds).where(
                    Study.id.in_(select(Trial.study_id).where(Trial.state == "running"))
                )
            ).all()
        for study_id, lease_seconds in studies:
            try:
                with self.session() as session:
                    lock_study(session, study_id)  # study before trial, as every writer does
                    until = lease_until(utcnow(), lease_seconds)
                    session.execute(
                        update(Trial)
                        .where(
                            Trial.study_id == study_id,
                            Trial.state == "running",
                            or_(Trial.lease_expires_at.is_(None), Trial.lease_expires_at < until),
                        )
                        .values(lease_expires_at=until)
                    )
            except NotFoundError:
                continue  # deleted meanwhile: nothing left to keep
        with self.session() as session:
            until = lease_until(utcnow(), finalization_lease_seconds)
            session.execute(
                update(Finalization)
                .where(
                    Finalization.state == "running",
                    or_(
                        Finalization.lease_expires_at.is_(None),
                        Finalization.lease_expires_at < until,
                    ),
                )
                .values(lease_expires_at=until)
            )
        self.hearing.healed(outages)
