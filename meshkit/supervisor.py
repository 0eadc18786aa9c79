"""``make run`` keeps the mesh alive: a service (or the broker) that exits is started again with back-off, and
a tester can take one down on purpose — ``meshctl service stop|start|kill|restart NAME`` — to rehearse a
member's outage.

The launcher's main thread owns every child process (so each dies with the launcher, ``meshkit.child``); the
control endpoint runs in a thread of its own and hands commands to the main thread, which carries them out
between two looks at the children. State — up, starting, restarting, stopped — and restart counts are kept
in ``var/mesh.json`` for scripts.
"""

from __future__ import annotations

import json
import queue
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

from meshkit.mesh_runner import MeshRunner
from meshkit.ports import port_is_free
from meshkit.rabbit_node import RabbitNode
from shared.errors import MeshError

BROKER = "rabbitmq"
BACKOFF_S = (1.0, 2.0, 4.0, 8.0, 15.0, 30.0)
STABLE_S = 60.0  # up this long, a service's back-off starts again from the first step
READY_WAIT_S = 120.0  # `meshctl service start|restart` answers once the service is ready, or after this


class State(StrEnum):
    UP = "up"
    STARTING = "starting"
    RESTARTING = "restarting"  # it exited on its own; it will be started again after its back-off
    STOPPED = "stopped"  # taken down on purpose; it stays down until started


class Action(StrEnum):
    START = "start"
    STOP = "stop"
    KILL = "kill"
    RESTART = "restart"


@dataclass
class Watched:
    name: str
    state: State = State.STARTING
    restarts: int = 0
    exits: int = 0  # exits in a row without staying up STABLE_S
    last_exit: int | None = None
    up_since: float | None = None
    restart_at: float | None = None
    pid: int | None = None

    def public(self) -> dict[str, Any]:
        return {"state": self.state.value, "restarts": self.restarts, "lastExitCode": self.last_exit,
                "pid": self.pid}


@dataclass
class Command:
    action: Action
    name: str
    done: threading.Event = field(default_factory=threading.Event)
    result: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


class Supervisor:
    def __init__(self, *, runner: MeshRunner, rabbit: RabbitNode, say: Callable[[str], None],
                 changed: Callable[[dict[str, Any]], None]) -> None:
        self._runner, self._rabbit, self._say, self._changed = runner, rabbit, say, changed
        self.watched = {name: Watched(name=name) for name in [BROKER, *runner.services]}
        for watched in self.watched.values():
            watched.pid = self._pid(watched.name)
        self.commands: queue.Queue[Command] = queue.Queue()
        self._broker_up = True

    # ---- what the main thread does, again and again ------------------------------------------------------------
    def tick(self) -> None:
        while True:
            try:
                command = self.commands.get_nowait()
            except queue.Empty:
                break
            self._carry_out(command)
        now = time.monotonic()
        for watched in self.watched.values():
            try:
                self._look_at(watched, now)
            except Exception as exc:  # the launcher must outlive any one look at a child
                self._say(f"[red]could not look after {watched.name}:[/red] {exc!r}")

    def status(self) -> dict[str, Any]:
        return {name: w.public() for name, w in self.watched.items()}

    def wait_up(self, name: str, *, timeout_s: float | None = None) -> bool:
        """From another thread: wait until the main thread has seen ``name`` ready (start and restart answer
        only then, so a script can go on at once)."""
        deadline = time.monotonic() + (timeout_s if timeout_s is not None else READY_WAIT_S)
        while time.monotonic() < deadline:
            if self.watched[name].state is State.UP:
                return True
            time.sleep(0.2)
        return False

    def _alive(self, name: str) -> bool:
        if name == BROKER:
            return self._rabbit.process is not None and self._rabbit.process.poll() is None
        return self._runner[name].alive()

    def _pid(self, name: str) -> int | None:
        process = self._rabbit.process if name == BROKER else self._runner[name].process
        return process.pid if process is not None else None

    def _look_at(self, watched: Watched, now: float) -> None:
        if watched.state is State.STOPPED:
            return
        if watched.state is State.RESTARTING:
            if watched.restart_at is not None and now >= watched.restart_at:
                self._start(watched, after_crash=True)
            return
        if not self._alive(watched.name):
            code = self._exit_code(watched.name)
            watched.last_exit, watched.up_since = code, None
            watched.exits += 1
            delay = BACKOFF_S[min(watched.exits - 1, len(BACKOFF_S) - 1)]
            watched.state, watched.restart_at = State.RESTARTING, now + delay
            self._say(f"[red]{watched.name} exited[/red] (code {code}); restarting in {delay:g} s "
                      f"(restart {watched.restarts + 1})")
            self._changed(self.status())
            return
        if watched.state is State.STARTING and self._ready(watched.name):
            watched.state, watched.up_since = State.UP, now
            if watched.restarts:
                self._say(f"[green]{watched.name} is back[/green] (restart {watched.restarts})")
            self._changed(self.status())
        elif watched.state is State.UP and watched.up_since is not None and now - watched.up_since > STABLE_S:
            watched.exits = 0

    def _exit_code(self, name: str) -> int | None:
        process = self._rabbit.process if name == BROKER else self._runner[name].process
        return process.poll() if process is not None else None

    def _ready(self, name: str) -> bool:
        if name == BROKER:
            return not port_is_free(self._rabbit.amqp_port)
        return self._runner[name].ready()[0]

    def _start(self, watched: Watched, *, after_crash: bool) -> None:
        if watched.name == BROKER:
            self._rabbit.restart(wait=False)
        else:
            self._runner[watched.name].start()
        watched.state, watched.restart_at, watched.pid = State.STARTING, None, self._pid(watched.name)
        if after_crash:
            watched.restarts += 1
        self._changed(self.status())

    def _carry_out(self, command: Command) -> None:
        watched = self.watched.get(command.name)
        try:
            if watched is None:
                raise LookupError(f"no service {command.name!r}; there are {', '.join(self.watched)}")
            match command.action:
                case Action.STOP:
                    watched.state = State.STOPPED
                    self._stop(command.name, kill=False)
                    self._say(f"[yellow]{command.name} stopped[/yellow] (meshctl service start {command.name})")
                case Action.KILL:  # a crash: the supervisor notices and restarts it, as it would any crash
                    if not self._alive(command.name):
                        raise RuntimeError(f"{command.name} is not running")
                    self._stop(command.name, kill=True)
                    self._say(f"[yellow]{command.name} killed[/yellow] (SIGKILL)")
                case Action.START:
                    if self._alive(command.name):
                        raise RuntimeError(f"{command.name} is running already")
                    watched.exits = 0
                    self._start(watched, after_crash=False)
                    self._say(f"[green]{command.name} started[/green]")
                case Action.RESTART:
                    watched.state = State.STOPPED  # not a crash while it goes down
                    self._stop(command.name, kill=False)
                    watched.exits = 0
                    self._start(watched, after_crash=False)
                    self._say(f"[green]{command.name} restarted[/green]")
            command.result = {command.name: watched.public()}
        except Exception as exc:  # refused, or stopping/starting failed: said to the caller, never fatal here
            command.error = f"{exc}" if isinstance(exc, LookupError | RuntimeError) else repr(exc)
        finally:
            self._changed(self.status())
            command.done.set()

    def _stop(self, name: str, *, kill: bool) -> None:
        if name == BROKER:
            if kill:
                self._rabbit.kill()
            else:
                self._rabbit.stop()
        elif kill:
            self._runner[name].kill()
        else:
            self._runner[name].stop()


class ControlServer:
    """``meshctl service …`` talks to the launcher here: loopback only, the admin token required."""

    def __init__(self, supervisor: Supervisor, *, token: str) -> None:
        self._supervisor = supervisor
        self._token = token
        handler = self._handler()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="mesh-control", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        supervisor, token = self._supervisor, self._token

        class Handler(_ControlHandler):
            pass

        Handler.supervisor, Handler.token = supervisor, token
        return Handler


class _ControlHandler(BaseHTTPRequestHandler):
    """The control server's requests, for the supervisor and behind the admin token its server binds."""

    supervisor: ClassVar[Supervisor]
    token: ClassVar[str]

    def log_message(self, *_args: Any) -> None:  # the launcher's terminal is for the mesh, not requests
        return

    def _refuse(self, error: MeshError) -> None:
        self._reply(error.status, error.as_dict())

    def _reply(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _authorised(self) -> bool:
        given = self.headers.get("Authorization", "").removeprefix("Bearer ")
        if secrets.compare_digest(given, self.token):
            return True
        self._refuse(MeshError("UNAUTHORIZED", "the admin token is needed"))
        return False

    def do_GET(self) -> None:  # http.server's naming
        if self._authorised():
            self._reply(HTTPStatus.OK, {"services": self.supervisor.status()})

    def do_POST(self) -> None:
        if not self._authorised():
            return
        parts = self.path.strip("/").split("/")
        if len(parts) != 3 or parts[0] != "services" or parts[2] not in {a.value for a in Action}:
            self._refuse(MeshError("NOT_FOUND", "POST /services/NAME/ACTION with ACTION one of start, stop, "
                                   "kill, restart"))
            return
        command = Command(action=Action(parts[2]), name=parts[1])
        self.supervisor.commands.put(command)
        if not command.done.wait(timeout=60):
            self._refuse(MeshError("LAUNCHER_BUSY", "no answer in 60 s"))
        elif command.error:
            self._refuse(MeshError("SERVICE_ACTION_REFUSED", command.error))
        elif command.action in (Action.START, Action.RESTART) and not self.supervisor.wait_up(command.name):
            self._refuse(MeshError("SERVICE_NOT_READY", f"{command.name} was started but is not ready after "
                                   f"{READY_WAIT_S:g} s; see its log"))
        else:
            self._reply(HTTPStatus.OK, {"services": {command.name: self.supervisor.watched[command.name].public()}})
