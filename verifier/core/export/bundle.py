"""The reproducibility bundle of a verification: one .tar.gz that reruns it.

    bundle.json          format, design, rung, seed, the verify options (`overrides`), command lines
    design.json          the GAU tree;  composed.py: the module that was trained
    config.json          the report's exact configuration (rung, verify, train)
    data_manifest.json   every data file read, with size and SHA-256 (data_manifest.py)
    versions.json        package versions of the run (and of whoever made the bundle)
    report.json          the original report: the loss curve a rerun is compared with
    README.md            how to rerun

`python -m verifier.core verify --from-bundle B --out DIR` reruns it (rerun.py). Reading a bundle
accepts only these regular files, never paths, links or anything else a hostile archive may carry.
"""

from __future__ import annotations

import dataclasses
import io
import json
import platform
import shlex
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..gau.composer import compose
from ..gau.tree import GAUTree
from ..train.data import DataConfig
from ..train.ladder import get_rung
from ..train.report import VerificationReport
from ..train.verify import RUNG_FIELDS, VerifyConfig, _versions
from .run_folder import read_run_folder

BUNDLE_FORMAT = "genesys.repro-bundle/1"
BUNDLE_SUFFIX = ".tar.gz"
MEMBERS = ("bundle.json", "design.json", "composed.py", "config.json", "data_manifest.json", "versions.json",
           "report.json", "README.md")
MAX_MEMBER_BYTES = 64 * 2**20
# Options that describe the machine, not the experiment: the rerun's own values apply.
MACHINE_OPTIONS = frozenset({"device", "cache_dir", "show_bar", "threads"})


class BundleError(ValueError):
    """Not a readable bundle, or one whose data this machine lacks."""


@dataclass
class Bundle:
    manifest: dict[str, Any]  # bundle.json
    tree: GAUTree
    composed: str
    config: dict[str, Any]
    data: dict[str, Any]
    versions: dict[str, Any]
    report: VerificationReport

    @property
    def rung(self) -> str:
        return str(self.manifest["rung"])

    @property
    def overrides(self) -> dict[str, Any]:
        return verify_overrides_from_json(self.manifest["overrides"])


def rerun_overrides(report: VerificationReport) -> dict[str, Any]:
    """`verify_design` options that repeat the report's run: its VerifyConfig (less the machine's own
    settings), the rung's fields that differ from the ladder's, and the corpus and tokenizer read."""
    verify = dict(report.config.get("verify") or {})
    out: dict[str, Any] = {k: v for k, v in verify.items() if k not in MACHINE_OPTIONS and k != "data"}
    if verify.get("data"):
        out["data"] = dict(verify["data"])
    else:
        out["corpus"], out["tokenizer"] = report.data["corpus"], report.data["tokenizer"]
    base = get_rung(report.rung).to_dict()
    for key, value in (report.config.get("rung") or {}).items():
        if key in RUNG_FIELDS and value != base.get(key):
            out[key] = value
    return out


def verify_overrides_from_json(data: dict[str, Any]) -> dict[str, Any]:
    """JSON -> the Python values verify_design expects (tuples, DataConfig)."""
    out = dict(data)
    for key in ("tasks",):
        if isinstance(out.get(key), list):
            out[key] = tuple(out[key])
    if isinstance(out.get("data"), dict):
        out["data"] = DataConfig(**out["data"])
    return out


def command_line(design_file: str, rung: str, seed: int, overrides: dict[str, Any], out: str = "OUT") -> str:
    """The `verify` command equivalent to the run (options that differ from the defaults as --set)."""
    defaults = dataclasses.asdict(VerifyConfig())
    args = ["python", "-m", "verifier.core", "verify", design_file, "--rung", rung, "--out", out, "--seed", str(seed)]
    for key, value in sorted(overrides.items()):
        if key == "seed" or (key in defaults and defaults[key] == value):
            continue
        args += ["--set", f"{key}={json.dumps(value)}"]
    return shlex.join(args)


def make_bundle(run_dir: Path, out: Path, design: GAUTree | str | Path | None = None,
                data_dir: Path | None = None) -> Path:
    """Write the bundle of the verification in `run_dir` to `out` (a .tar.gz); returns `out`."""
    from .data_manifest import build_manifest

    run = read_run_folder(Path(run_dir), design, need_weights=False)
    report = run.report
    overrides = rerun_overrides(report)
    skip_eval = bool(overrides.get("skip_eval"))
    manifest = {
        "format": BUNDLE_FORMAT, "design_name": report.design_name, "design_hash": report.design_hash,
        "rung": report.rung, "seed": report.seed, "overrides": overrides,
        "command": command_line("design.json", report.rung, report.seed, overrides),
        "rerun": f"python -m verifier.core verify --from-bundle {Path(out).name} --out OUT",
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    versions = {"run": report.versions, "bundled_by": {**_versions(), "python": platform.python_version(),
                                                       "platform": platform.platform()}}
    files = {
        "bundle.json": _json(manifest),
        "design.json": run.tree.to_json() + "\n",
        "composed.py": compose(run.tree),
        "config.json": _json(report.config),
        "data_manifest.json": _json(build_manifest(report.data, data_dir, with_eval=not skip_eval)),
        "versions.json": _json(versions),
        "report.json": report.to_json() + "\n",
        "README.md": _readme(manifest),
    }
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".partial")
    with tarfile.open(tmp, "w:gz") as tar:
        for name in MEMBERS:
            payload = files[name].encode()
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(payload), int(time.time()), 0o644
            tar.addfile(info, io.BytesIO(payload))
    tmp.replace(out)
    return out


def read_bundle(path: Path) -> Bundle:
    """The bundle at `path`; BundleError for anything that is not one."""
    try:
        with tarfile.open(path, "r:gz") as tar:
            texts = {}
            for info in tar.getmembers():
                if info.name not in MEMBERS or not info.isfile() or info.size > MAX_MEMBER_BYTES:
                    raise BundleError(f"unexpected member {info.name!r} in {path}")
                fh = tar.extractfile(info)
                texts[info.name] = fh.read().decode() if fh else ""
    except (OSError, tarfile.TarError, EOFError, UnicodeDecodeError) as exc:
        raise BundleError(f"{path} is not a readable bundle: {exc}") from exc
    missing = [m for m in MEMBERS if m not in texts]
    if missing:
        raise BundleError(f"{path} lacks {', '.join(missing)}")
    try:
        manifest = json.loads(texts["bundle.json"])
        if manifest.get("format") != BUNDLE_FORMAT:
            raise BundleError(f"unknown bundle format {manifest.get('format')!r} (expected {BUNDLE_FORMAT!r})")
        tree = GAUTree.from_json(texts["design.json"])
        bundle = Bundle(manifest=manifest, tree=tree, composed=texts["composed.py"],
                        config=json.loads(texts["config.json"]), data=json.loads(texts["data_manifest.json"]),
                        versions=json.loads(texts["versions.json"]),
                        report=VerificationReport.from_dict(json.loads(texts["report.json"])))
    except (ValueError, TypeError, KeyError) as exc:
        if isinstance(exc, BundleError):
            raise
        raise BundleError(f"{path}: {type(exc).__name__}: {exc}") from exc
    if tree.content_hash() != manifest.get("design_hash"):
        raise BundleError(f"{path}: design.json does not hash to the bundle's design_hash")
    return bundle


def _json(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True, default=str) + "\n"


def _readme(manifest: dict[str, Any]) -> str:
    return (f"# Reproducibility bundle: {manifest['design_name']} at rung {manifest['rung']}\n\n"
            f"Rerun (needs Genesys Studio and the data directory named by data_manifest.json):\n\n"
            f"    {manifest['rerun']}\n\n"
            f"Equivalent verify command:\n\n    {manifest['command']}\n\n"
            "The rerun checks every data file's SHA-256 first and compares its loss curve with report.json.\n")
