"""Finding a document by its 受付番号.

A 受付番号 (R20261122-000123) is counted per municipality and fiscal year, so offices that
share one installation each have their own R…-000001: the number is unique only together
with the municipality (document.municipality, the 自治体コード it was taken in under). A
person names a document by its number as stamped on the paper; where two municipalities
hold that number, the office's own is meant, and where it is not among them the person is
asked which one, in the qualified form `011002:R20261122-000123`.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from schemas.errors import InvalidInput, NotAllowed
from schemas.i18n import _
from storage.models import Document

QUALIFIER = ":"
"""Between the 自治体コード and the number: 011002:R20261122-000123."""


class AmbiguousReceipt(InvalidInput):
    """Two or more municipalities hold the 受付番号 and none of them is the office's own."""

    code = "ambiguous_receipt"


class OtherMunicipality(NotAllowed):
    """The document is another municipality's: where offices share one installation, a
    person sees and acts on their own municipality's documents only (a refusal, audited)."""

    code = "other_municipality"


def of_own(document: Document, own: str, typed: str) -> Document:
    """The document, if it is the municipality `own`'s; else OtherMunicipality."""
    if document.municipality != own:
        raise OtherMunicipality(_(
            "{receipt_number} is a document of municipality {code}: you work on those of "
            "{own}").format(receipt_number=typed, code=document.municipality, own=own))
    return document


def split_receipt(text: str) -> tuple[str | None, str]:
    """(自治体コード or None, 受付番号) of what a person typed."""
    municipality, sep, number = text.strip().rpartition(QUALIFIER)
    if sep and len(municipality) == 6 and municipality.isdigit():
        return municipality, number.strip()
    return None, text.strip()


def qualified(document: Document) -> str:
    return f"{document.municipality}{QUALIFIER}{document.receipt_number}"


def qualified_as(text: str, own: str) -> str:
    """The typed 受付番号 qualified, an unqualified one as the office's own."""
    municipality, number = split_receipt(text)
    return f"{municipality or own}{QUALIFIER}{number}"


def numbered(session: Session, text: str) -> list[Document]:
    """Every document the typed 受付番号 may mean (qualified: at most one)."""
    municipality, number = split_receipt(text)
    query = select(Document).where(Document.receipt_number == number)
    if municipality is not None:
        query = query.where(Document.municipality == municipality)
    return list(session.scalars(query.order_by(Document.municipality)))


def one_of(documents: list[Document], text: str, own: str) -> Document | None:
    """The document meant among those holding the number: the only one, or the office's
    own; several of other municipalities are an error that names them."""
    if len(documents) <= 1:
        return documents[0] if documents else None
    mine = [d for d in documents if d.municipality == own]
    if len(mine) == 1:
        return mine[0]
    _municipality, number = split_receipt(text)
    raise AmbiguousReceipt(
        _("{receipt} is a 受付番号 of {municipalities}").format(
            receipt=number, municipalities=", ".join(d.municipality for d in documents)),
        hint=_("say which municipality's: {example}").format(example=qualified(documents[0])))


def document_by_receipt(session: Session, text: str, own: str) -> Document | None:
    """The one document the typed 受付番号 names (None: no such number)."""
    return one_of(numbered(session, text), text, own)


def documents_by_receipts(session: Session, texts: Iterable[str], own: str
                          ) -> dict[str, Document]:
    """typed 受付番号 → its document, for those that name one."""
    found = {}
    for text in dict.fromkeys(texts):
        document = document_by_receipt(session, text, own)
        if document is not None:
            found[text] = document
    return found


def shown(document: Document, own: str) -> str:
    """The 受付番号 as the office writes it: plain for its own, qualified for another
    municipality's (so that naming it again finds that one)."""
    return document.receipt_number if document.municipality == own else qualified(document)
