"""What a sandboxed child does to itself before it runs anything untrusted: lower its rlimits and
give up root for the fresh uid its parent picked."""

from __future__ import annotations

import os
from typing import Any


def apply_limits(limits: dict[str, Any]) -> None:
    """Processes, file size, open files, CPU seconds (soft, then SIGKILL 5 s later), no core dumps."""
    import resource

    wanted = {
        "RLIMIT_NPROC": limits.get("processes"),
        "RLIMIT_FSIZE": limits.get("file_size"),
        "RLIMIT_NOFILE": limits.get("open_files"),
        "RLIMIT_CORE": 0,
    }
    for name, value in wanted.items():
        if value is None or not hasattr(resource, name):
            continue
        res = getattr(resource, name)
        _, hard = resource.getrlimit(res)
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        resource.setrlimit(res, (value, value))
    cpu = limits.get("cpu_seconds")
    if cpu is not None:
        resource.setrlimit(resource.RLIMIT_CPU, (int(cpu), int(cpu) + 5))


def drop_privileges(uid: int | None, gid: int | None) -> None:
    """Become the sandbox's own unprivileged user (the parent picked a fresh uid for this child)."""
    if uid is None or os.getuid() != 0:
        return
    os.setgroups([])
    os.setgid(gid if gid is not None else uid)
    os.setuid(uid)
    if os.getuid() != uid or os.geteuid() != uid:
        raise SystemExit("could not drop privileges")
