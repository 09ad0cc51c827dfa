"""Composition root: parses the command line, builds the pieces, maps errors to exit codes.

Exit codes: 0 all settled, 1 some POs failed (in this pass, or still failed or retrying from an
earlier one), 2 configuration or authorization problem (a person must act), 3 another process
is already running the sync on this state file (nothing was touched; try again later).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from reconciler import __version__, errors, logs

EXIT_OK = 0
EXIT_SOME_FAILED = 1
EXIT_CONFIG = 2
EXIT_LOCKED = 3
TABLE_ROWS = 200


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reconciler",
        description="Keep QuickBooks Online purchase orders in step with Luminous.",
    )
    parser.add_argument("--version", action="version", version=f"reconciler {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def with_config(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument(
            "--config",
            metavar="PATH",
            help="configuration file (default: $RECONCILER_CONFIG, else ./reconciler.toml)",
        )
        return p

    run_options(with_config(sub.add_parser("run", help="run the daemon (one pass: --once)")))

    status = with_config(sub.add_parser("status", help="status per PO and bill, or one's history"))
    status.add_argument("po", nargs="?", help="a PO or bill number (PO-1042) or Luminous id")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.add_argument("--failed", action="store_true", help="only failed and retrying POs")
    status.add_argument("--limit", type=int, help="at most N rows (table: 200 unless given)")
    from reconciler.app.status_options import add_filters

    add_filters(status)  # the status page's filters by the same names

    retry = with_config(sub.add_parser("retry", help="retry parked POs on the next pass"))
    retry.add_argument("po", nargs="?", help="a PO number (e.g. PO-1042) or Luminous id")
    retry.add_argument("--failed", action="store_true", help="every failed PO (and bill)")
    retry.add_argument("--code", help="with --failed: only those that failed with this code")

    demo_options(sub.add_parser("demo", help="run a pass against both emulators with sample data"))
    auth_actions(
        sub.add_parser("auth", help="connect to QuickBooks, show or revoke the connection"),
        with_config,
    )
    with_config(
        sub.add_parser("doctor", help="check configuration, database, both APIs and accounts")
    )

    sandbox = sub.add_parser("sandbox", help="run an emulator standalone on 127.0.0.1")
    sandbox.add_argument("service", choices=("qbo", "luminous"))
    sandbox.add_argument("args", nargs=argparse.REMAINDER, help="--port N and emulator options")
    return parser


def demo_options(demo: argparse.ArgumentParser) -> None:
    demo.add_argument(
        "--keep-running",
        action="store_true",
        help="keep the emulators and the status page up after the pass, to explore",
    )
    demo.add_argument(
        "--dir", metavar="PATH", help="keep its configuration, state and log here (kept)"
    )
    demo.add_argument(
        "-v", "--verbose", action="store_true", help="the log on the terminal, not demo.log"
    )


def auth_actions(auth: argparse.ArgumentParser, with_config: Any) -> None:
    auth_sub = auth.add_subparsers(dest="auth_command", metavar="ACTION", required=True)
    connect = with_config(auth_sub.add_parser("connect", help="authorize access (OAuth 2.0)"))
    connect.add_argument(
        "--paste",
        action="store_true",
        help="headless host: paste the redirect URL instead of listening for it",
    )
    connect.add_argument(
        "--timeout", type=float, default=600.0, help="seconds to wait for the redirect"
    )
    with_config(auth_sub.add_parser("status", help="company and token expiry (no secrets)"))
    with_config(auth_sub.add_parser("revoke", help="revoke the connection at Intuit"))


def run_options(run: argparse.ArgumentParser) -> None:
    run.add_argument("--once", action="store_true", help="one pass, then exit (0/1/2)")
    run.add_argument("--full", action="store_true", help="with the pass, sweep for deleted POs")
    run.add_argument(
        "--dry-run",
        action="store_true",
        help="preview one pass: what it would do, with no QBO write and no state change",
    )
    run.add_argument("--json", action="store_true", help="with --dry-run: the preview as JSON")


DEFAULT_CONFIG = "reconciler.toml"


def config_path(args: argparse.Namespace) -> str | None:
    """`--config`, else `$RECONCILER_CONFIG`, else `./reconciler.toml` when there is one;
    None: the environment alone configures it."""
    given = getattr(args, "config", None) or os.environ.get("RECONCILER_CONFIG")
    if given:
        return given
    return DEFAULT_CONFIG if Path(DEFAULT_CONFIG).is_file() else None


def load_settings(args: argparse.Namespace, *, require_secrets: bool = True) -> Any:
    from reconciler.config.loader import load_settings as load

    return load(config_path(args), os.environ, require_secrets=require_secrets)


def existing_state(args: argparse.Namespace, settings: Any) -> None:
    """A command that reads the ledger needs one: with none, it says where it looked and
    stops (exit 2) instead of creating an empty state file and reporting nothing."""
    from reconciler.state import StateFileError

    if Path(settings.state.path).exists():
        return
    where = (
        config_path(args)
        or "no configuration file: --config, $RECONCILER_CONFIG, ./reconciler.toml"
    )
    raise StateFileError(
        f"no state file at {settings.state.path} ({where})",
        fix="run `reconciler run --once` first, or point --config at the daemon's configuration",
    )


def configure_logging(
    settings: Any = None, *, stream: str = "stderr", at_least: str | None = None
) -> Any:
    level = settings.logging.level if settings else "INFO"
    if at_least is not None and logs.level_number(at_least) > logs.level_number(level):
        level = at_least
    fmt = settings.logging.format if settings else "json"
    logs.configure(level=level, json_output=fmt == "json", stream=stream)
    return logs.get_logger()


def pass_logging(settings: Any, stream: str) -> tuple[Any, Any]:
    """The logger for one pass and, when stderr is a terminal, its progress line there (the
    log then shows only warnings and errors if it goes to the terminal too)."""
    from reconciler.app import progress

    line = progress.on_terminal(sys.stderr)
    quiet = line is not None and getattr(sys, stream).isatty()
    log = configure_logging(settings, stream=stream, at_least="WARNING" if quiet else None)
    return (progress.ProgressLog(log, line), line) if line is not None else (log, None)


def cmd_run(args: argparse.Namespace) -> int:
    if args.dry_run or args.json:
        return cmd_preview(args)
    settings = load_settings(args)
    log = configure_logging(settings, stream="stdout")  # one JSON event a line, on stdout
    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        log.info("signal_received", signal=signal.Signals(signum).name)
        stop.set()

    from reconciler.state.lock import run_lock

    with run_lock(settings.state.path):  # before anything is written
        if not args.once:
            from reconciler.app.service import run_service

            return run_service(settings, log=log, full_sweep_first=args.full)
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        log, line = pass_logging(settings, "stdout")  # one JSON event a line, on stdout
        from reconciler.app.once import run_once

        return run_once(
            settings, log=log, full_sweep=args.full, stop_requested=stop.is_set, progress=line
        )


def cmd_preview(args: argparse.Namespace) -> int:
    """`run --dry-run` (one pass is implied): no run lock, nothing written; logs on stderr."""
    from reconciler.app import dry_run as preview

    if not args.dry_run:
        print("--json goes with --dry-run (run --once --dry-run --json)", file=sys.stderr)
        return EXIT_CONFIG
    settings = load_settings(args)
    log, line = pass_logging(settings, "stderr")  # stdout is the preview's
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    return preview.command(
        settings,
        log=log,
        out=sys.stdout,
        as_json=args.json,
        full_sweep=args.full,
        stop_requested=stop.is_set,
        progress=line,
    )


def cmd_status(args: argparse.Namespace) -> int:
    # Not `wiring` (the QBO and Luminous clients' imports, 0.4 s): status reads the state file
    from reconciler.app import status_command
    from reconciler.state import StateStore

    settings = load_settings(args, require_secrets=False)
    existing_state(args, settings)
    store = StateStore.open(settings.state.path, read_only=True)  # creates, changes nothing
    try:
        return status_command.run(args, settings, store, sys.stdout)
    finally:
        store.close()


def cmd_retry(args: argparse.Namespace) -> int:
    from reconciler.app import wiring
    from reconciler.model import SyncStatus

    if bool(args.po) == bool(args.failed) or (args.code and not args.failed):
        print("name one PO, or --failed [--code CODE]", file=sys.stderr)
        return EXIT_CONFIG
    settings = load_settings(args, require_secrets=False)
    existing_state(args, settings)
    store = wiring.open_store(settings)
    try:
        if args.failed:
            failed = store.ledger.entries(status=SyncStatus.FAILED)
            chosen = [e for e in failed if args.code is None or e.last_error_code == args.code]
            for entry in chosen:
                store.ledger.request_retry(entry.doc_id, entry.kind)
            which = f" with code {args.code}" if args.code else ""
            print(f"{len(chosen)} failed document(s){which} will be retried on the next pass")
            return EXIT_OK
        keys = store.ledger.find(args.po)
        if not keys:
            print(f"no PO {args.po!r} in the ledger", file=sys.stderr)
            return EXIT_SOME_FAILED
        for kind, doc_id in keys:
            print(retry_one(store.ledger, kind, doc_id, args.po))
        return EXIT_OK
    finally:
        store.close()


def retry_one(ledger: Any, kind: Any, doc_id: int, asked: str) -> str:
    """Mark one document for the next pass, or say why there is nothing to retry: a synced
    document the pass would leave as it is (it used to be "retried", and nothing happened)."""
    from reconciler.model import SyncStatus

    entry = ledger.entry(doc_id, kind)
    name = f"{kind.label} {asked} (Luminous id {doc_id})"
    if entry is not None and entry.status is SyncStatus.SYNCED:
        return (
            f"{name} is synced (QBO id {entry.qbo_id}) and unchanged since: there is nothing to "
            f"retry; a change in Luminous is picked up by the next pass (`reconciler status "
            f"{asked}` shows its history)"
        )
    ledger.request_retry(doc_id, kind)
    return f"{name} will be retried on the next pass"


def cmd_demo(args: argparse.Namespace) -> int:
    from reconciler.app.demo import run_demo

    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    return run_demo(
        out=sys.stdout,
        log=logs.get_logger(),
        keep_running=args.keep_running,
        wait=stop.wait,
        directory=Path(args.dir) if args.dir else None,
        verbose=args.verbose,
    )


def cmd_auth(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from reconciler.app import connect

    settings = load_settings(args)
    if args.auth_command == "connect":
        paste = (lambda: input()) if args.paste else None
        connect.connect(settings, out=sys.stdout, paste=paste, timeout=args.timeout)
        return EXIT_OK
    if args.auth_command == "status":
        lines = connect.status_lines(settings, now=datetime.now(UTC))
        print("\n".join(lines))
        return EXIT_OK if not lines[0].startswith("not connected") else EXIT_CONFIG
    print(connect.revoke(settings))
    return EXIT_OK


def cmd_doctor(args: argparse.Namespace) -> int:
    from reconciler.app.doctor import run_checks

    path = config_path(args)
    failed = 0
    for check in run_checks(path, os.environ):
        print(check.line(), flush=True)
        failed += not check.ok
    print("all checks passed" if not failed else f"{failed} check(s) failed")
    return EXIT_OK if not failed else EXIT_CONFIG


def cmd_sandbox(args: argparse.Namespace) -> int:
    if args.service == "qbo":
        from reconciler.sandbox.qbo.server import serve
    else:
        from reconciler.sandbox.luminous.server import serve
    return serve(list(args.args))


COMMANDS = {
    "run": cmd_run,
    "status": cmd_status,
    "retry": cmd_retry,
    "demo": cmd_demo,
    "auth": cmd_auth,
    "doctor": cmd_doctor,
    "sandbox": cmd_sandbox,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_CONFIG
    from reconciler.state.lock import AnotherRunHolds

    try:
        return COMMANDS[args.command](args)
    except AnotherRunHolds as exc:
        print(f"reconciler: {exc}", file=sys.stderr)
        return EXIT_LOCKED
    except errors.ConfigError as exc:
        print(f"reconciler: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except errors.Fatal as exc:
        print(f"reconciler: {logs.SECRETS.scrub(str(exc))}", file=sys.stderr)
        return EXIT_CONFIG
    except errors.ReconcilerError as exc:  # transient (a full disk): one line, try again later
        print(f"reconciler: {logs.SECRETS.scrub(str(exc))}", file=sys.stderr)
        return EXIT_SOME_FAILED
