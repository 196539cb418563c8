"""The refusals of custody (keys, blind indexes, retention, legal hold, disposal): each
rule that stops an operation says which and why. The subjects themselves live in
storage/keys.py, blind_index.py, retention.py and disposal.py."""

from __future__ import annotations

from schemas.errors import Conflict, ExitCode


class CustodyError(Conflict):
    """A custody rule refuses the operation; the message says which and why."""

    code = "custody"
    exit_code = ExitCode.refused


class UnsearchableField(CustodyError):
    """No blind index on the field asked for."""

    code = "unsearchable_field"
    exit_code = ExitCode.bad_input


class RetentionError(CustodyError):
    """The retention period has not ended, or a legal hold is set."""

    code = "retention"


class FourEyesError(CustodyError):
    """The same person may not both request and approve."""

    code = "four_eyes"
