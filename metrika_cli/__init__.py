"""metrika: get, keep and diagnose Yandex Metrika API OAuth tokens."""

__version__ = "0.3.0"


def version_line() -> str:
    """What `metrika --version` prints, on the lean path and through the app alike."""
    return f"metrika {__version__}\n"
