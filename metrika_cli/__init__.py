"""metrika: get, keep and diagnose Yandex Metrika API OAuth tokens."""

__version__ = "0.1.0"
