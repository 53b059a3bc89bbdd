"""Which process holds a lock (host, pid, when it started) and whether a recorded one is provably gone.

A process is told apart from a later one that reuses its pid by its start time, read from Linux's
/proc/<pid>/stat (clock ticks after boot), tagged with the kernel's boot id and the pid namespace it was read in:
`<first 8 hex digits of the boot id>.<pid namespace inode>.<start ticks>`. Only a holder recorded on this host, in
this boot and this pid namespace can be proven dead; anywhere else (another host, a container with its own pids, a
reboot, a system without /proc) the answer is "cannot tell" and its lock waits for its lease to expire.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from functools import cache
from pathlib import Path

PROC = Path("/proc")
EXITED_STATES = {"Z", "X"}
"""A zombie (exited, not yet reaped by its parent) or a dying process: gone as far as a lock is concerned."""


@dataclass(frozen=True)
class ProcessIdentity:
    """A process as a lock records it: host name, pid, and its start (None where this system cannot tell)."""

    host: str
    pid: int
    started: str | None


def this_process() -> ProcessIdentity:
    """This process, as a lock it takes records it."""
    return identity_of(os.getpid())


def identity_of(pid: int) -> ProcessIdentity:
    """A running process of this host, as a lock it took would record it."""
    view = kernel_view()
    ticks = _start_ticks(pid)
    started = f"{view}.{ticks[1]}" if view is not None and ticks is not None else None
    return ProcessIdentity(socket.gethostname(), pid, started)


@cache
def kernel_view() -> str | None:
    """`<boot id prefix>.<pid namespace inode>`: equal for two processes only when a pid names the same process
    for both."""
    try:
        boot = (PROC / "sys/kernel/random/boot_id").read_text().strip().replace("-", "")[:8]
        namespace = os.readlink(PROC / "self/ns/pid")  # "pid:[4026531836]"
    except OSError:
        return None
    inode = namespace.partition("[")[2].rstrip("]")
    return f"{boot}.{inode}" if boot and inode.isdigit() else None


def gone_because(recorded: ProcessIdentity) -> str | None:
    """Why the recorded process is provably no longer running ("its process 4242 on this host is gone"), or None when
    it runs or this process cannot tell (another host, boot or pid namespace; nothing recorded; /proc unreadable)."""
    view = kernel_view()
    if recorded.started is None or view is None or recorded.pid <= 0 or recorded.host != socket.gethostname():
        return None
    recorded_view, _, recorded_ticks = recorded.started.rpartition(".")
    if recorded_view != view:
        return None
    where = f"its process {recorded.pid} on this host"
    try:
        os.kill(recorded.pid, 0)
    except ProcessLookupError:
        return f"{where} is gone"
    except PermissionError:
        pass  # it exists, run by another user: /proc says whether it is the same process
    ticks = _start_ticks(recorded.pid)
    if ticks is None:
        return None
    state, started = ticks
    if started != recorded_ticks:
        return f"{where} is gone (the pid now belongs to a process started later)"
    if state in EXITED_STATES:
        return f"{where} has exited"
    return None


def _start_ticks(pid: int) -> tuple[str, str] | None:
    """The process's state letter and its start time in clock ticks after boot, or None when /proc cannot say."""
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2:].split()  # after "pid (command name)": the name may hold spaces and ")"
    if len(fields) < 20 or not fields[19].isdigit():
        return None
    return fields[0], fields[19]
