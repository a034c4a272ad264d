"""`ledger demo`: loads the demo ledger once into the configured store and prints the demo tokens."""

from __future__ import annotations

import os
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from api.config import ensure_data_dir, load_config, persistence_env
from api.demo import DEFAULT_SEED, LOADING_ENV, load_demo
from api.demo.sqlite_file import load_demo_file
from ledger.access import issue_token
from ledger.application import LedgerApplication

TOKENS_FILE = "demo-tokens.txt"
DEMO_PEOPLE = (("演示 河北省财务人员", "officer", "13"), ("演示 兰州市财务人员", "officer", "6201"),
               ("演示 拉萨市财务人员", "officer", "5401"), ("演示 审计人员", "auditor", ""),
               ("演示 管理员", "admin", ""))


@click.command()
@click.option("--seed", type=int, default=DEFAULT_SEED, show_default=True,
              help="the scenario is deterministic from this seed (where the faults go, amounts, scores)")
@click.option("--scale", type=click.FloatRange(0, 1, min_open=True), default=1.0, show_default=True,
              help="share of the clean stations to load (every injected fault is loaded whatever the scale)")
def demo(seed: int, scale: float) -> None:
    """Load the demo ledger (once; a second run reuses it) and print the demo tokens."""
    values = load_config()
    env = persistence_env(values)
    ensure_data_dir(env)
    tokens_file = Path(str(values["LEDGER_DATA_DIR"])) / TOKENS_FILE
    console = Console(stderr=True)
    if tokens_file.exists():
        console.print(f"reusing the demo ledger in {values['LEDGER_DATA_DIR']}")
        click.echo(tokens_file.read_text(encoding="utf-8"), nl=False)
        return
    with Progress(TextColumn("[bold]loading demo ledger"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console) as bar:
        task = bar.add_task("demo", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        dbname = env.get("SQLITE_DBNAME", "")
        if env.get("PERSISTENCE_MODULE") == "eventsourcing.sqlite" and dbname and not Path(dbname).exists() \
                and not dbname.startswith(("file:", ":")):
            counts = load_demo_file(dbname, seed=seed, scale=scale, progress=progress)
            app = LedgerApplication(env=env)
        else:
            app = LedgerApplication(env={**env, **LOADING_ENV})
            if app.recorder.max_notification_id():
                app.close()
                raise click.ClickException(f"the ledger in {values['LEDGER_DATA_DIR']} already holds other data; "
                                           "point LEDGER_DATA_DIR at an empty directory for the demo")
            counts = load_demo(app, seed=seed, scale=scale, progress=progress)
    try:
        lines = []
        for actor, role, scope in DEMO_PEOPLE:
            secret, _ = issue_token(app, actor_name=actor, role=role, scope=scope, issued_by="ledger demo")
            lines.append(f"{role:<8} {scope or '*':<6} {actor}: {secret}")
    finally:
        app.close()
    tokens_file.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(tokens_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    console.print(f"loaded {counts['projects']} projects and {counts['funds']} funds: {counts['events']} events "
                  f"(seed {seed}, scale {scale})")
    click.echo(tokens_file.read_text(encoding="utf-8"), nl=False)
