"""Drawing documents people print or keep: the disposal certificate (廃棄・消去証明書).

The blank forms and the separator sheet are drawn by pipeline/template.py and
pipeline/separator.py."""

from __future__ import annotations

import io
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from pipeline.fonts import PRINTED_FONT
from schemas.i18n import _


def certificate_pdf(certificate: dict[str, Any], digest: str) -> bytes:
    """The disposal certificate as an A4 PDF; `digest` is the SHA-256 of its canonical JSON."""

    def font(size: int) -> Any:
        if PRINTED_FONT.exists():
            return ImageFont.truetype(str(PRINTED_FONT), size)
        return ImageFont.load_default(size=size)

    c = certificate
    lines: list[tuple[int, str]] = [
        (34, c["title"]),
        (22, _("Certificate {number}   date {date}Z").format(number=c["number"],
                                                            date=c["date"][:19])),
        (22, _("Method: {method}").format(method=c["method"])),
        (22, _("Requested by {user} at {at}").format(user=c["requested_by"],
                                                     at=c["requested_at"][:19])),
        (22, _("Approved by {user} at {at}").format(user=c["approved_by"],
                                                    at=c["approved_at"][:19])),
        (22, _("Reason: {reason}").format(reason=c["reason"])),
        (22, ""),
        (26, _("Documents ({count})").format(count=len(c["documents"]))),
    ]
    for doc in c["documents"]:
        lines += [
            (20, _("{receipt}  form {form}  received {received}  retention {until}").format(
                receipt=doc["receipt_number"], form=doc["form_id"],
                received=doc["received_date"], until=doc["retain_until"])),
            (18, "   " + _("data key sha256 {sha256}").format(sha256=doc["data_key_sha256"])),
            (18, "   " + _("{count} sealed field values, sha256 {sha256}").format(
                count=doc["field_values_destroyed"], sha256=doc["sealed_values_sha256"])),
        ]
    lines += [(22, ""), (26, _("Objects ({count})").format(count=len(c["objects"])))]
    for obj in c["objects"]:
        lines += [
            (20, _("{object}  {kind}  {size} bytes").format(object=obj["object_id"],
                                                           kind=obj["kind"], size=obj["size"])),
            (18, "   " + _("content sha256 {sha256}").format(sha256=obj["content_sha256"])),
            (18, "   " + _("sealed  sha256 {sha256}").format(sha256=obj["sealed_sha256"])),
            (18, "   " + _("data key sha256 {sha256}").format(sha256=obj["data_key_sha256"])),
            (18, "   " + _("store: {store}").format(store=obj["store"])),
        ]
    lines += [(22, ""), (20, _("SHA-256 of the JSON certificate: {sha256}").format(
        sha256=digest))]
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
