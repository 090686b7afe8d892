"""gunicorn settings (read automatically from the working directory).

- Workers: ``WEB_CONCURRENCY`` (default 2). Each worker builds its own app, store
  connections and register after the fork (``preload_app = False``), so nothing crosses it.
  Several workers share one SQLite file safely: the store runs in WAL mode and waits for the
  write lock (``SQLITE_LOCK_TIMEOUT``, see service/persistence/sqlite.py). An in-memory store
  (``DATABASE_URL=memory://``, service/persistence/memory.py) lives in one process: with it the
  server refuses to start more than one worker, which would each keep a store of their own.
- Threads: each worker answers on ``GUNICORN_THREADS`` threads (default 8; gunicorn's
  ``gthread`` worker). The live event stream (``GET /api/v1/events/stream``) holds a thread for
  as long as a client follows it (at most ``EVENT_STREAM_MAX_SECONDS``), so threads, not
  processes, are what streams use; each worker serves at most ``EVENT_STREAMS_PER_WORKER``
  streams (default 6, keep it below the threads) so that at least two threads are left for
  ordinary requests, and answers one more with 503 and ``Retry-After``. Measured with
  ``bench.http_writes``: threaded workers write at about the same rate as single-threaded ones
  (HTTP / floor 0.42 against 0.45; this machine's noise is a third of the figure).
- Bind: ``BIND`` if set (e.g. ``0.0.0.0:8000`` or ``unix:/run/crs.sock``); else, when a
  platform sets ``PORT`` (Heroku-style), ``0.0.0.0:$PORT`` so the platform's router can reach
  it; else ``127.0.0.1:8000``, so a developer's machine does not expose the service to the
  network by accident. In production put TLS in front (a reverse proxy or the platform).
- Metrics (``GET /metrics``, service/metrics.py): every worker counts its requests in files
  under ``PROMETHEUS_MULTIPROC_DIR`` (prometheus_client's multiprocess mode), which a scrape
  sums whichever worker answers it. Unless the operator names a directory, one is made for
  this server when it starts, and removed when it stops; a directory the operator names is
  emptied of earlier runs' files when the server starts.
"""

import atexit
import os
import shutil
import tempfile
from pathlib import Path

if os.environ.get("BIND"):
    bind = [os.environ["BIND"]]
elif os.environ.get("PORT"):
    bind = [f"0.0.0.0:{os.environ['PORT']}"]
else:
    bind = ["127.0.0.1:8000"]

workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
preload_app = False
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 30
accesslog = "-"
errorlog = "-"

# gunicorn 24+ opens a control socket at ~/.gunicorn/gunicorn.ctl by default; several
# instances on one machine (tests, a developer's server) would share that path. It is not
# needed to run the service, so it is off unless asked for.
control_socket_disable = os.environ.get("GUNICORN_CONTROL_SOCKET", "") == ""
if not control_socket_disable:
    control_socket = os.environ["GUNICORN_CONTROL_SOCKET"]

# The head of a request: the app enforces the real limits (service/limits.py: a URL of 4096
# bytes, 100 header fields of 8190 bytes) and answers them as application/problem+json. gunicorn
# refuses beyond these, with its own text/html page, before the app sees the request: a request
# line longer than 8190 bytes (gunicorn's most), more than 400 header fields, or one longer than
# 16384 bytes. They bound a request's head to about 6.5 MB. See docs/operations.md.
limit_request_line = 8190
limit_request_fields = 400
limit_request_field_size = 16384


# ---------------------------------------------------------------- metrics (multiprocess)
_METRICS_DIR = "PROMETHEUS_MULTIPROC_DIR"
_MADE_BY = "COLLABORATION_RECORDS_METRICS_DIR_MADE_BY"  # the master that made the directory


def on_starting(server):
    """Once, in the master, before any worker is forked (not again on a reload, HUP): the
    workers inherit the variable, so prometheus_client is in multiprocess mode from its import.
    A directory an earlier master made (this one was started from it by USR2) is that master's,
    removed when it exits, so this one makes its own."""
    _refuse_workers_in_memory(server.cfg.workers)
    given = os.environ.get(_METRICS_DIR)
    if not given or os.environ.get(_MADE_BY):
        made = tempfile.mkdtemp(prefix="collaboration-records-metrics-")
        os.environ[_METRICS_DIR] = made
        os.environ[_MADE_BY] = str(os.getpid())
        atexit.register(_remove_made_directory, made, os.getpid())
        return
    directory = Path(given)
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):  # counts of an earlier run would be summed with this one's
        stale.unlink(missing_ok=True)


def _refuse_workers_in_memory(workers):
    """``memory://`` keeps the records in the memory of the process that opened them: several
    workers would each have a store of their own, and a request would find only what its own
    worker had recorded. Refused before any worker starts."""
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith("memory:") and workers > 1:
        raise SystemExit(
            f"DATABASE_URL={url} keeps the records in one process's memory: {workers} workers would each have a "
            "store of their own, and nothing in them outlives the worker. Run one worker (WEB_CONCURRENCY=1) to try "
            "the service out, or use sqlite:/// or postgresql:// for records to keep."
        )


def _remove_made_directory(directory, master):
    """At the master's exit, however it exits (workers inherit the hook; they leave it alone)."""
    if os.getpid() == master:
        shutil.rmtree(directory, ignore_errors=True)


def child_exit(server, worker):
    """A worker has exited: its counters stay (counts only grow), its live gauges go."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
