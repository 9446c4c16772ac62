"""Loaded through PYTHONPATH by the DNS test: names under .invalid fail as an unknown host would,
without a query to the machine's resolver (tests send nothing beyond loopback)."""

import socket

_getaddrinfo = socket.getaddrinfo


def _offline_getaddrinfo(host, *args, **kwargs):
    name = host.decode() if isinstance(host, bytes) else str(host or "")
    if name.rstrip(".").endswith(".invalid"):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    return _getaddrinfo(host, *args, **kwargs)


socket.getaddrinfo = _offline_getaddrinfo
