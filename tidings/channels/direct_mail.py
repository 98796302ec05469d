"""Direct mail: print-ready PDF letters in a daily batch for a print vendor, or a Lob-compatible API.

Without ``TIDINGS_LOB_API_KEY`` every letter is validated, rendered to an A4 PDF (fpdf2; the
recipient block sits in the window of a DIN C5/6 or DL envelope) and written to
``<TIDINGS_DIRECT_MAIL_DIR>/<YYYY-MM-DD>/letters/``; the web inbox shows it with its PDF path
(the local sink). ``tidings direct-mail batch [--date]`` then writes that day's
``addresses.csv`` and ``manifest.json`` next to the letters: the folder a print vendor takes.

With a key, letters go to ``POST <TIDINGS_LOB_BASE_URL>/v1/letters`` (HTTP Basic, the key as
user name, an ``Idempotency-Key`` so a retry never prints twice).

The address comes from the outbox payload (``address``) or the contact's ``attributes.address``
(``line1``, ``line2``, ``city``, ``state``, ``postal_code``, ``country``); an invalid one fails
the letter permanently with the field named (``address.postal_code: ...``).
"""

from __future__ import annotations

import asyncio
import csv
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import httpx

from tidings.application.ports.senders import DIRECT_MAIL, DeliveryResult, OutgoingMessage
from tidings.channels.base import InboxItem, record_in_inbox
from tidings.channels.webhooks import retry_after_seconds
from tidings.domain.contacts import neutralise_cell
from tidings.domain.postal import AddressError, PostalAddress, validate_address
from tidings.domain.print_schedule import local_day

if TYPE_CHECKING:
    from tidings.application.ports.clock import Clock
    from tidings.application.ports.wiring import Wiring
    from tidings.store.db import Engine

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
CSV_FIELDS = (
    "letter",
    "name",
    "line1",
    "line2",
    "city",
    "state",
    "postal_code",
    "country",
    "pdf",
    "template",
)


def _contact_name(contact: Mapping[str, Any]) -> str | None:
    name = " ".join(str(x) for x in (contact.get("first_name"), contact.get("last_name")) if x)
    return name or None


def raw_address(data: Mapping[str, Any]) -> tuple[Mapping[str, Any] | None, str | None]:
    contact = data.get("contact") or {}
    address = data.get("address") or (contact.get("attributes") or {}).get("address")
    return address, _contact_name(contact)


def letter_address(msg: OutgoingMessage) -> PostalAddress:
    address, name = raw_address(msg.data)
    return validate_address(address, name=name)


def recipient_line(contact: Mapping[str, Any]) -> str | None:
    """The one-line recipient of a letter for the outbox row (None when there is no address)."""
    address = (contact.get("attributes") or {}).get("address")
    if not isinstance(address, Mapping) or not address:
        return None
    parts = [
        _contact_name(contact),
        address.get("line1"),
        address.get("postal_code"),
        address.get("city"),
        address.get("country"),
    ]
    return ", ".join(str(p) for p in parts if p)[:320] or None


# --------------------------------------------------------------------------- PDF


def render_letter_pdf(
    address: PostalAddress, *, subject: str | None, text: str, when: date, sender: str | None = None
) -> bytes:
    """An A4 letter: sender line, window-envelope address block, date, subject, body."""
    from fpdf import FPDF

    pdf = FPDF(format="A4", unit="mm")
    pdf.set_auto_page_break(auto=True, margin=20)
    pdf.set_margins(25, 20, 20)
    pdf.add_page()
    family = "Helvetica"
    texts = [subject or "", text or "", sender or "", *address.lines()]
    # core fonts are ~5x faster (nothing to embed); a Unicode TTF only when some text needs it.
    if not _latin1(texts) and (FONT_DIR / "DejaVuSans.ttf").exists():
        pdf.add_font("DejaVu", "", str(FONT_DIR / "DejaVuSans.ttf"))
        pdf.add_font("DejaVu", "B", str(FONT_DIR / "DejaVuSans-Bold.ttf"))
        family = "DejaVu"

    def clean(value: str) -> str:
        return value if family == "DejaVu" else value.encode("latin-1", "replace").decode("latin-1")

    pdf.set_font(family, size=7)
    if sender:
        pdf.set_xy(20, 45)
        pdf.cell(85, 4, clean(sender))
    pdf.set_font(family, size=11)
    pdf.set_xy(20, 50)  # DIN 5008 address field: 20 mm from the left, 45-90 mm from the top
    for line in address.lines():
        pdf.set_x(20)
        pdf.cell(85, 5, clean(line), new_x="LMARGIN", new_y="NEXT")
    pdf.set_xy(125, 95)
    pdf.cell(60, 5, when.isoformat(), align="R")
    pdf.set_xy(25, 105)
    if subject:
        pdf.set_font(family, "B", 12)
        pdf.multi_cell(0, 6, clean(subject), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(4)
    pdf.set_font(family, size=11)
    pdf.multi_cell(0, 5.5, clean(text or ""), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def _latin1(texts: list[str]) -> bool:
    try:
        for t in texts:
            t.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


def letter_text(msg: OutgoingMessage) -> str:
    if msg.text:
        return msg.text
    if msg.html:
        return re.sub(r"\s+\n", "\n", re.sub(r"<[^>]+>", "", msg.html)).strip()
    return ""


# --------------------------------------------------------------------------- the batch folder


def safe_name(ref: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", ref.replace("@", "_at_"))[:150]


@dataclass(frozen=True)
class BatchResult:
    folder: Path
    csv_path: Path
    letters: int


class BatchFolder:
    """``<root>/<day>/letters/<ref>.pdf`` + ``.json``; ``build`` writes ``addresses.csv``."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def day(self, day: date) -> Path:
        return self.root / day.isoformat()

    def write_letter(self, day: date, ref: str, pdf: bytes, meta: Mapping[str, Any]) -> Path:
        letters = self.day(day) / "letters"
        letters.mkdir(parents=True, exist_ok=True)
        path = letters / f"{safe_name(ref)}.pdf"
        tmp = path.with_suffix(".pdf.tmp")
        tmp.write_bytes(pdf)
        tmp.replace(path)
        path.with_suffix(".json").write_text(json.dumps(dict(meta), sort_keys=True, default=str))
        return path

    def build(self, day: date, now: datetime) -> BatchResult:
        folder = self.day(day)
        letters = sorted((folder / "letters").glob("*.json")) if (folder / "letters").exists() else []
        csv_path = folder / "addresses.csv"
        folder.mkdir(parents=True, exist_ok=True)
        with csv_path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=CSV_FIELDS)
            writer.writeheader()
            for meta_path in letters:
                meta = json.loads(meta_path.read_text())
                a = meta.get("address") or {}
                row = {
                    "letter": meta.get("ref"),
                    "pdf": f"letters/{meta_path.with_suffix('.pdf').name}",
                    "template": meta.get("template") or "",
                    **{k: a.get(k, "") for k in CSV_FIELDS if k in a},
                }
                writer.writerow({k: neutralise_cell(row.get(k, "")) for k in CSV_FIELDS})
        (folder / "manifest.json").write_text(
            json.dumps(
                {
                    "date": day.isoformat(),
                    "letters": len(letters),
                    "built_at": now.isoformat(),
                    "csv": csv_path.name,
                },
                indent=2,
            )
        )
        return BatchResult(folder, csv_path, len(letters))


# --------------------------------------------------------------------------- providers


class PrintBatchProvider:
    """Renders the letter into today's batch folder and shows it in the web inbox (local sink)."""

    channel = DIRECT_MAIL
    name = "batch"

    def __init__(self, engine: Engine, clock: Clock, folder: BatchFolder, timezone: str = "UTC") -> None:
        self.engine = engine
        self.clock = clock
        self.folder = folder
        #: letters are filed under the local day of the batch schedule's timezone
        self.tz = ZoneInfo(timezone)

    def _write(self, msg: OutgoingMessage, address: PostalAddress) -> str:
        now = self.clock.now()
        pdf = render_letter_pdf(
            address, subject=msg.subject, text=letter_text(msg), when=local_day(now, self.tz), sender=msg.sender
        )
        meta = {
            "ref": msg.message_ref,
            "outbox_id": msg.outbox_id,
            "contact_id": msg.contact_id,
            "template": msg.template,
            "address": address.__dict__,
            "created_at": now.isoformat(),
        }
        path = self.folder.write_letter(local_day(now, self.tz), msg.message_ref, pdf, meta)
        record_in_inbox(
            self.engine,
            InboxItem(
                channel=DIRECT_MAIL,
                recipient=address.summary(),
                sender=msg.sender,
                subject=msg.subject,
                body_text=letter_text(msg),
                headers={"pdf": str(path), "address": address.__dict__},
                message_ref=msg.message_ref,
            ),
            now,
        )
        return str(path)

    async def send(self, msg: OutgoingMessage) -> DeliveryResult:
        try:
            address = letter_address(msg)
        except AddressError as exc:
            return DeliveryResult.permanent(str(exc), field=exc.field)
        try:
            path = await asyncio.to_thread(self._write, msg, address)
        except OSError as exc:
            return DeliveryResult.temporary(f"cannot write the letter: {exc}")
        return DeliveryResult.accepted(f"batch:{msg.message_ref}", pdf=path)

    async def confirm(self, msg: OutgoingMessage) -> bool | None:
        from tidings.channels.base import inbox_has

        return await asyncio.to_thread(inbox_has, self.engine, DIRECT_MAIL, msg.message_ref)

    async def aclose(self) -> None:
        return None


def lob_address(a: PostalAddress) -> dict[str, str]:
    out = {"name": a.name, "address_line1": a.line1, "address_city": a.city, "address_country": a.country}
    for key, value in (
        ("address_line2", a.line2),
        ("address_state", a.state),
        ("address_zip", a.postal_code),
    ):
        if value:
            out[key] = value
    return out


def letter_html(msg: OutgoingMessage) -> str:
    if msg.html:
        return msg.html
    paragraphs = "".join(f"<p>{escape(p)}</p>" for p in letter_text(msg).split("\n\n") if p.strip())
    return f"<html><body>{paragraphs}</body></html>"


class LobProvider:
    channel = DIRECT_MAIL
    name = "lob"

    def __init__(self, base_url: str, api_key: str, *, clock: Clock, timeout: float = 30.0) -> None:
        self.clock = clock
        self._client = httpx.AsyncClient(base_url=base_url.rstrip("/"), auth=(api_key, ""), timeout=timeout)

    async def send(self, msg: OutgoingMessage) -> DeliveryResult:
        try:
            address = letter_address(msg)
            sender_raw = msg.data.get("from_address")
            sender = validate_address(sender_raw) if sender_raw else None
        except AddressError as exc:
            return DeliveryResult.permanent(str(exc), field=exc.field)
        body: dict[str, Any] = {
            "description": (msg.subject or msg.template or "letter")[:255],
            "to": lob_address(address),
            "file": letter_html(msg),
            "color": False,
            "use_type": "operational" if msg.category == "transactional" else "marketing",
            "metadata": {"tidings_message": msg.message_ref[:500]},
        }
        if sender is not None:
            body["from"] = lob_address(sender)
        try:
            response = await self._client.post(
                "/v1/letters", json=body, headers={"Idempotency-Key": msg.idempotency_key[:256]}
            )
        except httpx.HTTPError as exc:
            return DeliveryResult.temporary(f"{type(exc).__name__}: {exc or 'no detail'}")
        status = response.status_code
        try:
            data = response.json()
        except ValueError:
            data = {}
        if 200 <= status < 300:
            return DeliveryResult.accepted(str(data.get("id") or "") or None, http_status=status)
        error = f"HTTP {status}"
        message = (data.get("error") or {}).get("message") if isinstance(data, dict) else None
        if message:
            error += f": {message}"
        if status == 429 or status >= 500:
            return DeliveryResult.temporary(
                error,
                retry_after_s=retry_after_seconds(response.headers.get("retry-after"), self.clock.now()),
                http_status=status,
            )
        return DeliveryResult.permanent(error, http_status=status)

    async def confirm(self, msg: OutgoingMessage) -> bool | None:
        return None

    async def aclose(self) -> None:
        await self._client.aclose()


def build_provider(container: Wiring) -> LobProvider | PrintBatchProvider:
    s = container.settings
    if s.lob_api_key:
        return LobProvider(s.lob_base_url, s.lob_api_key, clock=container.clock)
    return PrintBatchProvider(container.engine, container.clock, BatchFolder(s.direct_mail_dir), s.direct_mail_timezone)
