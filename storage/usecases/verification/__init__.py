"""Verification: people look at what the machine read, correct it, and a second person
confirms (DOMAIN §6: four-eyes, control 27; history of every value, control 73; 疑義, control 31).

The life of a field:   accepted (read, nothing doubtful)            → stays accepted
                       review   → accept / correct → pending         → confirmed | review
                       review (個人番号, 基礎年金番号) → keying → confirmed | disputed → confirmed
The life of a document: review | ready → in_verification → verified
                        … → investigation (疑義) → in_verification (only by a decision)
                        … → rescan (sent back to the scanning desk)

Every step is a VerificationEvent row; nothing is overwritten. A field's current value
(FieldValue.value_sealed, which search and exports read) is the last confirmed one, and the
blind indexes follow it.

One file per subject, each under 500 lines: common (states, refusals, events, settling a
value), reading (what the station shows), fields (accept, correct, confirm, return: four-eyes),
keying (double-blind), documents (疑義, rescan, finish). Front ends import the package.
"""

from storage.usecases.verification.common import (
    CORRECTION_REASONS,
    DECISIONS,
    DOUBLE_BLIND_TYPES,
    SETTLED,
    WAITING,
    FourEyesRefused,
    OtherMunicipality,
    VerificationError,
)
from storage.usecases.verification.documents import decide, finish, investigate, rescan
from storage.usecases.verification.fields import accept, confirm, correct, return_change
from storage.usecases.verification.keying import key
from storage.usecases.verification.reading import (
    DocumentView,
    FieldView,
    Step,
    group,
    never_verified,
    open_document,
    page_image,
    queue,
)

__all__ = [
    "CORRECTION_REASONS", "DECISIONS", "DOUBLE_BLIND_TYPES", "SETTLED", "WAITING",
    "DocumentView", "FieldView", "FourEyesRefused", "OtherMunicipality", "Step",
    "VerificationError", "accept", "confirm", "correct", "decide", "finish", "group",
    "investigate", "key", "never_verified", "open_document", "page_image", "queue", "rescan",
    "return_change",
]
