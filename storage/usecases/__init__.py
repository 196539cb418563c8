"""The audited use cases: one function per thing a person can do.

Every front end (the CLI, the web rooms, the JSON API) parses its input, calls one of these
and renders the typed result; none of them holds SQL, decryption or an audit append of its
own. A use case runs inside `acting(...)`, which resolves the caller's duty (a refusal is
itself an audit entry, committed before the error is raised), opens one transaction for
the work and its audit entries, and considers an audit checkpoint after it commits.

One module per subject (records, originals, custody, people, audit, verification, …).
"""
