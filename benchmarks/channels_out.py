"""Benchmark: the non-email channels' hot paths.

- SMS segment analysis (pure), SSRF checks (pure, literal IPs);
- signed webhooks through the real WebhookProvider (SSRF guard, IP pinning, HMAC) to a uvicorn
  receiver in a separate process that verifies every signature;
- print-ready PDF letters (fpdf2) written into a batch folder.

Usage: python benchmarks/channels_out.py [--messages N] [--letters N]. Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import resource
import socket
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

SECRET = "bench-secret"


def receiver(port: int) -> None:
    import uvicorn

    from tidings.channels.webhooks import verify

    bad = 0

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        nonlocal bad
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = dict(scope["headers"])
        ok = verify(SECRET, headers[b"x-tidings-timestamp"].decode(), body,
                    headers[b"x-tidings-signature"].decode(), datetime.now(UTC))
        bad += 0 if ok else 1
        await send({"type": "http.response.start", "status": 200 if ok else 401, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="error", access_log=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def send_webhooks(n: int, port: int, concurrency: int) -> tuple[float, int]:
    from tidings.application.ports.senders import OutgoingMessage
    from tidings.channels.ssrf import AllowList
    from tidings.channels.webhooks import WebhookProvider
    from tidings.clock import SystemClock

    provider = WebhookProvider(secret=SECRET, allow=AllowList.parse(["127.0.0.1/32"]), clock=SystemClock())
    url = f"http://127.0.0.1:{port}/hook"
    sem = asyncio.Semaphore(concurrency)
    failures = 0

    async def one(i: int) -> None:
        nonlocal failures
        msg = OutgoingMessage(outbox_id=i, channel="webhook", contact_id=i, recipient=url, idempotency_key=f"b{i}",
                              message_ref=f"{i}.b@bench", data={"url": url, "body": {"lead": i, "score": 42}})
        async with sem:
            result = await provider.send(msg)
        failures += 0 if result.ok else 1

    start = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    elapsed = time.perf_counter() - start
    await provider.aclose()
    return n / elapsed, failures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--letters", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()

    from tidings.channels.ssrf import AllowList, SsrfRefused, check_url
    from tidings.domain.sms import analyse

    texts = ["Hi Ann, your order #1234 shipped! Track it: https://t.example/x", "Привет! Скидка 20% 🎉" * 3]
    start = time.perf_counter()
    for i in range(args.messages * 10):
        analyse(texts[i % 2])
    sms_per_s = args.messages * 10 / (time.perf_counter() - start)
    print(f"sms segment analysis: {sms_per_s:,.0f}/s", flush=True)

    allow = AllowList()
    start = time.perf_counter()
    refused = 0
    for i in range(args.messages * 10):
        try:
            check_url(f"https://93.184.216.{i % 250}/hook" if i % 2 else "http://10.0.0.1/x", allow)
        except SsrfRefused:
            refused += 1
    ssrf_per_s = args.messages * 10 / (time.perf_counter() - start)
    print(f"ssrf checks: {ssrf_per_s:,.0f}/s ({refused} refused)", flush=True)

    port = free_port()
    proc = multiprocessing.Process(target=receiver, args=(port,), daemon=True)
    proc.start()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    try:
        webhooks_per_s, failures = asyncio.run(send_webhooks(args.messages, port, args.concurrency))
    finally:
        proc.terminate()
        proc.join(5)
    print(f"signed webhooks: {webhooks_per_s:,.0f}/s, {failures} failures", flush=True)

    from tidings.channels.direct_mail import BatchFolder, render_letter_pdf
    from tidings.domain.postal import validate_address

    address = validate_address({"line1": "Hauptstr. 5", "city": "Berlin", "postal_code": "10115",
                                "country": "DE"}, name="Anna Schmidt")
    text = "Liebe Anna,\n\n" + "Wir laden Sie herzlich zu unserem Kundentag ein. " * 20
    with tempfile.TemporaryDirectory() as tmp:
        folder = BatchFolder(Path(tmp))
        day = datetime.now(UTC).date()
        start = time.perf_counter()
        for i in range(args.letters):
            pdf = render_letter_pdf(address, subject="Einladung", text=text, when=day, sender="Shop GmbH")
            folder.write_letter(day, f"{i}.l@bench", pdf, {"ref": f"{i}.l@bench", "address": address.__dict__})
        letters_per_s = args.letters / (time.perf_counter() - start)
        batch = folder.build(day, datetime.now(UTC))
    print(f"pdf letters: {letters_per_s:,.1f}/s ({batch.letters} in the batch)", flush=True)
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"sms_analyses_per_s": round(sms_per_s), "ssrf_checks_per_s": round(ssrf_per_s),
                      "webhooks_per_s": round(webhooks_per_s, 1), "webhook_failures": failures,
                      "letters_per_s": round(letters_per_s, 1), "messages": args.messages,
                      "peak_rss_mb": round(peak_rss_mb, 1)}))


if __name__ == "__main__":
    main()
