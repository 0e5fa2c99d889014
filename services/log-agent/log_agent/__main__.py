"""``log-agent``: Forward in, durable spool, outputs; /metrics and /health from a gunicorn child.

Signals: SIGHUP reloads the configuration (inputs and outputs are rebuilt; spooled records and
cursors stay), SIGTERM/SIGINT stop the inputs, flush within ``retry.flush_timeout`` and exit 0.
Exit codes: 0 clean stop, 1 could not start (spool, port), 2 invalid configuration.
"""

from __future__ import annotations

import argparse
import logging
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from .config import ENV_HTTP_LISTEN, ENV_RUN_DIR, AgentConfig
from .errors import ConfigError, LogAgentError

if TYPE_CHECKING:
    from .pipeline import Pipeline, PipelineParts

log = logging.getLogger("log_agent")

WEB_RESTART_SECONDS = 5.0


def prepare_run_dir(path: str) -> Path:
    """The tmpfs directory shared with the web child; metrics of a previous run are wiped."""
    root = Path(path)
    try:
        shutil.rmtree(root / "metrics", ignore_errors=True)
        (root / "metrics").mkdir(parents=True, exist_ok=True)
        (root / "http.json").unlink(missing_ok=True)
    except OSError as err:
        raise ConfigError(f"run_dir ({ENV_RUN_DIR})", f"cannot use {path!r}: {err.strerror}") from err
    return root


def build_parts(config: AgentConfig) -> PipelineParts:
    """The inputs and routed outputs one configuration describes (nothing started yet)."""
    from .delivery import Route
    from .pipeline import PipelineParts

    router = config.router()
    routes = [Route(spec.build(), lambda tag, name=spec.name: router.accepts(name, tag))
              for spec in config.outputs]
    inputs = [spec.build() for spec in config.inputs]
    return PipelineParts(inputs, routes, config.retry, config.secrets())


def check_http_listen(listen: tuple[str, int]) -> None:
    """Fail fast when the /metrics address is taken: the gunicorn child would exit and be restarted
    forever while the agent looked healthy. Bound like gunicorn binds (SO_REUSEADDR), then released."""
    host, port = listen
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as err:
            raise ConfigError(f"{ENV_HTTP_LISTEN} (http_listen)",
                              f"cannot listen on {host}:{port}: {err.strerror or err}") from err


class WebProcess:
    """The gunicorn child serving /metrics and /health (see web.py for why it is a child)."""

    def __init__(self, listen: tuple[str, int], run_dir: Path) -> None:
        host, port = listen
        self.listen = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        self.run_dir = run_dir
        self._process: subprocess.Popen[bytes] | None = None
        self._started = 0.0

    def start(self) -> None:
        command = [sys.executable, "-m", "log_agent.web", "--listen", self.listen,
                   "--run-dir", str(self.run_dir)]
        self._process = subprocess.Popen(command, stdin=subprocess.DEVNULL)
        self._started = time.monotonic()

    def keep_alive(self) -> None:
        """Restart the child if it died (not more often than every few seconds)."""
        if self._process is None or self._process.poll() is None:
            return
        if time.monotonic() - self._started >= WEB_RESTART_SECONDS:
            log.warning("web server exited with %s; restarting it", self._process.returncode)
            self.start()

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(timeout=5)
        self._process = None


class Agent:
    def __init__(self, config: AgentConfig, config_path: str | None, run_dir: Path) -> None:
        self.config = config
        self.config_path = config_path
        self.run_dir = run_dir
        self.signals: queue.SimpleQueue[int] = queue.SimpleQueue()

    def run(self) -> int:
        from .deadletter import DeadLetterFile
        from .metrics import Metrics
        from .pipeline import Pipeline
        from .spool import Spool

        try:
            check_http_listen(self.config.http_listen)
        except ConfigError as err:
            log.error("cannot start the HTTP server: %s", err)
            return 1
        try:
            spool = Spool(self.config.spool)
        except LogAgentError as err:
            log.error("cannot open the spool: %s", err)
            return 1
        retry = self.config.retry
        dead_letter = DeadLetterFile(
            Path(retry.dead_letter_path or Path(self.config.spool.dir) / "dead-letter.jsonl"),
            retry.dead_letter_max_bytes)
        pipeline = Pipeline(spool, Metrics(), self.config.enricher(os.environ), dead_letter,
                            self.run_dir / "health.json")
        web = WebProcess(self.config.http_listen, self.run_dir)
        try:
            pipeline.start(build_parts(self.config))
        except (OSError, LogAgentError) as err:
            log.error("cannot start: %s", err)
            pipeline.stop(flush_timeout=0)
            spool.close()
            return 1
        web.start()
        self._install_signal_handlers()
        log.info("log-agent running: outputs %s", ", ".join(spec.name for spec in self.config.outputs))
        try:
            self._serve(pipeline, web)
        finally:
            pipeline.stop()
            spool.close()
            web.stop()
        log.info("log-agent stopped")
        return 0

    def _install_signal_handlers(self) -> None:
        for signum in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda received, _frame: self.signals.put(received))

    def _serve(self, pipeline: Pipeline, web: WebProcess) -> None:
        while True:
            try:
                received = self.signals.get(timeout=1.0)
            except queue.Empty:
                web.keep_alive()
                continue
            if received != signal.SIGHUP:
                log.info("received %s: flushing and stopping", signal.Signals(received).name)
                return
            web = self._reload(pipeline, web)

    def _reload(self, pipeline: Pipeline, web: WebProcess) -> WebProcess:
        try:
            new = AgentConfig.load(os.environ, self.config_path)
        except ConfigError as err:
            log.error("reload refused, the running configuration stays: %s", err)
            return web
        waiting = self.config.restart_only_changes(new)
        if waiting:
            log.warning("reload: %s change only at the next start (restart the agent); "
                        "the running values stay", ", ".join(waiting))
        new = self.config.keeping_restart_only(new)
        pipeline.enrich = new.enricher(os.environ)
        try:
            pipeline.reload(build_parts(new))
        except (OSError, LogAgentError) as err:
            log.error("reload failed (%s); going back to the running configuration", err)
            pipeline.enrich = self.config.enricher(os.environ)
            pipeline.reload(build_parts(self.config))
            return web
        if new.http_listen != self.config.http_listen:
            web.stop()
            web = WebProcess(new.http_listen, self.run_dir)
            web.start()
        logging.getLogger().setLevel(new.log_level.upper())
        self.config = new
        log.info("configuration reloaded: outputs %s", ", ".join(spec.name for spec in new.outputs))
        return web


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="log-agent", description=__doc__.splitlines()[0])
    parser.add_argument("--config", help="YAML configuration file (default: $LOG_AGENT_CONFIG)")
    parser.add_argument("--check-config", action="store_true", help="validate the configuration and exit")
    args = parser.parse_args(argv)
    try:
        config = AgentConfig.load(os.environ, args.config)
        if args.check_config:
            print("log-agent: configuration OK")
            return 0
        run_dir = prepare_run_dir(config.run_dir)
        # Before prometheus_client is first imported (Agent.run imports the metrics; loading the
        # configuration does not): the agent then writes its metrics to files the web child reads.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(run_dir / "metrics")
    except ConfigError as err:
        print(f"log-agent: invalid configuration: {err}", file=sys.stderr)
        return 2
    logging.basicConfig(level=config.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return Agent(config, args.config, run_dir).run()


if __name__ == "__main__":
    sys.exit(main())
