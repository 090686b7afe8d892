"""Operator commands for the projections, added to the Flask CLI by ``create_app``:

- ``flask projections rebuild``: rebuild the register from the first event, with a progress bar;
- ``flask projections run``: keep the register up to date until Ctrl-C or SIGTERM.

Both use the ``Register`` that ``create_app`` keeps in ``app.extensions["register"]``.
"""

from __future__ import annotations

import logging
import signal
import threading
from time import monotonic, perf_counter
from types import FrameType

import click
from flask import current_app
from flask.cli import AppGroup

from projections.register import Register

logger = logging.getLogger(__name__)

projections_cli = AppGroup("projections", help="Rebuild or follow the read models (the central register).")


def current_register() -> Register:
    return current_app.extensions["register"]


@projections_cli.command("rebuild")
def rebuild_command() -> None:
    """Rebuild the register from the first event of the log."""
    register = current_register()
    last = register.application.recorder.max_notification_id() or 0
    started = perf_counter()
    with click.progressbar(length=max(last, 1), label="Rebuilding the register", show_pos=True) as bar:

        def progress(position: int, total: int) -> None:
            bar.length = max(total, 1)
            bar.update(position - bar.pos)

        processed = register.rebuild(progress=progress)
    elapsed = perf_counter() - started
    rate = processed / elapsed if elapsed > 0 else 0.0
    click.echo(
        f"Rebuilt the register: {processed} events processed in {elapsed:.2f} s ({rate:,.0f} events/s); "
        f"position {register.position()}"
    )


@projections_cli.command("run")
@click.option("--poll-interval", type=click.FloatRange(min=0.01), default=0.2, show_default=True, help="Seconds")
@click.option(
    "--log-every", type=click.FloatRange(min=0), default=10.0, show_default=True, help="Seconds between progress lines"
)
def run_command(poll_interval: float, log_every: float) -> None:
    """Follow the log and keep the register up to date until Ctrl-C or SIGTERM."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logger.setLevel(logging.INFO)
    register = current_register()
    stop = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        logger.info("%s received; stopping after the current batch", signal.Signals(signum).name)
        stop.set()

    previous_handlers = {signum: signal.signal(signum, request_stop) for signum in (signal.SIGINT, signal.SIGTERM)}
    started_at = register.position()
    logger.info("register: following %s from position %s", register.application_name, started_at)
    last_logged = {"at": monotonic(), "position": started_at}

    def on_advance(position: int) -> None:
        now = monotonic()
        if now - last_logged["at"] >= log_every:
            rate = (position - last_logged["position"]) / (now - last_logged["at"])
            logger.info("register: at position %s (%.0f events/s)", position, rate)
            last_logged.update(at=now, position=position)

    try:
        register.follow(stop, poll_interval, on_advance=on_advance)
    finally:
        for signum, handler in previous_handlers.items():
            signal.signal(signum, handler)
    logger.info(
        "register: stopped at position %s (%s events since start)",
        register.position(),
        register.position() - started_at,
    )
