"""Why a file could not be read or run, said in the user's language: the system's own words
(strerror) are English whatever the locale. Real files and folders: the tests run as root, so
a mode cannot deny them anything, but a folder, a missing path or a path under a file can."""

from __future__ import annotations

import errno
import os

import pytest
from conftest import TOKEN, run_metrika

from metrika_cli.os_errors import REASONS, os_reason

SYSTEM_WORDS = ("No such file or directory", "Is a directory", "Not a directory", "Permission denied")


def test_each_common_errno_has_metrika_s_own_words_and_the_rest_keep_the_system_s():
    for code, reason in REASONS.items():
        assert os_reason(OSError(code, os.strerror(code), "/some/path")) == reason
    assert os_reason(OSError(errno.EBUSY, os.strerror(errno.EBUSY))) == os.strerror(errno.EBUSY)
    assert os_reason(OSError("no errno at all")) == "OSError"
    assert os_reason(UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte")) == "it is not UTF-8 text"


def cases(tmp_path):
    """(arguments, environment, the path named, English reason, Russian reason, exit code)."""
    missing, folder, plain = tmp_path / "missing", tmp_path / "folder", tmp_path / "plain"
    folder.mkdir()
    plain.write_text("not a folder\n")
    return [
        (
            ["token"],
            {"METRIKA_TOKEN_FILE": str(missing)},
            missing,
            "no such file or folder",
            "нет такого файла или папки",
            2,
        ),
        (
            ["token"],
            {"METRIKA_TOKEN_FILE": str(folder)},
            folder,
            "it is a folder, not a file",
            "это папка, а не файл",
            2,
        ),
        (
            ["token"],
            {"METRIKA_TOKEN_FILE": str(plain / "t")},
            plain / "t",
            "a part of the path is not a folder",
            "часть пути — не папка",
            2,
        ),
        (
            ["api", "/x", "--input", str(folder)],
            {"METRIKA_TOKEN": TOKEN},
            folder,
            "it is a folder, not a file",
            "это папка, а не файл",
            2,
        ),
        (
            ["switch"],
            {"METRIKA_CONFIG_DIR": str(plain / "config")},
            plain / "config",
            "a part of the path is not a folder",
            "часть пути — не папка",
            1,
        ),
        (["exec", "--", str(folder)], {"METRIKA_TOKEN": TOKEN}, folder, "permission denied", "доступ запрещён", 126),
    ]


@pytest.mark.parametrize("index", range(6))
@pytest.mark.parametrize("language", ["en", "ru"])
def test_a_file_that_cannot_be_used_is_named_with_the_reason_in_the_user_s_language(tmp_path, metrika, language, index):
    args, environ, path, english, russian, code = cases(tmp_path)[index]
    run = run_metrika if args[0] == "exec" else metrika  # a real exec replaces the process it runs in
    result = run(*args, env={**environ, "METRIKA_LANG": language})
    assert result.code == code, result.stderr
    line = result.stderr.splitlines()[0]
    assert line.startswith("error: " if language == "en" else "ошибка: ")
    assert str(path) in line and (english if language == "en" else russian) in line, line
    assert not [words for words in SYSTEM_WORDS if words in result.output]
    assert "Traceback" not in result.output


def test_the_token_file_message_names_the_file_and_the_variable_once(tmp_path, metrika):
    missing = tmp_path / "missing"
    result = metrika("token", env={"METRIKA_TOKEN_FILE": str(missing)})
    assert result.stderr == (
        f"error: Cannot read the token file {missing} (from METRIKA_TOKEN_FILE): no such file or folder.\n"
    )
    russian = metrika("token", env={"METRIKA_TOKEN_FILE": str(missing), "METRIKA_LANG": "ru"})
    assert russian.stderr == (
        f"ошибка: Не удалось прочитать файл с токеном {missing} (из METRIKA_TOKEN_FILE): нет такого файла или папки.\n"
    )
