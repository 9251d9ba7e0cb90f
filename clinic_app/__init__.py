"""clinic-app: an offline assistant for nurses and trial staff running myeloma protocols."""


def __getattr__(name: str) -> str:
    """``clinic_app.__version__``, read from the installed metadata on first use: importing
    ``importlib.metadata`` costs about 50 ms, which every start would pay (issue 16)."""
    if name != "__version__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("clinic-app")
    except PackageNotFoundError:  # running from a source tree that was never installed
        found = "0.0.0+source"
    globals()["__version__"] = found
    return found
