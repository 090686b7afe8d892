"""``flask --app wsgi demo load [--if-empty] [--auditor-token]``: the demo data's command.

``wsgi.py`` adds it to the app's CLI: the service's app factory knows nothing of the demo."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from demo.loader import DemoDataError, DemoStepRefused, load_demo, load_demo_if_empty
from service.application import CollaborationRecords

demo_cli = AppGroup("demo", help="Demo data from the public record (three real cases).")
DEMO_AUDITOR = "Demo auditor (demo load)"
AUDITOR_TOKEN_LABEL = "Auditor token for the web view (shown once): "  # noqa: S105  (a label, not a secret)


@demo_cli.command("load")
@click.option(
    "--if-empty", is_flag=True, help="Load only into a store that has no events yet (bin/serve's first start)."
)
@click.option(
    "--auditor-token",
    is_flag=True,
    help="Once loaded, create an auditor token to sign in to the web view with, and print it (shown once).",
)
def load_command(if_empty: bool, auditor_token: bool) -> None:
    """Record the three cases through the application service. Loading twice records nothing new."""
    from projections.cli import current_projections

    records: CollaborationRecords = current_app.extensions["records"]
    try:
        loaded = load_demo_if_empty(records) if if_empty else load_demo(records)
    except (DemoStepRefused, DemoDataError) as error:
        raise click.ClickException(str(error)) from None
    if loaded is None:
        click.echo(f"Demo data: not loaded; the store already holds {records.log_size()} events.")
        return
    for projection in current_projections():
        projection.catch_up()
    for case, collaboration_id in loaded.collaborations.items():
        click.echo(f"  {case:4} collaboration {collaboration_id}")
    if auditor_token:
        _, token = current_app.extensions["tokens"].create(name=DEMO_AUDITOR, role="auditor")
        click.echo(f"{AUDITOR_TOKEN_LABEL}{token}")
    click.echo(loaded.summary())
