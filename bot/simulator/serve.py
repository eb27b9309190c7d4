"""Serve the simulator (or any ASGI app) with uvicorn in a background thread on 127.0.0.1.

Example:
    state = SimulatorState(robots={"east": "k1"})
    with serve_in_thread(create_simulator_app(state)) as server:
        settings.wecom_api_base = server.api_base     # http://127.0.0.1:<port>/cgi-bin
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import uvicorn


@dataclass(frozen=True)
class RunningServer:
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_base(self) -> str:
        """What `Settings.wecom_api_base` should be to talk to this simulator."""
        return f"{self.url}/cgi-bin"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class ThreadedServer:
    """A uvicorn server on its own thread; `start()` returns once it accepts connections."""

    def __init__(self, app, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port or free_port(host)
        config = uvicorn.Config(app, host=host, port=self.port, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        # uvicorn installs signal handlers only on the main thread; this one must not steal Ctrl-C.
        self._server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        self._thread = threading.Thread(target=self._server.run, name=f"uvicorn:{self.port}", daemon=True)

    def start(self, timeout: float = 10.0) -> RunningServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"server on {self.host}:{self.port} did not start")
            time.sleep(0.01)
        return RunningServer(self.host, self.port)

    def stop(self, timeout: float = 10.0) -> None:
        self._server.should_exit = True
        self._thread.join(timeout)


@contextmanager
def serve_in_thread(app, *, host: str = "127.0.0.1", port: int = 0) -> Iterator[RunningServer]:
    server = ThreadedServer(app, host=host, port=port)
    running = server.start()
    try:
        yield running
    finally:
        server.stop()
