"""`tidings`: the command line. Each group lives in its own module."""

from __future__ import annotations

import logging
import signal
import threading
from typing import TYPE_CHECKING, Annotated

import typer

from tidings.cli import common
from tidings.masking import masked_url, redact

if TYPE_CHECKING:
    from tidings.bootstrap import Container

app = typer.Typer(
    name="tidings",
    help="Tidings: marketing automation you can explain and test.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys (shown once, stored hashed).", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")


def _setup_logging(level: str) -> None:
    """``level``: Settings.log_level (TIDINGS_LOG_LEVEL), read with the rest of the settings."""
    logging.basicConfig(level=level, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)


#: the catcher's SMTP port when the HTTP port is 8000; other HTTP ports shift it alike
CATCHER_BASE_PORT = 1025


def catcher_port_for(http_port: int) -> int:
    """The built-in catcher's default SMTP port for an HTTP port: 8000 -> 1025, 8001 -> 1026...
    (1025 + (port - 8000) mod 64000), so two `tidings serve` on one machine do not clash."""
    return CATCHER_BASE_PORT + (http_port - 8000) % 64000


def link_host(host: str) -> str:
    """The host of links when serving on ``host``: a wildcard address is reached as 127.0.0.1."""
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 - only compared
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def start_test_clock(container: Container) -> None:
    """Move a fresh test clock to now, or past the newest event an existing database holds:
    its timers and history then lie behind or ahead of the clock as they do in real time."""
    from datetime import UTC, datetime, timedelta

    from tidings.store.ingest_sql import latest_received_at

    clock = container.manual_clock
    if clock is None:
        return
    with container.engine.connect() as conn:
        latest = latest_received_at(conn)
    start = datetime.now(UTC)
    if latest is not None and latest >= start:
        start = latest + timedelta(seconds=1)
    if start > clock.now():
        clock.advance(start - clock.now())


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="HTTP port", min=1, max=65535)] = 8000,
    smtp_port: Annotated[
        int | None,
        typer.Option(
            "--smtp-port",
            min=1,
            max=65535,
            help="SMTP port of the built-in catcher [default: follows --port: 1025 for 8000, 1026 for 8001...; "
            "or TIDINGS_CATCHER_SMTP_PORT]",
            show_default=False,
        ),
    ] = None,
    worker: Annotated[bool, typer.Option("--worker/--no-worker", help="run the worker in this process")] = True,
    catcher: Annotated[
        bool, typer.Option("--catcher/--no-catcher", help="run the built-in SMTP catcher (when no TIDINGS_SMTP_URL)")
    ] = True,
    demo: Annotated[bool, typer.Option("--demo", help="load demo data and install the ready-made journeys")] = False,
    test_clock: Annotated[
        bool, typer.Option("--test-clock", help="use a virtual clock that tests move via /api/test/clock/advance")
    ] = False,
    api_processes: Annotated[
        int,
        typer.Option(
            "--api-processes",
            min=1,
            max=64,
            help="serve HTTP from N processes beside this one, which keeps the worker and catcher "
            "(1: everything in this process)",
        ),
    ] = 1,
) -> None:
    """Run the API, web app, tracking endpoints, worker and local mail catcher.

    One process by default. With ``--api-processes N`` (N > 1) HTTP is served by N child
    processes and this one keeps the worker, the segment refresher, deliveries and the catcher:
    each gets its own interpreter lock, so ingest and the worker stop competing for one.
    """
    import os

    import uvicorn

    from tidings.runtime import background_services, start_all, stop_all
    from tidings.server import create_app
    from tidings.settings import catcher_port_is_set

    if api_processes > 1 and test_clock:
        common.fail("--test-clock needs one process (the virtual clock lives in memory): drop --api-processes")
    if test_clock:
        os.environ["TIDINGS_TEST_CLOCK"] = "1"
    # links in messages point at this server unless TIDINGS_PUBLIC_URL says otherwise; the
    # catcher's port follows the HTTP port unless given (children of --api-processes inherit both)
    os.environ.setdefault("TIDINGS_PUBLIC_URL", f"http://{link_host(host)}:{port}")
    if smtp_port is not None:
        os.environ["TIDINGS_CATCHER_SMTP_PORT"] = str(smtp_port)
    elif not catcher_port_is_set():
        os.environ["TIDINGS_CATCHER_SMTP_PORT"] = str(catcher_port_for(port))
    container = common.open_container()
    _setup_logging(container.settings.log_level)
    start_test_clock(container)
    if demo:
        from tidings.cli.demo import ensure_demo_admin, load_demo, print_demo_login

        load_demo(container)
        print_demo_login(ensure_demo_admin(container))
    use_catcher = catcher and container.settings.smtp_url is None
    services = background_services(container, worker=worker, catcher=use_catcher)
    # uvicorn catches SIGTERM, stops serving, then raises it again with the handler it found: the
    # default one would end the process before the background services stop (in-flight sends
    # finish, claimed messages go back to pending). Ours exits through `finally` below — also
    # when SIGTERM comes before uvicorn listens.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        try:
            start_all(services)
        except OSError as exc:  # a port in use, most often: say which and how to pick another
            common.fail(
                f"could not start the built-in mail catcher on {container.settings.catcher_host}:"
                f"{container.settings.catcher_port}: {exc}; pick another with --smtp-port"
            )
        s = container.settings
        common.console.print(
            f"Tidings on [bold]http://{host}:{port}[/]  (API docs /docs, database {masked_url(s.database_url)})\n"
            f"links in messages: {s.public_url}"
            + (f"\nmail catcher (SMTP): {s.catcher_host}:{s.catcher_port}" if use_catcher else "")
        )
        if api_processes > 1:  # children build their own app from the same environment
            uvicorn.run(
                "tidings.server:app_from_environment",
                factory=True,
                workers=api_processes,
                host=host,
                port=port,
                log_level="warning",
                access_log=False,
            )
        else:
            uvicorn.run(create_app(container), host=host, port=port, log_level="warning", access_log=False)
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # stopping already: within the grace period
        _log_stopping(container.settings.shutdown_grace_s)
        stop_all(services)


def _exit_on_sigterm(*_: object) -> None:
    raise SystemExit(0)


def _log_stopping(grace: float) -> None:
    logging.getLogger("tidings").warning(
        "stopping: no new claims; in-flight sends get up to %s s (TIDINGS_SHUTDOWN_GRACE)", grace
    )


@app.command()
def worker(
    test_clock: Annotated[bool, typer.Option("--test-clock", help="virtual clock (tests only)")] = False,
) -> None:
    """Run only the worker: events, timers and deliveries (scale out with several on PostgreSQL)."""
    import os

    from tidings.runtime import background_services, start_all, stop_all

    if test_clock:
        os.environ["TIDINGS_TEST_CLOCK"] = "1"
    container = common.open_container()
    _setup_logging(container.settings.log_level)
    services = background_services(container, worker=True, catcher=False)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    start_all(services)
    common.console.print("worker running; Ctrl-C to stop")
    stop.wait()
    _log_stopping(container.settings.shutdown_grace_s)
    stop_all(services)


@db_app.command("upgrade")
def db_upgrade(
    database_url: Annotated[str | None, typer.Option(help="overrides TIDINGS_DATABASE_URL")] = None,
) -> None:
    """Create or migrate the database schema to the latest version."""
    from tidings.settings import Settings
    from tidings.store.db import create_engine
    from tidings.store.migrate import current, upgrade

    url = database_url or Settings.from_env().database_url
    engine = create_engine(url)
    try:
        upgrade(engine)
    except Exception as exc:
        common.fail(redact(f"migration failed on {url}: {exc}", url))
    common.console.print(f"database at revision {current(engine)} ({masked_url(url)})")


@db_app.command("repair")
def db_repair(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="report what would change; change nothing")] = False,
    database_url: Annotated[str | None, typer.Option(help="overrides TIDINGS_DATABASE_URL")] = None,
) -> None:
    """Find stored JSON that breaks the JSON rule (NaN, Infinity, integers outside 64-bit, NUL) and fix it.

    Repair rule: such numbers become null, NUL characters are removed. Exit code 0 when the
    database is clean afterwards (a dry run that finds something exits 3), 1 when a value is
    not JSON at all (left alone, listed)."""
    from rich.table import Table

    from tidings.settings import Settings
    from tidings.store.db import create_engine
    from tidings.store.repair import repair_json

    engine = create_engine(database_url or Settings.from_env().database_url)
    report = repair_json(engine, dry_run=dry_run)
    if report.findings or report.unreadable:
        table = Table("table", "row", "path", "problem")
        for f in [*report.findings, *report.unreadable][:200]:
            table.add_row(f.table, ", ".join(f"{k}={v}" for k, v in f.key.items()), f.path, f.message)
        common.console.print(table)
    verb = "would fix" if dry_run else "fixed"
    common.console.print(f"{len(report.scanned)} JSON columns scanned; {verb} {report.rows} rows "
                         f"({len(report.findings)} values); {len(report.unreadable)} unreadable")
    if report.unreadable:
        common.fail(f"{len(report.unreadable)} stored values are not JSON; fix them by hand (listed above)")
    if dry_run and report.rows:
        raise typer.Exit(3)


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="what the key is for, e.g. 'shop'")],
    scope: Annotated[list[str], typer.Option(help="track | browser | read | write | admin (repeatable)")],
    origin: Annotated[
        list[str] | None,
        typer.Option(help="a browser key's allowed origin, e.g. https://shop.example (repeatable)"),
    ] = None,
) -> None:
    """Create an API key. The key is printed once, as the last line."""
    from tidings.application.access.keys import KeyError_, create_key

    c = common.open_container()
    try:
        key, secret = create_key(c.uow(), name, scope, c.clock.now(), origin or [])
    except KeyError_ as exc:
        common.fail(str(exc))
    where = f" from {', '.join(sorted(key.origins))}" if key.origins else ""
    common.console.print(f"created key {key.id} '{key.name}' with scopes {', '.join(sorted(key.scopes))}{where}")
    print(secret)


@keys_app.command("list")
def keys_list() -> None:
    """List API keys (never their secret)."""
    from rich.table import Table

    from tidings.application.access.keys import list_keys

    c = common.open_container()
    table = Table("id", "name", "prefix", "scopes", "created", "revoked")
    for k in list_keys(c.uow()):
        table.add_row(str(k["id"]), str(k["name"]), str(k["prefix"]), ", ".join(k["scopes"]),  # type: ignore[arg-type]
                      str(k["created_at"]), str(k["revoked_at"] or ""))
    common.console.print(table)


@keys_app.command("revoke")
def keys_revoke(key_id: int) -> None:
    """Revoke an API key."""
    from tidings.application.access.keys import revoke_key

    c = common.open_container()
    if not revoke_key(c.uow(), key_id, c.clock.now()):
        common.fail(f"no active key with id {key_id}")
    common.console.print(f"revoked key {key_id}")


def _register_groups() -> None:
    """Attach the command groups that live in their own modules."""
    from tidings.cli import groups

    groups.register(app)


_register_groups()


def main() -> None:
    app()
