"""The `ledger` command: serve the API, manage access tokens (more commands join this group later)."""

from __future__ import annotations

import getpass
import json
import os
import sys
from pathlib import Path
from typing import Any
from uuid import UUID

import click

from api.config import ensure_data_dir, load_config, persistence_env
from ledger.access import ROLES, issue_token, list_tokens, revoke_token
from ledger.application import LedgerApplication
from ledger.errors import LedgerError


def _ledger() -> LedgerApplication:
    env = persistence_env(load_config())
    ensure_data_dir(env)
    return LedgerApplication(env=env)


@click.group()
def main() -> None:
    """The welfare-fund ledger (福彩公益金). Configuration comes from the environment (see the README)."""


@main.command()
@click.option("--bind", default=lambda: os.environ.get("LEDGER_BIND", "127.0.0.1:8000"), show_default="127.0.0.1:8000",
              help="host:port to listen on (LEDGER_BIND)")
@click.option("--workers", type=click.IntRange(1, 64), default=lambda: int(os.environ.get("LEDGER_WORKERS", "2")),
              show_default="2", help="gunicorn worker processes (LEDGER_WORKERS)")
@click.option("--threads", type=click.IntRange(1, 64),
              default=lambda: int(os.environ["LEDGER_THREADS"]) if os.environ.get("LEDGER_THREADS") else None,
              show_default="16 on PostgreSQL, 4 on SQLite", help="threads per worker (LEDGER_THREADS)")
@click.option("--dev", is_flag=True, help="use Flask's development server instead of gunicorn")
def serve(bind: str, workers: int, threads: int | None, dev: bool) -> None:
    """Serve the HTTP API (gunicorn; one ledger application per worker, created after the fork)."""
    if threads is None:  # concurrent postings of a worker share transactions: PostgreSQL gains from more threads
        threads = 16 if load_config()["PERSISTENCE_MODULE"] == "eventsourcing.postgres" else 4
    host, _, port = bind.rpartition(":")
    if dev:
        from api import create_app

        create_app().run(host=host or "127.0.0.1", port=int(port), threaded=True)
        return
    env = dict(os.environ)
    if not env.get("PROMETHEUS_MULTIPROC_DIR"):
        data_dir = Path(load_config()["LEDGER_DATA_DIR"])
        env["PROMETHEUS_MULTIPROC_DIR"] = str(data_dir / "prometheus")
    Path(env["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)
    # Each thread holds at most one connection at a time: with one per thread none waits for another's.
    env.setdefault("POSTGRES_POOL_SIZE", str(threads))
    argv = [sys.executable, "-m", "gunicorn", "--config", "python:api.gunicorn_conf", "--bind", bind,
            "--workers", str(workers), "--threads", str(threads), "api:create_app()"]
    os.execve(sys.executable, argv, env)


@main.group()
def tokens() -> None:
    """Issue, list and revoke API tokens (stored in the event store as hashes only)."""


def _fail(error: LedgerError) -> None:
    raise click.ClickException(f"{error.code}: {error.message}")


@tokens.command("create")
@click.option("--actor", "actor_name", required=True, help="the person or system the token stands for")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--scope", default="", help="division code or prefix (6201, 620102...); empty means nationwide")
@click.option("--label", default="", help="a note to recognise the token by")
def create(actor_name: str, role: str, scope: str, label: str) -> None:
    """Create a token and print its secret: it is shown this once and never stored."""
    app = _ledger()
    try:
        secret, view = issue_token(app, actor_name=actor_name, role=role, scope=scope, label=label,
                                   issued_by=f"cli:{getpass.getuser()}")
    except LedgerError as error:
        _fail(error)
        return
    finally:
        app.close()
    click.echo(f"token id: {view['token_id']}", err=True)
    click.echo(f"actor: {view['actor']}  role: {view['role']}  scope: {view['scope'] or '(nationwide)'}", err=True)
    click.echo("secret (shown once; keep it safe):", err=True)
    click.echo(secret)


@tokens.command("list")
@click.option("--json", "as_json", is_flag=True, help="print JSON lines")
def list_(as_json: bool) -> None:
    """List every token: id, actor, role, scope, state (never secrets)."""
    app = _ledger()
    try:
        rows = list_tokens(app)
    finally:
        app.close()
    for row in rows:
        if as_json:
            click.echo(json.dumps({k: _plain(v) for k, v in row.items()}, ensure_ascii=False))
        else:
            state = "revoked" if row["revoked"] else "active"
            click.echo(f"{row['token_id']}  {state:<7}  {row['role']:<7}  {row['scope'] or '*':<9}  {row['actor']}"
                       f"  {row['label']}")


@tokens.command("revoke")
@click.argument("token_id", type=click.UUID)
@click.option("--reason", default="")
def revoke(token_id: UUID, reason: str) -> None:
    """Revoke a token: it authenticates nothing from then on (other processes within LEDGER_TOKEN_CACHE_SECONDS)."""
    app = _ledger()
    try:
        revoke_token(app, token_id, revoked_by=f"cli:{getpass.getuser()}", reason=reason)
    except LedgerError as error:
        _fail(error)
    finally:
        app.close()
    click.echo(f"revoked {token_id}")


def _plain(value: Any) -> Any:
    return value if isinstance(value, (str, int, bool, type(None))) else str(value)


def _register_commands() -> None:
    from api.cli_demo import demo
    from api.cli_export import export
    from api.cli_projections import projections, replay_command

    main.add_command(export)
    main.add_command(projections)
    main.add_command(replay_command)
    main.add_command(demo)
    from api.cli_integrity import COMMANDS as INTEGRITY_COMMANDS  # seal, seals, verify

    for command in INTEGRITY_COMMANDS:
        main.add_command(command)
    from api.cli_import import import_command

    main.add_command(import_command)


_register_commands()
