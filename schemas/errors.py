"""The one error family of Kura: every failure a person can meet has a code, a message a
clerk or an operator can act on, and the exit status of the command that met it.

The model is OCRmyPDF's `ExitCode` and `exceptions.py`: the CLI has one handler that
prints `message` (and `hint`) and exits with `exit_code`; the web rooms map the same
errors to HTTP statuses. Messages never carry personal data: name documents by their
受付番号 and files by their position in a batch.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Exit statuses of `kura`; the README documents each one."""

    ok = 0
    failed = 1  # the operation could not be done (not found, not possible now)
    bad_input = 2  # the command line or a file given to it is wrong
    timed_out = 3  # waited for workers longer than allowed
    refused = 4  # not signed in, or the signed-in person lacks the duty
    damaged = 5  # stored data fails its integrity check (seal, hash, audit chain)
    unavailable = 6  # a service or key Kura needs is missing or unreachable


class KuraError(Exception):
    """Base of every error Kura reports to a person."""

    code = "error"
    exit_code = ExitCode.failed

    def __init__(self, message: str = "", *, hint: str = "") -> None:
        super().__init__(message or self.code)
        self.message = message or self.code
        self.hint = hint


class NotFound(KuraError):
    code = "not_found"


class Conflict(KuraError):
    """The thing exists but is in a state that does not allow this now."""

    code = "conflict"


class InvalidInput(KuraError):
    code = "invalid_input"
    exit_code = ExitCode.bad_input


class Rejected(InvalidInput):
    """A file that cannot be taken in; it goes to quarantine with this reason."""

    code = "rejected"


class Refused(KuraError):
    """Not signed in, or not allowed: the refusal itself is an audit entry."""

    code = "refused"
    exit_code = ExitCode.refused


class NotSignedIn(Refused):
    code = "not_signed_in"


class NotAllowed(Refused):
    code = "not_allowed"


class Damaged(KuraError):
    code = "damaged"
    exit_code = ExitCode.damaged


class Unavailable(KuraError):
    code = "unavailable"
    exit_code = ExitCode.unavailable
