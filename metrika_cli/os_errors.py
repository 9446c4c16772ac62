"""Why a file could not be read, written or run, in the user's language. The system's own words
(`strerror`) are English whatever the locale, so the usual reasons are metrika's messages; the
rest fall back to the system's words. Standard library only: the lean path uses it."""

from __future__ import annotations

import errno

from .i18n import N_, _

REASONS = {
    errno.ENOENT: N_("no such file or folder"),
    errno.EACCES: N_("permission denied"),
    errno.EPERM: N_("operation not permitted"),
    errno.EISDIR: N_("it is a folder, not a file"),
    errno.ENOTDIR: N_("a part of the path is not a folder"),
    errno.ENOSPC: N_("no space left on the device"),
    errno.EDQUOT: N_("the disk quota is exceeded"),
    errno.EFBIG: N_("the file is too large"),
    errno.EROFS: N_("the file system is read-only"),
    # metrika opens its own files with O_NOFOLLOW: a symbolic link there fails with ELOOP too
    errno.ELOOP: N_("it is a symbolic link, or a loop of them"),
    errno.EEXIST: N_("it already exists"),
    errno.EIO: N_("input/output error (a failing disk or a lost network share)"),
    errno.ENAMETOOLONG: N_("the name is too long"),
    errno.ENOEXEC: N_("it is not a program this system can run"),
    errno.ETXTBSY: N_("the file is busy"),
    errno.EMFILE: N_("too many open files"),
    errno.ENFILE: N_("too many open files"),
}


def os_reason(exc: BaseException) -> str:
    """The reason `exc` gives, fit to follow "Cannot read {path}: "; a file that is not UTF-8
    (a UnicodeError) is one more reason."""
    if isinstance(exc, UnicodeError):
        return _("it is not UTF-8 text")
    reason = REASONS.get(getattr(exc, "errno", None) or 0)
    if reason:
        return _(reason)
    return getattr(exc, "strerror", None) or exc.__class__.__name__
