"""gunicorn configuration for production: ``gunicorn -c deploy/gunicorn.conf.py``.

Every option comes from shopguide's settings (environment variables), the same
way ``shopguide serve`` reads them; a bad value stops the master before it forks.
Prometheus multi-process mode is set up here, in the master, before workers fork.
"""

from service.ops.gunicorn import ensure_port_free, gunicorn_options, metrics_hooks, prepare_metrics_dir
from service.ops.logs import configure_logging
from service.settings import load_settings

_settings = load_settings()
configure_logging(_settings)  # the master's own lines; gunicorn's follow through logconfig_dict
_metrics_dir, _temporary = prepare_metrics_dir(_settings)
_hooks = metrics_hooks(_metrics_dir, _temporary)

wsgi_app = "service:create_app()"
globals().update(gunicorn_options(_settings))
ensure_port_free(globals()["bind"])  # workers listen with SO_REUSEPORT: a taken port would not fail on its own


def child_exit(server, worker):  # noqa: ANN001, ANN201
    _hooks["child_exit"](server, worker)


def on_exit(server):  # noqa: ANN001, ANN201
    _hooks["on_exit"](server)
