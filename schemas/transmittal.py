"""One document of a 進達 batch, as the 送付内容内訳書 and the records CSV show it: shared by
the use case that gathers the batch (storage/usecases/transmittals.py) and the pipeline that
draws its documents (pipeline/transmittal.py)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class TransmittalItem:
    receipt_number: str
    """受付番号"""
    form_title: str
    notification_type: str
    basic_pension_number: str
    name_kana: str
    received_date: dt.date
    pages: int
