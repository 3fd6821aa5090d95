"""Build `.device/`: what issue #4's GPU check needs on the device machine and the machine lacks.

    .venv/bin/python scripts/device_bundle.py            # build (idempotent), then check
    .venv/bin/python scripts/device_bundle.py check      # check only (wheel tags, one version each, size)
    .venv/bin/python scripts/device_bundle.py smoke      # run benchmarks/device_check.sh here, in smoke mode
    python3 scripts/device_bundle.py preflight --data-dir DIR   # on the device (device_check.sh runs it)

The device machine (docs/VERIFIER.md, "GPU check (#4)") has Python 3.12, torch, transformers,
tokenizers, sentencepiece, pandas, pyarrow ... but not lm-eval, datasets or evaluate, and it reaches
no network; only the working tree travels, plus up to 8 ignored paths named in `carry` (64 MiB in
all), and `../shared` does not. So `.device/` (ignored by git; carried with `carry: [".device"]`)
holds:

- `wheels/`: lm-eval, datasets and evaluate at the versions of this project's venv, and every
  package of their dependency closure that the device lacks (one version each; pure Python wheels,
  downloaded for CPython 3.12 / manylinux x86_64, or built here from an sdist when PyPI has no
  wheel). fsspec is carried although the device has one, because datasets pins its version.
- `data.tar.xz`: a data directory with exactly what the 14M end-to-end run reads: the Llama-2
  tokenizer, the largest pre-training corpus (raw text; the token cache would be only ~8% smaller
  after compression and its key depends on the tokenizer's fingerprint under the device's
  transformers, so a cache miss would leave the run without a corpus), the lm-eval task YAMLs and
  the evaluation files they reference.
- `bundle.json`: what is in it, with sizes and hashes, and the version constraints that the
  carried packages put on packages the device already has (device_check.sh checks them there).

A rebuild only redoes what changed (the corpus compresses for minutes at xz -9).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata as md
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename

ROOT = Path(__file__).resolve().parent.parent
BUNDLE = ROOT / ".device"
WHEELS = BUNDLE / "wheels"
ARCHIVE = BUNDLE / "data.tar.xz"
INFO = BUNDLE / "bundle.json"
DATA_NAME = "genesys-data"  # the folder inside the archive
LIMIT = 64 * 2**20  # what the device tool carries: working tree + carried paths
SOFT_LIMIT = 48 * 2**20  # "well under" the limit: warn above this

ROOTS = ("lm_eval", "datasets", "evaluate")
# Carried although the device has them: a carried package pins a version the device may not have.
FORCE = {"fsspec"}  # datasets 5.x: fsspec<=2026.9.0
# The device image's Python packages ('cuda' image, read 2026-11-17; /work/.library/device/KINDS.md).
_DEVICE_PACKAGES = """
absl-py accelerate aiofiles aiohappyeyeballs aiohttp aiosignal annotated-doc anyio attrs botorch build certifi
charset-normalizer chex click cloudpickle cmake colorama contourpy coverage cuda-bindings cuda-core
cuda-pathfinder cuda-toolkit cupy-cuda13x cycler cython diffrax e3nn einops equinox etils execnet filelock
flatbuffers flax fonttools formulaic frozenlist fsspec gpytorch grpcio h11 h5py hf-xet httpcore httpx
huggingface-hub humanize hypothesis idna imageio iniconfig interface-meta jax jax-cuda13-pjrt jax-cuda13-plugin
jaxlib jaxtyping jinja2 joblib kiwisolver lazy-loader lightning lightning-utilities linear-operator lineax
llvmlite lxml markdown markdown-it-py markupsafe matplotlib mdurl meson ml-dtypes mpi4py mpmath msgpack
multidict multipledispatch mypy-extensions nanobind narwhals networkx ninja numba numba-cuda numpy numpyro
nvidia-cublas nvidia-cuda-cupti nvidia-cuda-nvrtc nvidia-cuda-runtime nvidia-cudnn-cu13 nvidia-cufft
nvidia-cufile nvidia-curand nvidia-cusolver nvidia-cusparse nvidia-cusparselt-cu13 nvidia-ml-py
nvidia-nccl-cu13 nvidia-nvjitlink nvidia-nvshmem-cu13 nvidia-nvtx onnx onnx-ir onnxruntime onnxscript
opencv-python-headless optax opt-einsum opt-einsum-fx optimistix orbax-checkpoint packaging pandas pathspec
patsy peft pillow pip pluggy portalocker prometheus-client propcache protobuf psutil pyarrow pybind11
py-cpuinfo pygments pyparsing pyproject-hooks pyre-extensions pytest pytest-benchmark pytest-cov pytest-mock
pytest-timeout pytest-xdist python-dateutil pytorch-lightning pyyaml regex requests rich sacrebleu safetensors
scikit-build-core scikit-image scikit-learn scipy seaborn sentencepiece sentence-transformers setuptools
shellingham simplejson six sortedcontainers statsmodels sympy tabulate tensorboard tensorboard-data-server
tensorstore threadpoolctl tifffile tiktoken timm tokenizers toolz torch torchaudio torchdiffeq torch-geometric
torchmetrics torchvision tqdm transformers treescope triton typer typing-extensions typing-inspect urllib3
uvloop wadler-lindig werkzeug wheel wrapt xarray xxhash yarl zipp
"""
DEVICE_SET = {canonicalize_name(n) for n in _DEVICE_PACKAGES.split()}
# Requirement markers are evaluated for the device: CPython 3.12 on Linux x86-64.
DEVICE_ENV = {
    "python_version": "3.12",
    "python_full_version": "3.12.3",
    "sys_platform": "linux",
    "os_name": "posix",
    "platform_machine": "x86_64",
    "platform_system": "Linux",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "extra": "",
}
PLATFORMS = (
    "manylinux_2_28_x86_64",
    "manylinux_2_27_x86_64",
    "manylinux_2_17_x86_64",
    "manylinux2014_x86_64",
)
DATA_PATH = re.compile(r"^\s*[\w-]+:\s*(eval/\S+?)\s*$")  # as verifier/core/train/evaluation.py reads them


def log(message: str) -> None:
    print(message, flush=True)


# ---- wheels -------------------------------------------------------------------------------------


def closure() -> tuple[dict[str, str], list[dict[str, str]]]:
    """({package: venv version} to carry, [constraints the carried packages put on device packages])."""
    carry: dict[str, str] = {}
    device_reqs: list[dict[str, str]] = []
    todo = list(ROOTS)
    while todo:
        name = canonicalize_name(todo.pop())
        if name in carry:
            continue
        dist = md.distribution(name)
        carry[name] = dist.version
        for text in dist.requires or []:
            req = Requirement(text)
            if req.marker is not None and not req.marker.evaluate(DEVICE_ENV):
                continue
            dep = canonicalize_name(req.name)
            if dep in DEVICE_SET and dep not in FORCE:
                if str(req.specifier):
                    device_reqs.append({"name": dep, "specifier": str(req.specifier), "required_by": name})
            else:
                todo.append(dep)
    for req in device_reqs:  # what this venv has satisfies them: the tested combination
        version = md.version(req["name"])
        if not Requirement(f"{req['name']}{req['specifier']}").specifier.contains(version, prereleases=True):
            raise SystemExit(f"venv's {req['name']} {version} does not satisfy {req} itself")
    return dict(sorted(carry.items())), device_reqs


def wheel_ok_for_device(filename: str) -> bool:
    """A pure wheel, or one built for CPython 3.12 on manylinux x86-64."""
    _, _, _, tags = parse_wheel_filename(filename)
    for tag in tags:
        interp_ok = tag.interpreter in ("py3", "py312", "cp312") or tag.interpreter == "py2.py3"
        abi_ok = tag.abi in ("none", "abi3", "cp312")
        plat_ok = tag.platform == "any" or (
            tag.platform.startswith("manylinux") and tag.platform.endswith("x86_64")
        )
        if interp_ok and abi_ok and plat_ok:
            return True
    return False


def _wheel_name_version(path: Path) -> tuple[str, str]:
    name, version, _, _ = parse_wheel_filename(path.name)
    return canonicalize_name(name), str(version)


def _pip(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True)


def fetch_wheel(name: str, version: str, dest: Path) -> Path:
    """The device's wheel of name==version in `dest`: downloaded, else built here from the sdist."""
    before = set(dest.glob("*.whl"))
    platforms = [arg for p in PLATFORMS for arg in ("--platform", p)]
    got = _pip(
        "download",
        "-q",
        "--no-deps",
        "--only-binary=:all:",
        "--python-version",
        "3.12",
        "--implementation",
        "cp",
        *platforms,
        "-d",
        str(dest),
        f"{name}=={version}",
    )
    if got.returncode != 0:  # no wheel on the index: build a (pure) one from the sdist
        with tempfile.TemporaryDirectory() as tmp:
            sdist = _pip("download", "-q", "--no-deps", "--no-binary=:all:", "-d", tmp, f"{name}=={version}")
            if sdist.returncode != 0:
                raise SystemExit(f"cannot get {name}=={version}:\n{got.stderr}\n{sdist.stderr}")
            archive = next(Path(tmp).iterdir())
            built = _pip("wheel", "-q", "--no-deps", "-w", str(dest), str(archive))
            if built.returncode != 0:
                raise SystemExit(f"cannot build a wheel of {name}=={version}:\n{built.stderr}")
    new = [p for p in set(dest.glob("*.whl")) - before if _wheel_name_version(p) == (name, version)]
    if len(new) != 1:
        raise SystemExit(f"expected one wheel of {name}=={version} in {dest}, found {new}")
    if not wheel_ok_for_device(new[0].name):
        new[0].unlink()
        raise SystemExit(f"{new[0].name} is not installable on the device (CPython 3.12, x86-64)")
    return new[0]


def build_wheels(carry: dict[str, str]) -> list[Path]:
    WHEELS.mkdir(parents=True, exist_ok=True)
    have = {_wheel_name_version(p): p for p in WHEELS.glob("*.whl")}
    for key, path in have.items():  # one version of each, and nothing that is no longer needed
        if carry.get(key[0]) != key[1]:
            log(f"  removing {path.name}")
            path.unlink()
    out = []
    for name, version in carry.items():
        path = have.get((name, version))
        if path is None or not path.exists():
            log(f"  fetching {name}=={version}")
            path = fetch_wheel(name, version, WHEELS)
        out.append(path)
    return sorted(out)


# ---- data ---------------------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def data_files(data_dir: Path) -> tuple[list[str], str]:
    """Paths (relative to the data directory) the 14M end-to-end run reads, and the corpus chosen."""
    corpora = [p for p in (data_dir / "corpora").iterdir() if p.is_dir()]
    corpus = max(corpora, key=_folder_bytes)  # the largest pre-training corpus
    files = [p for p in (data_dir / "tokenizers" / "llama2").rglob("*") if p.is_file()]
    files += [p for p in corpus.rglob("*") if p.is_file()]
    tasks = [p for p in (data_dir / "lm_eval_tasks").rglob("*") if p.is_file()]
    files += tasks
    for task in tasks:
        for line in task.read_text(errors="replace").splitlines():
            m = DATA_PATH.match(line)
            if m:
                target = data_dir / m.group(1)
                if not target.is_file():
                    raise SystemExit(f"{task} names {m.group(1)}, which is not in {data_dir}")
                files.append(target)
    rel = sorted({p.relative_to(data_dir).as_posix() for p in files})
    return rel, corpus.relative_to(data_dir).as_posix()


def build_data(data_dir: Path, previous: dict) -> dict:
    files, corpus = data_files(data_dir)
    listing = [
        {"path": f, "bytes": (data_dir / f).stat().st_size, "sha256": _sha256(data_dir / f)} for f in files
    ]
    digest = hashlib.sha256(json.dumps(listing, sort_keys=True).encode()).hexdigest()[:16]
    manifest = {"tokenizer": "tokenizers/llama2", "corpus": corpus, "tasks": "local"}
    if ARCHIVE.is_file() and previous.get("data", {}).get("digest") == digest:
        log(f"  {ARCHIVE.name} is up to date ({len(files)} files)")
        return previous["data"]
    log(f"  packing {len(files)} files ({sum(f['bytes'] for f in listing) / 2**20:.1f} MiB) with xz -9 ...")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        stage = Path(tmp) / DATA_NAME
        for rel in files:  # hard links where possible: nothing is copied twice
            target = stage / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(data_dir / rel, target)
            except OSError:
                shutil.copy2(data_dir / rel, target)
        # The data directory's own defaults (verify reads them; the shared folder uses the built-in ones).
        (stage / "genesys-data.json").write_text(json.dumps(manifest, indent=2) + "\n")
        (stage / "BUNDLE.json").write_text(
            json.dumps({"source": str(data_dir), "files": listing}, indent=1) + "\n"
        )
        partial = ARCHIVE.with_suffix(".partial")
        tar = [
            "tar",
            "-C",
            tmp,
            "--sort=name",
            "--mtime=@0",
            "--owner=0",
            "--group=0",
            "--numeric-owner",
            "--mode=u+rw,go+r",
            "-cf",
            "-",
            DATA_NAME,
        ]
        with open(partial, "wb") as out:
            packer = subprocess.Popen(tar, stdout=subprocess.PIPE)
            xz = subprocess.run(["xz", "-9", "-T0", "-c"], stdin=packer.stdout, stdout=out)
            packer.stdout.close()  # type: ignore[union-attr]
            if packer.wait() != 0 or xz.returncode != 0:
                raise SystemExit("tar | xz failed")
        partial.replace(ARCHIVE)
    log(
        f"  {ARCHIVE.name}: {ARCHIVE.stat().st_size / 2**20:.1f} MiB in {time.perf_counter() - started:.0f} s"
    )
    return {
        "archive": ARCHIVE.name,
        "folder": DATA_NAME,
        "digest": digest,
        "corpus": corpus,
        "files": len(files),
        "raw_bytes": sum(f["bytes"] for f in listing),
        "archive_bytes": ARCHIVE.stat().st_size,
        "manifest": manifest,
    }


# ---- checks -------------------------------------------------------------------------------------


def repo_bytes() -> int:
    """What travels besides `.device/`: tracked files and untracked files git does not ignore."""
    names = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    total = 0
    for name in filter(None, names):
        path = ROOT / os.fsdecode(name)
        if path.is_file() and not path.is_symlink():
            total += path.stat().st_size
    return total


def check() -> int:
    """Every wheel installable on the device, one version of each, data present, size under the limit."""
    problems = []
    wheels = sorted(WHEELS.glob("*.whl"))
    seen: dict[str, str] = {}
    for path in wheels:
        name, version = _wheel_name_version(path)
        if name in seen:
            problems.append(f"two versions of {name}: {seen[name]} and {version}")
        seen[name] = version
        if not wheel_ok_for_device(path.name):
            problems.append(f"{path.name} is not for CPython 3.12 / py3 on manylinux x86-64")
    for root in ROOTS:
        if canonicalize_name(root) not in seen:
            problems.append(f"no wheel of {root}")
    if not ARCHIVE.is_file():
        problems.append(f"no {ARCHIVE}")
    if not INFO.is_file():
        problems.append(f"no {INFO}")
    bundle = sum(p.stat().st_size for p in BUNDLE.rglob("*") if p.is_file())
    repo = repo_bytes()
    total = bundle + repo
    log(
        f"wheels: {len(wheels)} ({sum(p.stat().st_size for p in wheels) / 2**20:.1f} MiB): "
        + ", ".join(f"{n}=={v}" for n, v in seen.items())
    )
    if ARCHIVE.is_file():
        log(f"data:   {ARCHIVE.name} {ARCHIVE.stat().st_size / 2**20:.1f} MiB")
    log(
        f"size:   .device {bundle / 2**20:.1f} MiB + working tree {repo / 2**20:.1f} MiB = {total / 2**20:.1f} MiB "
        f"(the device tool carries at most {LIMIT / 2**20:.0f} MiB)"
    )
    if total > LIMIT:
        problems.append(f"{total / 2**20:.1f} MiB is over the {LIMIT / 2**20:.0f} MiB limit")
    elif total > SOFT_LIMIT:
        log(f"warning: over {SOFT_LIMIT / 2**20:.0f} MiB; little room is left")
    for problem in problems:
        log(f"PROBLEM: {problem}")
    log("bundle OK" if not problems else "bundle NOT OK")
    return 1 if problems else 0


# ---- build --------------------------------------------------------------------------------------


def build(data_dir: Path) -> int:
    if not (data_dir / "tokenizers" / "llama2").is_dir():
        raise SystemExit(f"no data directory at {data_dir} (set GENESYS_DATA_DIR)")
    BUNDLE.mkdir(exist_ok=True)
    previous = json.loads(INFO.read_text()) if INFO.is_file() else {}
    log("wheels (the venv's versions, for CPython 3.12):")
    carry, device_reqs = closure()
    wheels = build_wheels(carry)
    log("data:")
    data = build_data(data_dir, previous)
    info = {
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "wheels": [{"file": p.name, "bytes": p.stat().st_size, "sha256": _sha256(p)} for p in wheels],
        "device_requirements": device_reqs,
        "data": data,
    }
    if {k: v for k, v in info.items() if k != "built_at"} != {
        k: v for k, v in previous.items() if k != "built_at"
    }:
        INFO.write_text(json.dumps(info, indent=2) + "\n")
    return check()


# ---- on the device: is everything there? ---------------------------------------------------------


def preflight(data_dir: Path) -> int:
    """Run on the device before the end-to-end run (benchmarks/device_check.sh): the carried packages
    import (from the carried wheels), the device's own packages meet the carried ones' constraints,
    and the data directory (tokenizer, corpus, task files) is usable. Seconds, not minutes."""
    import importlib

    from packaging.specifiers import SpecifierSet

    started = time.perf_counter()
    problems: list[str] = []
    info = json.loads(INFO.read_text()) if INFO.is_file() else {}
    for req in info.get("device_requirements", []):
        try:
            version = md.version(req["name"])
        except md.PackageNotFoundError:
            problems.append(f"{req['name']} is missing ({req['required_by']} needs {req['specifier']})")
            continue
        if not SpecifierSet(req["specifier"]).contains(version, prereleases=True):
            problems.append(
                f"{req['name']} {version} does not meet {req['required_by']}'s {req['specifier']}"
            )
    for wheel in info.get("wheels", []):
        name, version = _wheel_name_version(Path(wheel["file"]))
        try:
            found = md.version(name)
        except md.PackageNotFoundError:
            found = None
        if found != version:
            problems.append(
                f"{name}: {found} is installed, the carried wheel is {version} (PYTHONPATH order?)"
            )
    for module in (
        "datasets",
        "evaluate",
        "lm_eval",
        "lm_eval.models.huggingface",
        "lm_eval.tasks",
        "transformers",
    ):
        try:
            imported = importlib.import_module(module)
            log(f"  import {module}: ok ({Path(imported.__file__ or '?').parent})")
        except Exception as exc:  # noqa: BLE001 - report every failure, not only the first
            problems.append(f"import {module}: {type(exc).__name__}: {exc}")
    try:
        from verifier.core.train.data import load_tokenizer
        from verifier.core.train.prepare_data import data_status

        ok, message = data_status(data_dir)
        log(f"  {message}")
        if not ok:
            problems.append(message)
        tok = load_tokenizer("tokenizers/llama2", data_dir)
        log(f"  tokenizer: {type(tok).__name__}, {len(tok)} tokens")
        if len(tok) != 32000:
            problems.append(f"the Llama-2 tokenizer has {len(tok)} tokens, not 32000")
    except Exception as exc:  # noqa: BLE001
        problems.append(f"{type(exc).__name__}: {exc}")
    for problem in problems:
        log(f"PREFLIGHT PROBLEM: {problem}")
    log(f"preflight {'OK' if not problems else 'FAILED'} ({time.perf_counter() - started:.0f} s)")
    return 1 if problems else 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "action", nargs="?", default="build", choices=("build", "check", "smoke", "preflight")
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(os.environ.get("GENESYS_DATA_DIR", ROOT.parent / "shared" / "data")),
    )
    parser.add_argument("--keep", action="store_true", help="smoke: keep /tmp/devsim afterwards")
    parser.add_argument("--modes", default="bench,e2e", help="smoke: device_check.sh modes, one call each")
    args = parser.parse_args()
    if args.action == "check":
        return check()
    if args.action == "preflight":
        return preflight(args.data_dir.resolve())
    if args.action == "smoke":
        from device_smoke import smoke

        return smoke(args.modes.split(","), args.keep)
    return build(args.data_dir.resolve())


if __name__ == "__main__":
    sys.exit(main())
