"""Example application: logs to stdout and, through stock fluent-logger, to the log agent."""

import logging
import os
import time

from fluent import handler

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
log = logging.getLogger("example")
fluent = handler.FluentHandler(
    "app.example",
    host=os.environ.get("FLUENT_HOST", "127.0.0.1"),
    port=int(os.environ.get("FLUENT_PORT", "24224")),
)
fluent.setFormatter(handler.FluentRecordFormatter({"level": "%(levelname)s", "logger": "%(name)s"}))
log.addHandler(fluent)

beat = 0
while True:
    beat += 1
    log.info({"message": "heartbeat", "beat": beat})
    time.sleep(10)
