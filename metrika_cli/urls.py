"""Small facts about URLs, shared by the environment checks and the messages. Standard library only."""

from __future__ import annotations


def hide_userinfo(url: str) -> str:
    """The URL with any user:password replaced by ***: a proxy's or a base URL's secret is not ours to show."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    authority, slash, path = rest.partition("/")
    if "@" not in authority:
        return url
    host = authority.rpartition("@")[2]
    return f"{scheme}{sep}***@{host}{slash}{path}"


def is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
