"""Pages into lists: a list page put with the list it belongs to, and one assembled list
checked (page numbers, row numbers, the printed total).
"""

from __future__ import annotations

from schemas.contracts import DocumentResult, FieldResult, PageResult

LIST_KEY = ("municipality_code", "created_date", "period")
MISREAD_RUN = 3
"""At most this many rows running on whose numbers are all misread; more, or a page's rows
whole, are rows lost or a page scanned twice."""
"""Header values that name one list: a page whose accepted values differ is another list's."""


def same_list(header: dict[str, FieldResult], page: PageResult, pages: list[PageResult]
              ) -> bool:
    """Whether `page` belongs with a list whose header is `header` and pages `pages` so far:
    the same printed page count and no accepted header value that differs."""
    if pages and page.list_pages is not None and pages[0].list_pages is not None and (
        page.list_pages != pages[0].list_pages
    ):
        return False
    for name in LIST_KEY:
        mine, theirs = header.get(name), page.fields.get(name)
        if (mine and theirs and mine.status == theirs.status == "accepted"
                and mine.value != theirs.value):
            return False
    return True


def add_list_page(documents: list[DocumentResult], pages_of: dict[int, list[PageResult]],
                  source: str, page: PageResult) -> DocumentResult:
    """Put a list page with the list it belongs to (the latest open one of its form with the
    same header), or start a list; returns the list's document."""
    for index in range(len(documents) - 1, -1, -1):
        document = documents[index]
        pages = pages_of.get(index)
        if pages is None or document.form != page.form:
            continue
        starts_again = page.list_page == 1 and any(p.list_page == 1 for p in pages)
        continues = _rows_continue(document.rows or [], page.rows)
        if same_list(document.fields, page, pages) and (continues or not starts_again):
            if starts_again:
                # a faint page number read 1 (4/4 read 1/4): the rows say where it goes
                document.reasons.append(f"list_page_number_against_rows:{page.number}")
            document.pages.append(page.number)
            (document.rows or []).extend(page.rows)
            (document.row_pages or []).extend([page.number] * len(page.rows))
            for name, value in page.fields.items():
                if document.fields.get(name) is None or (
                    document.fields[name].status != "accepted" and value.status == "accepted"
                ):
                    document.fields[name] = value
            pages.append(page)
            return document
    document = DocumentResult(source=source, pages=[page.number], form=page.form,
                              fields=dict(page.fields), rows=list(page.rows),
                              row_pages=[page.number] * len(page.rows),
                              reasons=list(page.reasons))
    documents.append(document)
    pages_of[len(documents) - 1] = [page]
    return document


def _rows_continue(rows: list[dict[str, FieldResult]], more: list[dict[str, FieldResult]]
                   ) -> bool:
    """Whether the first row number of `more` follows the last of `rows` (and is not 1): the
    rows of one list's next page."""
    last = rows[-1].get("number") if rows else None
    first = more[0].get("number") if more else None
    return (last is not None and first is not None and last.value.isdigit()
            and first.value.isdigit() and int(first.value) == int(last.value) + 1 > 1)


def check_list(document: DocumentResult, pages: list[PageResult], others: list[int]) -> None:
    """Page numbers, row numbers and the printed total of one assembled list; every gap,
    repeat or mismatch becomes a reason on the document. `others`: file pages of other lists
    met in the same file."""
    reasons = document.reasons
    count = next((p.list_pages for p in pages if p.list_pages), None)
    printed = [p.list_page for p in pages]
    for page in pages:
        if page.list_page is None:
            reasons.append(f"list_page_number_unread:{page.number}")
    seen = [n for n in printed if n is not None]
    for number in sorted({n for n in seen if seen.count(n) > 1}):
        reasons.append(f"list_page_duplicate:{number}")
    if count is not None and len(seen) == len(pages):
        for number in range(1, count + 1):
            if number not in seen:
                reasons.append(f"list_page_missing:{number}")
    if seen != sorted(seen):
        reasons.append("list_page_order")
    reasons.extend(f"list_page_of_another_list:{n}" for n in others)
    _check_row_numbers(document.rows or [], document.row_pages or [])
    numbers = [row["number"].value for row in document.rows or [] if "number" in row]
    previous: int | None = None
    for value in numbers:
        if not value.isdigit():
            previous = None
            continue
        current = int(value)
        if previous is not None and current == previous:
            reasons.append(f"list_row_number_repeated:{current}")
        elif previous is not None and current != previous + 1:
            reasons.append(f"list_row_number_gap:{previous}")
        previous = current
    if numbers and numbers[0].isdigit() and int(numbers[0]) != 1 and 1 in seen:
        reasons.append("list_row_number_gap:0")
    totals = [p.printed_total for p in pages if p.printed_total is not None]
    rows = len(document.rows or [])
    if totals and totals[-1] != rows:
        reasons.append(f"list_row_count:{rows}/{totals[-1]}")


def _check_row_numbers(rows: list[dict[str, FieldResult]], pages: list[int]) -> None:
    """Printed row numbers run on by one, so each row's number less its place is the same
    down the list but where a row was lost or printed twice. A few rows whose number says
    otherwise than the rows on both sides (47, 18, 19, 50: a faint 4 read 1) were misread:
    they go to a person, with the numbers the rows around them agree on proposed where those
    agree; an accepted number that follows neither neighbour goes to a person as well.
    `pages`: the file page of each row."""
    cells = [row.get("number") for row in rows]
    numbers = [int(c.value) if c is not None and c.value.isdigit() else None for c in cells]
    runs: list[tuple[int, list[int]]] = []  # (number less place, the rows)
    for place, number in enumerate(numbers):
        if number is None:
            continue
        if runs and runs[-1][0] == number - place and runs[-1][1][-1] == place - 1:
            runs[-1][1].append(place)
        else:
            runs.append((number - place, [place]))
    for k, (offset, places) in enumerate(runs):
        before = runs[k - 1][0] if k > 0 else None
        after = runs[k + 1][0] if k + 1 < len(runs) else None
        agreed = before if before is not None and before == after else None
        first, last = places[0], places[-1]
        whole_page = len(places) > 1 and len(pages) == len(rows) and (
            first == 0 or pages[first - 1] != pages[first]) and (
            last + 1 == len(rows) or pages[last + 1] != pages[last])
        if offset in (before, after) or (agreed is None and len(places) > 1) or (
                len(places) > MISREAD_RUN or whole_page):
            continue
        for place in places:
            cell = cells[place]
            assert cell is not None
            if agreed is None and cell.status != "accepted":
                continue
            cell.status = "review"
            cell.reasons = [*cell.reasons, "row_number_out_of_sequence"]
            if agreed is not None:
                cell.value = str(place + agreed)
