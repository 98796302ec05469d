"""Direct mail: PDF letters into the daily batch folder, the batch command, the Lob-compatible API."""

from __future__ import annotations

import base64
import csv
import json
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from typer.testing import CliRunner

from tests.fake_http import FakeHttpServer, Recorded, Reply
from tidings.application.ports.senders import DeliveryStatus, OutgoingMessage
from tidings.bootstrap import Container
from tidings.channels.direct_mail import BatchFolder, LobProvider, PrintBatchProvider, recipient_line
from tidings.store import schema

ADDRESS = {"line1": "Hauptstr. 5", "city": "Berlin", "postal_code": "10115", "country": "DE"}


def letter(
    n: int = 1, address: dict | None = None, text: str = "Liebe Anna,\n\nwir laden Sie ein. Grüße"
) -> OutgoingMessage:
    contact = {"first_name": "Anna", "last_name": "Schmidt", "attributes": {"address": address or ADDRESS}}
    return OutgoingMessage(
        outbox_id=n,
        channel="direct_mail",
        contact_id=n,
        recipient="Anna",
        template="invite",
        idempotency_key=f"dm-{n}",
        message_ref=f"{n}.ab@shop.test",
        subject="Einladung",
        text=text,
        sender="Shop GmbH, Weg 1, 10115 Berlin",
        data={"contact": contact},
    )


async def test_letters_go_to_the_days_folder_and_the_inbox(container: Container, tmp_path: Path) -> None:
    provider = PrintBatchProvider(container.engine, container.clock, BatchFolder(tmp_path))
    ok = await provider.send(letter(1))
    bad = await provider.send(letter(2, {**ADDRESS, "postal_code": "1011"}))
    assert ok.status is DeliveryStatus.ACCEPTED, ok.error
    assert bad.status is DeliveryStatus.FAILED_PERMANENT
    assert bad.error == "address.postal_code: '1011' is not a valid postal code for DE (5 digits)"
    day = container.clock.now().date().isoformat()
    pdf = tmp_path / day / "letters" / "1.ab_at_shop.test.pdf"
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-") and len(data) > 1000
    assert await provider.confirm(letter(1)) is True and await provider.confirm(letter(3)) is False
    with container.engine.connect() as conn:
        row = conn.execute(sa.select(schema.inbox)).mappings().one()
    assert row["channel"] == "direct_mail" and row["headers"]["pdf"] == str(pdf)
    assert row["recipient"] == "Anna Schmidt, Hauptstr. 5, 10115 Berlin, DE"

    result = BatchFolder(tmp_path).build(container.clock.now().date(), container.clock.now())
    assert result.letters == 1
    rows = list(csv.DictReader(result.csv_path.open()))
    assert rows == [
        {
            "letter": "1.ab@shop.test",
            "name": "Anna Schmidt",
            "line1": "Hauptstr. 5",
            "line2": "",
            "city": "Berlin",
            "state": "",
            "postal_code": "10115",
            "country": "DE",
            "pdf": "letters/1.ab_at_shop.test.pdf",
            "template": "invite",
        }
    ]
    assert json.loads((result.folder / "manifest.json").read_text())["letters"] == 1


async def test_csv_cells_cannot_become_formulas(container: Container, tmp_path: Path) -> None:
    provider = PrintBatchProvider(container.engine, container.clock, BatchFolder(tmp_path))
    assert (await provider.send(letter(1, {**ADDRESS, "line1": '=HYPERLINK("http://x")'}))).ok
    result = BatchFolder(tmp_path).build(container.clock.now().date(), container.clock.now())
    (row,) = list(csv.DictReader(result.csv_path.open()))
    assert not row["line1"].startswith("=")


def test_batch_command(container: Container, db_url: str, tmp_path: Path, monkeypatch: Any) -> None:
    from tidings.cli.main import app

    folder = BatchFolder(tmp_path)
    folder.write_letter(container.clock.now().date(), "9.x@y", b"%PDF-1.4", {"ref": "9.x@y", "address": ADDRESS})
    monkeypatch.setenv("TIDINGS_DATABASE_URL", db_url)
    monkeypatch.setenv("TIDINGS_DIRECT_MAIL_DIR", str(tmp_path))
    day = container.clock.now().date().isoformat()
    result = CliRunner().invoke(app, ["direct-mail", "batch", "--date", day])
    assert result.exit_code == 0, result.output
    assert "1 letter(s)" in result.output
    assert (tmp_path / day / "addresses.csv").exists()
    bad = CliRunner().invoke(app, ["direct-mail", "batch", "--date", "yesterday"])
    assert bad.exit_code != 0


async def test_lob_compatible_provider(container: Container) -> None:
    def responder(r: Recorded) -> Reply:
        if r.json["to"]["address_zip"] == "99999":
            return Reply(422, {"error": {"message": "address_zip is invalid", "status_code": 422}})
        return Reply(200, {"id": "ltr_4868c3b754655f90", "object": "letter"})

    with FakeHttpServer(responder) as server:
        provider = LobProvider(server.url, "test_key", clock=container.clock)
        ok = await provider.send(letter(1))
        refused = await provider.send(letter(2, {**ADDRESS, "country": "Deutschland"}))
        vendor_no = await provider.send(letter(3, {**ADDRESS, "postal_code": "99999"}))
        await provider.aclose()
    assert ok.ok and ok.provider_message_id == "ltr_4868c3b754655f90"
    assert refused.status is DeliveryStatus.FAILED_PERMANENT and refused.error.startswith("address.country:")
    assert vendor_no.status is DeliveryStatus.FAILED_PERMANENT and "address_zip is invalid" in vendor_no.error
    assert len(server.requests) == 2
    req = server.requests[0]
    assert (req.method, req.path) == ("POST", "/v1/letters")
    assert req.headers["authorization"] == "Basic " + base64.b64encode(b"test_key:").decode()
    assert req.headers["idempotency-key"] == "dm-1"
    body = req.json
    assert body["to"] == {
        "name": "Anna Schmidt",
        "address_line1": "Hauptstr. 5",
        "address_city": "Berlin",
        "address_country": "DE",
        "address_zip": "10115",
    }
    assert "<p>Liebe Anna,</p>" in body["file"] and body["use_type"] == "marketing"


def test_recipient_line() -> None:
    assert (
        recipient_line({"first_name": "A", "attributes": {"address": ADDRESS}}) == "A, Hauptstr. 5, 10115, Berlin, DE"
    )
    assert recipient_line({"attributes": {}}) is None


def test_pdf_uses_core_font_for_latin_text_and_embeds_unicode_font_otherwise() -> None:
    from datetime import date

    from tidings.channels.direct_mail import render_letter_pdf
    from tidings.domain.postal import validate_address

    address = validate_address(ADDRESS, name="Anna Schmidt")
    latin = render_letter_pdf(address, subject="Einladung", text="Grüße", when=date(2026, 3, 2))
    cyrillic = render_letter_pdf(address, subject="Запрошення", text="Вітаємо!", when=date(2026, 3, 2))
    assert b"Helvetica" in latin and b"DejaVu" not in latin
    assert b"DejaVu" in cyrillic
