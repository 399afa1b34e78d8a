"""The dramatiq broker the configuration names: in-process, Redis or RabbitMQ."""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import Retries

from worker.config import BrokerConfig


def make_broker(config: BrokerConfig) -> dramatiq.Broker:
    if config.url.startswith("stub://"):
        broker = StubBroker()
    elif config.url.startswith(("redis://", "rediss://")):
        from dramatiq.brokers.redis import RedisBroker

        broker = RedisBroker(url=config.url)
    else:
        from dramatiq.brokers.rabbitmq import RabbitmqBroker

        broker = RabbitmqBroker(url=config.url)
    for middleware in broker.middleware:
        if isinstance(middleware, Retries):
            middleware.max_retries = config.max_retries
            middleware.min_backoff = int(config.min_backoff * 1000)
            middleware.max_backoff = int(config.max_backoff * 1000)
    return broker


def start_in_process_workers(broker: dramatiq.Broker, threads: int) -> dramatiq.Worker:
    """Worker threads inside this process: the embedded default, and `triage run` with any broker."""
    worker = dramatiq.Worker(broker, worker_threads=threads, worker_timeout=100)
    worker.start()
    return worker


def wait_until_idle(broker: dramatiq.Broker, queues: list[str], timeout_ms: int | None = None) -> None:
    """Blocks until every queue (and its delayed retries) is empty: `triage run --once`."""
    # A failed job is already recorded in the database (a failed mail, a failed message):
    # waiting must not raise it again, which the in-process broker does by default.
    options = {"fail_fast": False} if isinstance(broker, StubBroker) else {}
    if type(broker).__name__ == "RabbitmqBroker":
        options = {"min_successes": 2, "idle_time": 50}  # the default polls each queue 10 times
    for _ in range(2):  # a job may enqueue into a queue already joined: go round twice
        for queue in queues:
            broker.join(queue, timeout=timeout_ms, **options)
