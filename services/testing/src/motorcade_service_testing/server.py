"""Run an ASGI application under a real uvicorn server in a background thread, for tests."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn
from motorcade_service.transport import CoalescingHttpToolsProtocol

from motorcade_service_testing.postgres import free_port


@contextmanager
def live_server(app: Any, *, startup_timeout: float = 20.0) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1 at a free port, over the services' HTTP protocol; yield its base URL; shut the
    server down afterwards."""
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        http=CoalescingHttpToolsProtocol,  # the HTTP protocol the services' serve command runs
        log_config=None,
        access_log=False,
        lifespan="on",
    )
    with running_server(config, startup_timeout=startup_timeout):
        yield f"http://127.0.0.1:{port}"


@contextmanager
def running_server(config: uvicorn.Config, *, startup_timeout: float = 20.0) -> Iterator[uvicorn.Server]:
    """Run a uvicorn server with ``config`` in a thread until it has started; yield it; shut it down afterwards."""
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the test server ({config.uds or config.port}) did not start")
        time.sleep(0.02)
    try:
        yield server
    finally:
        server.should_exit = True
        thread.join(timeout=10)


class ServiceProcess:
    """A service started as in its container (``python -m <module> serve``); its stdout lines are kept.

    With ``log_file`` the service writes its lines there (as to a journal) instead of a pipe read by a thread of
    this process: benchmarks use it so that collecting the logs takes no CPU from the measurement.
    """

    def __init__(self, process: subprocess.Popen[str], base_url: str, log_file: Path | None = None) -> None:
        self.process = process
        self.base_url = base_url
        self.log_file = log_file
        self._lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    @property
    def lines(self) -> list[str]:
        """Every line printed so far."""
        if self.log_file is not None:
            return self.log_file.read_text(encoding="utf-8", errors="replace").splitlines()
        return self._lines

    def _read(self) -> None:
        if self.process.stdout is None:
            return
        for line in self.process.stdout:
            self._lines.append(line.rstrip("\n"))

    def stop(self) -> list[str]:
        """Stop the service (SIGTERM, like podman stop) and return every line it printed."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._reader.join(timeout=5)
        return self.lines


@contextmanager
def service_process(
    module: str, env: dict[str, str], *, startup_timeout: float = 60.0, log_file: Path | None = None
) -> Iterator[ServiceProcess]:
    """Run ``python -m module serve`` with ``env`` (which must set the service's port) until /healthz answers.

    Its output goes to a pipe read by a thread, or to ``log_file`` when given.
    """
    port = next(value for key, value in env.items() if key.endswith("_PORT") and "_DB_" not in key)
    with contextlib.ExitStack() as files:
        output = subprocess.PIPE if log_file is None else files.enter_context(log_file.open("w", encoding="utf-8"))
        process = subprocess.Popen(
            [sys.executable, "-m", module, "serve"],
            env={"PATH": os.environ["PATH"], **env},
            stdout=output,
            stderr=subprocess.STDOUT,
            text=True,
        )
    service = ServiceProcess(process, f"http://127.0.0.1:{port}", log_file)
    deadline = time.monotonic() + startup_timeout
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{module} exited early: {' | '.join(service.lines[-5:])}")
            try:
                with urllib.request.urlopen(f"{service.base_url}/healthz", timeout=1) as response:  # noqa: S310 (http)
                    if response.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{module} did not answer /healthz within {startup_timeout} s") from None
                time.sleep(0.1)
        yield service
    finally:
        service.stop()
