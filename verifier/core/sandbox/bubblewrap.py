"""The bubblewrap command line: namespaces, the read-only system view, then the caller's binds.

Mount order matters: /proc, /dev and the private /tmp come first and the binds after them, so a
Python installation, checkout or run folder that lives under /tmp stays visible (a tmpfs mounted
later would hide it).
"""

from __future__ import annotations

import glob
import os
import shutil
import site
import sys
from pathlib import Path

PACKAGE_PARENT = str(Path(__file__).resolve().parents[3])  # the directory holding `verifier/`
PACKAGE_DIR = str(Path(__file__).resolve().parents[1])  # verifier/core
HOSTNAME = "genesys-sandbox"

Bind = tuple[str, str, str]  # (bubblewrap option, host path, path inside)


def python_roots() -> list[str]:
    """The directories this interpreter and its packages live in (outermost only)."""
    roots = {
        sys.base_prefix,
        sys.prefix,
        sys.exec_prefix,
        sys.base_exec_prefix,
        str(Path(os.path.realpath(sys.executable)).parent.parent),
    }
    roots.update(p for p in site.getsitepackages() if os.path.isdir(p))
    out: list[str] = []
    for root in sorted(roots, key=len):
        if os.path.isdir(root) and not any(root == o or root.startswith(o.rstrip("/") + "/") for o in out):
            out.append(root)
    return out


def package_binds() -> list[Bind]:
    """Python and this package (verifier/core and verifier/__init__.py), read-only."""
    binds: list[Bind] = [("--ro-bind", r, r) for r in python_roots() if not r.startswith("/usr/")]
    binds.append(("--ro-bind", PACKAGE_DIR, PACKAGE_DIR))
    init = os.path.join(PACKAGE_PARENT, "verifier", "__init__.py")
    if os.path.isfile(init):
        binds.append(("--ro-bind", init, init))
    return binds


def gpu_binds() -> list[Bind]:
    """NVIDIA device nodes and what the driver reads in /sys; empty on a host without them."""
    binds: list[Bind] = [("--dev-bind", dev, dev) for dev in sorted(glob.glob("/dev/nvidia*"))]
    if binds:
        for path in ("/sys/bus/pci", "/sys/devices", "/sys/module/nvidia", "/proc/driver/nvidia"):
            if os.path.exists(path) and not path.startswith("/proc/"):
                binds.append(("--ro-bind", path, path))
    return binds


def _bind_args(binds: list[Bind]) -> list[str]:
    """bubblewrap arguments for the binds, creating missing parent directories 0755."""
    args: list[str] = []
    made: set[str] = {"/", "/tmp", "/dev", "/proc", "/usr"}
    for kind, source, dest in binds:
        for parent in reversed(Path(dest).parents):
            text = str(parent)
            if text not in made:
                args += ["--perms", "0755", "--dir", text]
                made.add(text)
        args += [kind, source, dest]
        made.add(dest)
    return args


def bubblewrap_command(binds: list[Bind], *, root: bool, tmp_size_mb: int = 64, shm_size_mb: int = 1,
                       chdir: str = "/tmp") -> list[str]:
    """`bwrap ...` up to (not including) the command; `binds` come on top of the system view."""
    exe = shutil.which("bwrap") or "bwrap"
    args = [exe, "--die-with-parent", "--new-session", "--unshare-pid", "--unshare-net", "--unshare-ipc",
            "--unshare-uts", "--unshare-cgroup-try", "--hostname", HOSTNAME]
    if root:
        # Without a user namespace bubblewrap would keep root's capabilities: keep only what the
        # child needs to switch to its own uid, which then drops them all.
        args += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    else:
        args += ["--unshare-user"]
    args += ["--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib64", "/lib32"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    for etc in ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime"):
        args += ["--ro-bind-try", etc, etc]
    # First the private mounts, then the binds (some of which may live under /tmp).
    args += ["--proc", "/proc", "--dev", "/dev",
             "--perms", "1777", "--size", str(tmp_size_mb * 1024 * 1024), "--tmpfs", "/tmp",
             "--perms", "1777", "--size", str(shm_size_mb * 1024 * 1024), "--tmpfs", "/dev/shm"]
    args += _bind_args(package_binds() + binds)
    args += ["--chdir", chdir]
    return args
