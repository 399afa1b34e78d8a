"""The process's one App and broker: set by `triage run`, or built from $TRIAGE_CONFIG when
`dramatiq worker.jobs` imports the actors in a worker process of its own."""

from __future__ import annotations

import dramatiq

from worker.app import App
from worker.broker import make_broker
from worker.config import load_config

_app: App | None = None
_broker: dramatiq.Broker | None = None


def install(app: App) -> dramatiq.Broker:
    """Makes `app` the process's App and sets up its broker (before worker.jobs is imported)."""
    global _app, _broker
    _app = app
    broker = make_broker(app.config.broker)
    if _broker is not None:
        # The actors were declared on the broker of an earlier App in this process (tests, a
        # CLI command after another): move them over to the new one.
        for name in _broker.get_declared_actors():
            actor = _broker.get_actor(name)
            actor.broker = broker
            broker.declare_actor(actor)
        _broker.close()
    _broker = broker
    dramatiq.set_broker(broker)
    return broker


def current_app() -> App:
    global _app
    if _app is None:
        install(App(load_config()))
    return _app
