"""A verified design leaves the Studio: a Hugging Face model folder and a reproducibility bundle.

Everything here only writes files (composed source, copied weights, configuration, hashes); it
never imports or runs a design's code, so the web and worker processes may call it. Loading the
exported folder (which runs the design) is for the user's own process, or the tests.
"""

from .bundle import BUNDLE_SUFFIX, make_bundle, read_bundle
from .hf_folder import ExportError, export_run
from .hub import push_to_hub

__all__ = ["BUNDLE_SUFFIX", "ExportError", "export_run", "make_bundle", "push_to_hub", "read_bundle"]
