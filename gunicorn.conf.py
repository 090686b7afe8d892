"""gunicorn settings (read automatically from the working directory).

- Workers: ``WEB_CONCURRENCY`` (default 2). Each worker builds its own app, store
  connections and register after the fork (``preload_app = False``), so nothing crosses it.
  Several workers share one SQLite file safely: the store runs in WAL mode and waits for the
  write lock (``SQLITE_LOCK_TIMEOUT``, see service/persistence.py).
- Bind: ``BIND`` if set (e.g. ``0.0.0.0:8000`` or ``unix:/run/crs.sock``); else, when a
  platform sets ``PORT`` (Heroku-style), ``0.0.0.0:$PORT`` so the platform's router can reach
  it; else ``127.0.0.1:8000``, so a developer's machine does not expose the service to the
  network by accident. In production put TLS in front (a reverse proxy or the platform).
"""

import os

if os.environ.get("BIND"):
    bind = [os.environ["BIND"]]
elif os.environ.get("PORT"):
    bind = [f"0.0.0.0:{os.environ['PORT']}"]
else:
    bind = ["127.0.0.1:8000"]

workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
preload_app = False
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
