"""`ledger demo`: loads the demo ledger once into the configured store and prints the demo tokens."""

from __future__ import annotations

import os
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from api.config import ensure_data_dir, load_config, persistence_env
from api.demo import load_demo
from ledger.access import issue_token
from ledger.application import LedgerApplication

TOKENS_FILE = "demo-tokens.txt"
DEMO_PEOPLE = (("演示 河北省财务人员", "officer", "13"), ("演示 兰州市财务人员", "officer", "6201"),
               ("演示 审计人员", "auditor", ""), ("演示 管理员", "admin", ""))


@click.command()
@click.option("--stations", type=click.IntRange(1, 50), default=6, show_default=True,
              help="township stations per region (河北省长安区 and 兰州市城关区)")
def demo(stations: int) -> None:
    """Load the demo ledger (once; a second run reuses it) and print the demo tokens."""
    values = load_config()
    env = persistence_env(values)
    ensure_data_dir(env)
    tokens_file = Path(str(values["LEDGER_DATA_DIR"])) / TOKENS_FILE
    app = LedgerApplication(env=env)
    console = Console(stderr=True)
    try:
        if not tokens_file.exists():
            if app.recorder.max_notification_id():
                raise click.ClickException(f"the ledger in {values['LEDGER_DATA_DIR']} already holds other data; "
                                           "point LEDGER_DATA_DIR at an empty directory for the demo")
            with Progress(TextColumn("[bold]loading demo ledger"), BarColumn(), MofNCompleteColumn(),
                          console=console) as bar:
                task = bar.add_task("demo", total=stations * 2)
                counts = load_demo(app, stations=stations,
                                   progress=lambda done, total: bar.update(task, completed=done, total=total))
            lines = []
            for actor, role, scope in DEMO_PEOPLE:
                secret, _ = issue_token(app, actor_name=actor, role=role, scope=scope, issued_by="ledger demo")
                lines.append(f"{role:<8} {scope or '*':<6} {actor}: {secret}")
            tokens_file.parent.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(tokens_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                handle.write("\n".join(lines) + "\n")
            console.print(f"loaded {counts['stations']} stations, {counts['events']} events")
        else:
            console.print(f"reusing the demo ledger in {values['LEDGER_DATA_DIR']}")
    finally:
        app.close()
    click.echo(tokens_file.read_text(encoding="utf-8"), nl=False)
