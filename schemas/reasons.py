"""Why a field, page or document waits for a person: every reason code the pipeline gives,
with the words the verification station shows for it.

A reason is a code, sometimes with a detail after a colon or inside the code
(`doubt:ツ/ッ`, `variant_kanji:崎`, `length_9_of_10`, `needed_by:notification_type`). The
detail never holds personal data: it is a character, a field name or a count.
"""

from __future__ import annotations

import re

REASONS: dict[str, str] = {
    # reading
    "empty": "必須欄が空欄です — a required field is empty",
    "low_confidence": "読取りの確信度が低い — the recogniser was unsure",
    "doubt": "紛らわしい文字 — a character nearly read as another (detail: read/nearly)",
    "engines_disagree": "2つの読取りエンジンの結果が異なる — two recognisers read different digits",
    "characters_missing": "文字の読み落とし — fewer characters read than are written",
    "cell_unread": "読めない枠 — a cell whose writing was not read",
    "cells_empty": "一部の枠が空欄 — some cells of the field are empty",
    "digit_on_line": "枠線にかかった数字 — a digit written across a cell's edge line, cut in two "
    "where the line was",
    "seal_over_writing": "印影が文字に重なっている — a seal is stamped over the writing",
    "variant_kanji": "異体字の可能性 — a kanji with other written forms (髙/高) to look at",
    "small_kana": "小書きの仮名の位置が不自然 — a small kana where Japanese spelling puts none",
    "not_katakana": "カタカナ以外の文字 — the フリガナ holds characters that are not katakana",
    "kana_does_not_read_name": "フリガナと氏名が合わない — the kana is not a reading of the name",
    "repeated_kanji": "同じ漢字の連続 — the same kanji twice in a row (one read twice?)",
    "address_numbering": "番地の書き方が不自然 — an unknown join between address numbers",
    "no_choice": "選択肢に印がない — no option is marked",
    "several_choices": "複数の選択肢に印 — more than one option is marked",
    "stray_marks": "記入の後ろに汚れ — dashes or dots past the end of an address were read",
    "unsure_mark": "印か判別できない — a faint or stray mark that may or may not be a tick",
    "struck_through": "線で消した印（訂正） — a mark struck through (a correction); the mark left "
    "standing is proposed",
    "filled_box": "塗りつぶした枠 — a checkbox filled in: usually a tick blotted out (proposed "
    "clear), sometimes a mark",
    "mark_beside": "枠の外の印 — a tick or cross drawn beside the checkbox, not in it (proposed "
    "ticked)",
    # validation
    "check_digit": "個人番号のチェックデジット不一致 — the 個人番号 check digit is wrong",
    "length": "桁数が違う — wrong number of digits (detail: read_of_expected)",
    "not_digits": "数字以外の文字 — characters other than digits",
    "phone_format": "電話番号の形式 — not a Japanese phone number (0 and 10 or 11 digits)",
    "era_code": "元号コード不明 — the era code is not 1, 3, 5, 7 or 9",
    "date_invalid": "存在しない日付 — no such day",
    "date_outside_era": "元号の範囲外 — the date is outside its era",
    "date_implausible": "ありそうにない日付 — a date more than 120 years from today, or a filing "
    "date after today or more than 20 years back (an era misread)",
    "postal_unknown": "存在しない郵便番号 — no such postal code",
    "postal_address_mismatch": "郵便番号と住所が合わない — the postal code is not the address's",
    "town_from_postal_code": "住所を郵便番号で補正 — a misread town, proposed from the postal code",
    "era_missing": "元号のない日付 — a date printed without its era, in a column of no default era",
    "date_format": "日付の形式 — not a date in any printed form (和暦, R07.06.01, 9070601 …)",
    "period_format": "期間の形式 — not a span printed A～B",
    "period_reversed": "期間の終わりが始まりより前 — the span ends before it starts",
    "municipality_code_format": "市区町村コードの形式 — not 6 digits",
    "not_in_vocabulary": "既知の区分にない値 — a value this column is not known to print",
    "not_found": "見出しの項目が見つからない — the label was not found above the list",
    # printed lists (処理結果一覧表)
    "column_not_found": "列が見つからない — a column's header was not found (detail: column)",
    "total_unreadable": "合計件数が読めない — the totals line's count was not read",
    "list_page_missing": "頁の欠落 — a page of the list is missing (detail: page)",
    "list_page_duplicate": "頁の重複 — a page of the list is there twice (detail: page)",
    "list_page_number_unread": "頁番号が読めない — a page's n/m was not read (detail: file page)",
    "list_page_order": "頁の順序 — the pages are not in printed order",
    "list_page_number_against_rows": "頁番号と行番号の食い違い — the page's n/m was read as 1 "
    "again, but its row numbers carry on the list: kept with it (detail: file page)",
    "list_page_of_another_list": "別の一覧表の頁 — a page of another list in this file "
    "(detail: file page)",
    "list_row_number_gap": "番号の欠け — the row numbers skip (detail: after number)",
    "list_row_number_repeated": "番号の重複 — a row number is printed twice (detail: number)",
    "list_row_count": "件数の不一致 — rows read differ from the printed total "
    "(detail: read/printed)",
    "row_number_out_of_sequence": "番号が前後の行と続かない — the row's number follows neither "
    "neighbour, or a few rows' numbers run apart from the rows around them (the numbers those "
    "agree on are proposed)",
    # across fields
    "birth_after_filing": "生年月日が届出日より後 — born after the day of filing",
    "age_implausible": "年齢が不自然 — an age over 120",
    "age_at_enrolment": "資格取得の年齢外 — enrolment outside ages 20–75",
    "needed_by": "届出種別に必要な欄が空欄 — the chosen kind of notification needs this field",
    "not_used_by": "届出種別で使わない欄に記入 — the chosen notification does not use this field",
    # pages and documents
    "blank_page": "白紙のページ — a blank page (kept with the original)",
    "unknown_page": "様式不明のページ — a page of no known form within the document",
    "unknown_form": "様式不明 — the page matches no known form",
    "not_aligned": "位置合わせ不可 — the page's registration marks were not found",
    "failed": "処理エラー — the page could not be processed",
    "no_document_pages": "書類のページなし — no page of the file holds a form (only blank "
    "pages): a person looks at the file",
    # files (flags from intake triage, pipeline/triage.py)
    "pdf_scripts": "PDFにスクリプト — the PDF carries scripts or actions; kept as the original, "
    "only its page images are shown",
    "pdf_attachments": "PDFに添付ファイル — the PDF carries attached files; kept as the original, "
    "only its page images are shown",
}


PERSONAL_DETAIL = frozenset({"doubt", "variant_kanji"})
"""Reasons whose detail is a character of what the person wrote (`variant_kanji:﨑`,
`doubt:ダ/タ`): the database keeps them sealed, and only the code in clear."""


def without_personal_detail(reasons: list[str]) -> list[str]:
    """`reasons` as the database may keep them in clear: `variant_kanji:﨑` → `variant_kanji`."""
    return [reason_code(r) if reason_code(r) in PERSONAL_DETAIL else r for r in reasons]


def reason_code(reason: str) -> str:
    """The catalogue code of a reason: `doubt:ツ/ッ` → `doubt`, `length_9_of_10` → `length`,
    `blank_page_2` → `blank_page`."""
    head = reason.split(":", 1)[0]
    return re.sub(r"^(length)_\d+_of_\d+$|^(blank_page|unknown_page)_\d+$", r"\1\2", head)


def describe(reason: str) -> str:
    """What a reason means, in the words a verifier reads; KeyError for an unknown code."""
    text = REASONS[reason_code(reason)]
    detail = reason.split(":", 1)[1].strip() if ":" in reason else ""
    return f"{text} ({detail})" if detail else text
