"""Example application: one heartbeat line every 10 s.

By default it prints to stdout, as most apps do: on balenaOS the engine writes stdout to the host journal
and the log agent's journald input ships it (with the service name and the device identity); on plain
Docker the fluentd log driver of docker-compose.docker.yml sends it to the agent. With FLUENT_HOST set it
sends structured records with stock fluent-logger instead (not both: each line would be shipped twice).
"""

import logging
import os
import time

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
log = logging.getLogger("example")

if os.environ.get("FLUENT_HOST"):
    from fluent import handler

    fluent = handler.FluentHandler(
        "app.example",
        host=os.environ["FLUENT_HOST"],
        port=int(os.environ.get("FLUENT_PORT", "24224")),
    )
    fluent.setFormatter(handler.FluentRecordFormatter({"level": "%(levelname)s", "logger": "%(name)s"}))
    log.addHandler(fluent)
    log.propagate = False  # structured records go to the agent, not to stdout as well

beat = 0
while True:
    beat += 1
    log.info({"message": "heartbeat", "beat": beat})
    time.sleep(10)
