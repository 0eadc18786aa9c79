"""Run a command that dies with the process that started it: ``python -m meshkit.child PARENT_PID -- CMD…``.

On Linux the kernel sends the command SIGTERM when its parent dies — however it dies, SIGKILL included
(``PR_SET_PDEATHSIG``) — so a killed launcher or test run leaves no service, broker or uvicorn behind to
hold the mesh's ports. The command replaces this process (exec), keeping its pid and process group.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def wrap(command: list[str]) -> list[str]:
    """``command``, to be started by this process and to die with it."""
    if not sys.platform.startswith("linux"):
        return command
    return [sys.executable, "-m", "meshkit.child", str(os.getpid()), "--", *command]


def main(argv: list[str]) -> None:
    parent, separator, command = argv[0], argv[1], argv[2:]
    if separator != "--" or not command:
        raise SystemExit("usage: python -m meshkit.child PARENT_PID -- COMMAND [ARG…]")
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM) != 0:
        raise SystemExit(f"prctl(PR_SET_PDEATHSIG) failed: errno {ctypes.get_errno()}")
    if os.getppid() != int(parent):  # the parent died before the request took effect
        raise SystemExit(0)
    os.execvp(command[0], command)  # noqa: S606 - the launcher's own command line


if __name__ == "__main__":
    main(sys.argv[1:])
