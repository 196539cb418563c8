"""Drawing documents people print or keep: the disposal certificate (廃棄・消去証明書).

The blank forms and the separator sheet are drawn by pipeline/template.py and
pipeline/separator.py."""

from __future__ import annotations

import io
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from pipeline.fonts import PRINTED_FONT


def certificate_pdf(certificate: dict[str, Any], digest: str) -> bytes:
    """The disposal certificate as an A4 PDF; `digest` is the SHA-256 of its canonical JSON."""

    def font(size: int) -> Any:
        if PRINTED_FONT.exists():
            return ImageFont.truetype(str(PRINTED_FONT), size)
        return ImageFont.load_default(size=size)

    lines: list[tuple[int, str]] = [
        (34, certificate["title"]),
        (22, f"Certificate {certificate['number']}   date {certificate['date'][:19]}Z"),
        (22, f"Method: {certificate['method']}"),
        (22, f"Requested by {certificate['requested_by']} at {certificate['requested_at'][:19]}"),
        (22, f"Approved by {certificate['approved_by']} at {certificate['approved_at'][:19]}"),
        (22, f"Reason: {certificate['reason']}"),
        (22, ""),
        (26, f"Documents ({len(certificate['documents'])})"),
    ]
    for doc in certificate["documents"]:
        lines += [
            (
                20,
                f"{doc['receipt_number']}  form {doc['form_id']}  received "
                f"{doc['received_date']}  retention {doc['retain_until']}",
            ),
            (18, f"   data key sha256 {doc['data_key_sha256']}"),
            (
                18,
                f"   {doc['field_values_destroyed']} sealed field values, sha256 "
                f"{doc['sealed_values_sha256']}",
            ),
        ]
    lines += [(22, ""), (26, f"Objects ({len(certificate['objects'])})")]
    for obj in certificate["objects"]:
        lines += [
            (20, f"{obj['object_id']}  {obj['kind']}  {obj['size']} bytes"),
            (18, f"   content sha256 {obj['content_sha256']}"),
            (18, f"   sealed  sha256 {obj['sealed_sha256']}"),
            (18, f"   data key sha256 {obj['data_key_sha256']}"),
            (18, f"   store: {obj['store']}"),
        ]
    lines += [(22, ""), (20, f"SHA-256 of the JSON certificate: {digest}")]
    width, height, margin = 1240, 1754, 70  # A4 at 150 dpi
    pages: list[Image.Image] = []
    page = draw = None
    y = height
    for size, line in lines:
        if y + size + 12 > height - margin:
            page = Image.new("RGB", (width, height), "white")
            draw = ImageDraw.Draw(page)
            pages.append(page)
            y = margin
        assert draw is not None
        draw.text((margin, y), line, fill="black", font=font(size))
        y += size + 12
    out = io.BytesIO()
    pages[0].save(
        out,
        "PDF",
        save_all=True,
        append_images=pages[1:],
        resolution=150,
        title=f"Disposal certificate {certificate['number']}",
    )
    return out.getvalue()
