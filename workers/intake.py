"""Intake as the workers and front ends run it: the ordered chain of checks (the format
check of the pipeline, then the duplicate check of storage) in front of storage/intake.py."""

from __future__ import annotations

from sqlalchemy.orm import Session

from pipeline import ingest
from pipeline.errors import RejectedFile
from storage import intake
from storage.audit import Actor
from storage.intake import Arrival, DuplicateCheck, IntakeCheck, IntakeResult
from storage.vault import Vault

__all__ = ["INTAKE_CHECKS", "Arrival", "FormatCheck", "take_in"]


class FormatCheck:
    name = "format"

    def able_to_run(self, arrival: Arrival) -> bool:
        return True

    def run(self, session: Session, arrival: Arrival) -> None:
        arrival.page_count = ingest.count_pages(arrival.data)
        if arrival.page_count == 0:
            raise RejectedFile("the file has no pages")


INTAKE_CHECKS: tuple[IntakeCheck, ...] = (FormatCheck(), DuplicateCheck())


def take_in(
    session: Session,
    vault: Vault,
    arrivals: list[Arrival],
    channel: str,
    actor: Actor | None = None,
) -> IntakeResult:
    """Take files in through the whole chain (storage.intake.take_in)."""
    return intake.take_in(session, vault, arrivals, channel, INTAKE_CHECKS, actor)
