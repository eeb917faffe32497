"""Erasing a data subject's personal data by throwing its key away (ADR 0044)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

from cases.application.audit_trail import AuditTrail
from cases.application.caller import Caller
from cases.application.command_runner import CommandRunner, Receipt
from cases.domain.audited import AuditedAggregate
from cases.domain.customer import CustomerContact
from cases.domain.erasure import DEFAULT_LEGAL_BASIS, Erasure, SubjectKind, erasure_id_for
from cases.domain.errors import (
    AlreadyExistsError,
    PersonalDataNotSealedError,
    RecordedBeforeSealingError,
    UnknownSubjectError,
)
from cases.domain.principal import Principal
from cases.domain.support_case import SupportCase
from cases.history.entries import HistoryEntry
from cases.persistence.legacy_plaintext import plain_events_of
from cases.persistence.subject_keys import SubjectKeys


@dataclass(frozen=True, slots=True)
class Erased:
    """What an erasure did: `receipt` is None when the subject was erased before."""

    subject_id: UUID
    kind: SubjectKind
    erasure_id: UUID
    receipt: Receipt | None
    plain_events: int = 0
    """Its events recorded before sealing, whose plain text stays (ADR 0066)."""

    @property
    def already(self) -> bool:
        return self.receipt is None


@dataclass(frozen=True, slots=True)
class Subject:
    subject_id: UUID
    kind: SubjectKind


@dataclass(frozen=True, slots=True)
class SubjectExport:
    """Everything recorded about a subject, its personal fields opened (or `erased`)."""

    subject: Subject
    erased: bool
    history: list[HistoryEntry]


_AGGREGATE_OF: dict[SubjectKind, type[AuditedAggregate]] = {
    SubjectKind.CONTACT: SupportCase,
    SubjectKind.PRINCIPAL: Principal,
    SubjectKind.CUSTOMER_CONTACT: CustomerContact,
}


class PrivacyOffice:
    """Answers a subject's requests about their personal data."""

    def __init__(self, runner: CommandRunner) -> None:
        self.runner = runner

    def _keys(self) -> SubjectKeys:
        keys = self.runner.log.subject_keys
        if keys is None:
            raise PersonalDataNotSealedError(
                "no master key is set (CASES_MASTER_KEY): personal data is stored as it is "
                "and cannot be erased by throwing its key away"
            )
        return keys

    def subject_kind(self, subject_id: UUID) -> SubjectKind:
        kind = self._keys().kind_of(subject_id)
        if kind is not None:
            return kind
        for aggregate in _AGGREGATE_OF.values():
            if self.runner.exists(aggregate, subject_id):
                raise RecordedBeforeSealingError(
                    f"subject {subject_id} was recorded before personal data was sealed: "
                    "its data is stored as it is, with no key to throw away "
                    "(`cases privacy legacy` lists such subjects; ADR 0056)"
                )
        raise UnknownSubjectError(f"no personal data is held for subject {subject_id}")

    def find(self, *, email: str | None = None, name: str | None = None) -> list[Subject]:
        """The subjects not yet erased recorded with this e-mail address and/or name
        (ignoring case and extra spaces), each once."""
        keys = self._keys()
        found: dict[UUID, Subject] = {}
        for field, value in (("email", email), ("name", name)):
            if value is not None:
                for row in keys.find(field, value):
                    found[row.subject] = Subject(row.subject, row.kind)
        return list(found.values())

    def export(self, subject_id: UUID) -> SubjectExport:
        """The subject's records with their metadata (an access request, article 15)."""
        kind = self.subject_kind(subject_id)
        history = AuditTrail(self.runner).history(_AGGREGATE_OF[kind], subject_id)
        erased = self._keys().for_reading(subject_id) is None
        return SubjectExport(Subject(subject_id, kind), erased, history)

    def apply_retention(
        self,
        caller: Caller,
        case_ids: list[UUID],
        reason: str,
        legal_basis: str,
        progress: Callable[[int, int], None] | None = None,
    ) -> int:
        """Erase the contacts of `case_ids` not yet erased (cases past the retention
        period); cases recorded before sealing have no key and are skipped. Safe to
        run again: erased cases are not erased twice. Returns how many were erased;
        `progress(done, total)` after each case."""
        keys = self._keys()
        erased = 0
        for done, case_id in enumerate(case_ids, 1):
            sealed = keys.kind_of(case_id) is not None and keys.for_reading(case_id) is not None
            if sealed and not self.erase(caller, case_id, reason, legal_basis).already:
                erased += 1
            if progress is not None:
                progress(done, len(case_ids))
        return erased

    def erase(
        self,
        caller: Caller,
        subject_id: UUID,
        reason: str,
        legal_basis: str = DEFAULT_LEGAL_BASIS,
    ) -> Erased:
        """Record the erasure, then throw the subject's key away. Erasing again
        records nothing; a crash in between is finished by erasing again."""
        kind = self.subject_kind(subject_id)
        erasure_id = erasure_id_for(subject_id)
        receipt: Receipt | None = None
        if not self.runner.exists(Erasure, erasure_id):
            try:
                receipt = self.runner.create(
                    Erasure,
                    caller,
                    lambda ctx: Erasure.erase(
                        ctx,
                        subject_id=subject_id,
                        subject_kind=kind,
                        reason=reason,
                        legal_basis=legal_basis,
                    ),
                )
            except AlreadyExistsError:
                receipt = None  # another erasure of the same subject was first
        self._keys().erase(subject_id, self.runner.clock.now().isoformat())
        self.runner.forget(subject_id)
        plain = plain_events_of(self.runner.log, subject_id)
        return Erased(subject_id, kind, erasure_id, receipt, plain)
