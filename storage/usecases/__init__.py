"""The audited use cases: one function per thing a person can do.

Every front end (the CLI, the web rooms, the JSON API) parses its input, calls one of these
and renders the typed result; none of them holds SQL, decryption or an audit append of its
own. A use case runs inside `acting(...)`, which resolves the caller's duty (a refusal is
itself an audit entry, committed before the error is raised), opens one transaction for
the work and its audit entries, and considers an audit checkpoint after it commits.

One module per subject: people (sign in/out, accounts), intake (a batch), records (the
queue, an original, search), holds, disposal, keys, backup, audit. A use case takes the
settings and the caller's session token (or a function that reads it), e.g.

    from storage.usecases.records import open_original
    original = open_original(settings, token, "R20261129-000001", "disclosure request 12")

and raises an error of the one family (schemas/errors.py) that the front end maps: the CLI
to message, hint and exit code (kura.cli.main), the web rooms to an HTTP status. A rule that
refuses the work itself (an error whose exit code is `refused`) rolls the work back and is
recorded as `refused:<error>` under the use case's action.
"""
