"""Operator commands for the projections, added to the Flask CLI by ``create_app``:

- ``flask projections rebuild [NAME]...``: rebuild the read models (all of them, or those named:
  ``register``, ``decision_log``) from the first event, one after another, with a progress bar each;
- ``flask projections run [NAME]...``: keep them up to date, each followed in a thread of its
  own, until Ctrl-C or SIGTERM; and with them every other follower of the log the app has put in
  ``app.extensions["log_followers"]`` (the webhooks' delivery loop, ``webhooks``), so that the
  Procfile's one ``worker`` process runs them all. NAMEs pick some of either.

Both use the projections ``create_app`` keeps in ``app.extensions`` under their names. A follower
other than a projection has a ``name`` and ``follow(stop, poll_interval, doorbell=...)``, which
returns once ``stop`` is set; it is never rebuilt.
"""

from __future__ import annotations

import logging
import signal
import threading
from time import monotonic, perf_counter
from types import FrameType
from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup

from projections.tracked import LogDoorbell, TrackedProjection
from service.persistence import PROJECTION_NAMES

logger = logging.getLogger(__name__)

projections_cli = AppGroup(
    "projections", help="Rebuild or follow the read models (the central register, the decision log)."
)


def current_projections(names: tuple[str, ...] = ()) -> list[TrackedProjection[Any]]:
    """The projections of this app named (all of them if none is), in PROJECTION_NAMES order."""
    present = {name: current_app.extensions[name] for name in PROJECTION_NAMES if name in current_app.extensions}
    if unknown := [name for name in names if name not in present]:
        raise click.BadParameter(
            f"{', '.join(unknown)}: this app has the projections {', '.join(present)}", param_hint="NAME"
        )
    return [projection for name, projection in present.items() if not names or name in names]


@projections_cli.command("rebuild")
@click.argument("names", metavar="[NAME]...", nargs=-1)
def rebuild_command(names: tuple[str, ...]) -> None:
    """Rebuild the read models (all, or those NAMEd) from the first event of the log."""
    for projection in current_projections(names):
        rebuild_one(projection)


def rebuild_one(projection: TrackedProjection[Any]) -> None:
    last = projection.application.recorder.max_notification_id() or 0
    started = perf_counter()
    with click.progressbar(length=max(last, 1), label=f"Rebuilding {projection.label}", show_pos=True) as bar:

        def progress(position: int, total: int) -> None:
            bar.length = max(total, 1)
            bar.update(position - bar.pos)

        processed = projection.rebuild(progress=progress)
    elapsed = perf_counter() - started
    rate = processed / elapsed if elapsed > 0 else 0.0
    click.echo(
        f"Rebuilt {projection.label}: {processed} events processed in {elapsed:.2f} s ({rate:,.0f} events/s); "
        f"position {projection.position()}"
    )


@projections_cli.command("run")
@click.argument("names", metavar="[NAME]...", nargs=-1)
@click.option("--poll-interval", type=click.FloatRange(min=0.01), default=0.2, show_default=True, help="Seconds")
@click.option(
    "--log-every", type=click.FloatRange(min=0), default=10.0, show_default=True, help="Seconds between progress lines"
)
def run_command(names: tuple[str, ...], poll_interval: float, log_every: float) -> None:
    """Follow the log and keep the read models (all, or those NAMEd) up to date, and deliver the
    webhooks (NAME webhooks; left out when only projections are named), until Ctrl-C or SIGTERM."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logger.setLevel(logging.INFO)
    others = current_app.extensions.get("log_followers", {})
    followable = [name for name in PROJECTION_NAMES if name in current_app.extensions] + list(others)
    if unknown := [name for name in names if name not in followable]:
        raise click.BadParameter(f"{', '.join(unknown)}: this app follows {', '.join(followable)}", param_hint="NAME")
    projection_names = tuple(name for name in names if name not in others)
    projections = current_projections(projection_names) if projection_names or not names else []
    other_followers = [follower for name, follower in others.items() if not names or name in names]
    stop = threading.Event()
    application = projections[0].application if projections else None
    if application is None and other_followers:
        application = other_followers[0].application
    doorbell = LogDoorbell.for_application(application) if application is not None else None

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        logger.info("%s received; stopping after the current batches", signal.Signals(signum).name)
        stop.set()
        if doorbell is not None:
            doorbell.wake()

    failed: list[str] = []

    def follow(projection: TrackedProjection[Any]) -> None:
        try:
            follow_one(projection, stop, poll_interval, log_every, doorbell)
        except BaseException:  # follow() retries errors itself: this is the unexpected
            logger.exception("%s: the follower failed; stopping the others", projection.name)
            failed.append(projection.name)
            stop.set()

    def follow_other(follower: Any) -> None:
        try:
            logger.info("%s: following %s", follower.name, follower.application.name)
            follower.follow(stop, poll_interval, doorbell=doorbell)
            logger.info("%s: stopped", follower.name)
        except BaseException:  # follow() retries errors itself: this is the unexpected
            logger.exception("%s: the follower failed; stopping the others", follower.name)
            failed.append(follower.name)
            stop.set()

    previous_handlers = {signum: signal.signal(signum, request_stop) for signum in (signal.SIGINT, signal.SIGTERM)}
    followers = [
        threading.Thread(target=follow, args=(projection,), name=f"{projection.name}-follower")
        for projection in projections
    ] + [
        threading.Thread(target=follow_other, args=(follower,), name=f"{follower.name}-follower")
        for follower in other_followers
    ]
    try:
        for follower in followers:
            follower.start()
        while any(follower.is_alive() for follower in followers):
            for follower in followers:
                follower.join(timeout=0.2)  # short, so that the signal handlers run promptly
    finally:
        stop.set()
        if doorbell is not None:
            doorbell.close()
        for follower in followers:
            follower.join()
        for signum, handler in previous_handlers.items():
            signal.signal(signum, handler)
    if failed:
        raise click.ClickException(f"following {', '.join(failed)} failed; see the log")


def follow_one(
    projection: TrackedProjection[Any],
    stop: threading.Event,
    poll_interval: float,
    log_every: float,
    doorbell: LogDoorbell | None = None,
) -> None:
    started_at = position_when_it_answers(projection, stop)
    logger.info("%s: following %s from position %s", projection.name, projection.application_name, started_at)
    last_logged = {"at": monotonic(), "position": started_at}

    def on_advance(position: int) -> None:
        now = monotonic()
        if now - last_logged["at"] >= log_every:
            rate = (position - last_logged["position"]) / (now - last_logged["at"])
            logger.info("%s: at position %s (%.0f events/s)", projection.name, position, rate)
            last_logged.update(at=now, position=position)

    projection.follow(stop, poll_interval, on_advance=on_advance, doorbell=doorbell)
    position = position_when_it_answers(projection, stop)
    logger.info("%s: stopped at position %s (%s events since start)", projection.name, position, position - started_at)


def position_when_it_answers(projection: TrackedProjection[Any], stop: threading.Event) -> int:
    """The projection's position, read again every second while the store cannot be reached (a
    follower starting before its database, or as it restarts); 0 if stopped meanwhile."""
    while True:
        try:
            return projection.position()
        except Exception as error:
            if stop.is_set():
                return 0
            logger.warning("%s: cannot read its position (%s); trying again", projection.name, error)
            stop.wait(1.0)
