"""clinic-app: an offline assistant for nurses and trial staff running myeloma protocols."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("clinic-app")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"
