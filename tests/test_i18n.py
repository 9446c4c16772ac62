"""Russian for Russian-speaking users: complete, compiled catalogs, and the CLI speaking them."""

from __future__ import annotations

import importlib.util
import io
import json
import re
import string
import subprocess
import sys
from gettext import GNUTranslations
from pathlib import Path

import click
import pytest
from conftest import CLIENT_ID, TOKEN, call_metrika, run_metrika

from metrika_cli.app import click_command
from metrika_cli.i18n import detect_language

ROOT = Path(__file__).resolve().parent.parent
CYRILLIC = re.compile("[а-яё]", re.IGNORECASE)
RUSSIAN = {"METRIKA_LANG": "", "LANG": "ru_RU.UTF-8"}
# What a translation must carry over verbatim: commands in backticks, options, env vars, URLs.
VERBATIM = re.compile(r"`[^`]*`|(?<![\w-])--[a-z][a-z-]*|\b[A-Z][A-Z0-9]*_[A-Z0-9_]+\b|https?://[^\s)»]*[^\s).,»]")
SAME_IN_EVERY_LANGUAGE = ("schema", "ok", "diagnosis", "exit_code", "profile", "token", "identity", "api", "counters")


def load_script():
    spec = importlib.util.spec_from_file_location("i18n_script", ROOT / "scripts" / "i18n.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["i18n_script"] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


tool = load_script()
RU_PO = tool.LOCALE / "ru" / "LC_MESSAGES" / "metrika.po"


def ru_entries():
    return [entry for entry in tool.parse_po(RU_PO.read_text(encoding="utf-8")) if entry.msgid and not entry.obsolete]


def fields(text: str) -> list[tuple[str, str, str]]:
    """The {placeholders} of a format string: name, conversion and format spec."""
    return sorted(
        (name, conversion or "", spec or "")
        for _literal, name, spec, conversion in string.Formatter().parse(text)
        if name is not None
    )


# ---- the catalogs ----------------------------------------------------------------------


def test_every_message_in_the_code_has_a_russian_translation():
    messages, problems = tool.extract()
    assert not problems
    assert len(messages) > 150  # the walker found the code's messages, not an empty package
    translated = {entry.key for entry in ru_entries() if entry.translated}
    missing = sorted(key[0] for key in messages if key not in translated)
    assert not missing, f"untranslated (run scripts/i18n.py extract, then translate): {missing}"


def test_the_template_lists_exactly_the_messages_in_the_code():
    messages, _problems = tool.extract()
    template = {entry.key for entry in tool.parse_po(tool.POT.read_text(encoding="utf-8")) if entry.msgid}
    assert template == set(messages)


def test_the_committed_mo_is_the_compiled_po():
    committed = RU_PO.with_suffix(".mo").read_bytes()
    assert committed == tool.compile_mo(tool.parse_po(RU_PO.read_text(encoding="utf-8"))), (
        "stale .mo: run `python scripts/i18n.py compile`"
    )


def test_python_gettext_reads_every_translation_from_the_compiled_mo():
    translations = GNUTranslations(io.BytesIO(RU_PO.with_suffix(".mo").read_bytes()))
    assert translations.info()["content-type"] == "text/plain; charset=UTF-8"
    for entry in ru_entries():
        assert translations.gettext(entry.msgid) == entry.msgstr[0]


def test_translations_keep_the_placeholders_of_their_message():
    for entry in ru_entries():
        for text in entry.msgstr:
            assert fields(text) == fields(entry.msgid), entry.msgid
            positional = ["x"] * sum(1 for name, _c, _s in fields(text) if not name)  # Typer's "[default: {}]"
            text.format(
                *positional,
                **{name: "x" for name, _c, _s in fields(text) if name and not _s},
                **{name: 1.5 for name, _c, spec in fields(text) if name and spec},
            )


def test_translations_keep_commands_options_variables_and_addresses_verbatim():
    for entry in ru_entries():
        assert sorted(VERBATIM.findall(entry.msgstr[0])) == sorted(VERBATIM.findall(entry.msgid)), entry.msgid


# The services' names in Latin, where Russian names them «Метрика», «Яндекс Метрика», «Яндекс ID»...
LATIN_NAME = re.compile(r"Metri[kc]a|Yandex")
# ...but for the places Latin belongs: commands in backticks, addresses, host names, variables.
LATIN_PLACES = re.compile(r"`[^`]*`|https?://\S+|\b[a-z0-9-]+(?:\.[a-z0-9-]+)+\b|\b[A-Z][A-Z0-9]*_[A-Z0-9_]+\b")


def latin_service_names(text: str) -> list[str]:
    return LATIN_NAME.findall(LATIN_PLACES.sub(" ", text))


def test_the_latin_name_check_tells_a_name_in_prose_from_a_command_an_address_or_a_host():
    assert latin_service_names("Сервис Metrika отклонил запрос") == ["Metrika"]
    assert latin_service_names("в Yandex ID и «Yandex.Metrica»") == ["Yandex", "Yandex", "Metrica"]
    assert latin_service_names("`metrika login`, https://metrika.yandex.ru/list, api-metrika.yandex.net") == []
    assert latin_service_names("METRIKA_TOKEN, `Authorization: OAuth <token>`, metrika:read, metrika") == []


def test_russian_names_metrika_and_yandex_in_cyrillic():
    latin = {entry.msgid: text for entry in ru_entries() for text in entry.msgstr if latin_service_names(text)}
    assert latin == {}
    translated = {entry.msgid: entry.msgstr[0] for entry in ru_entries()}
    assert (translated["Metrika"], translated["Yandex ID"]) == ("Яндекс Метрика", "Яндекс ID")


def test_a_russian_network_error_names_the_service_in_cyrillic(fake, metrika):
    from conftest import closed_port

    nowhere = {"METRIKA_API_URL": f"http://127.0.0.1:{closed_port()}", "METRIKA_TOKEN": TOKEN}
    result = metrika("check-access", "--json", env={**RUSSIAN, **nowhere})
    summary = json.loads(result.stdout)["summary"]
    assert (result.code, summary.split(":")[0]) == (6, "Сетевая ошибка при обращении к сервису Яндекс Метрика")
    english = json.loads(metrika("check-access", "--json", env=nowhere).stdout)["summary"]
    assert english.startswith("Network error talking to Metrika: ")


def test_a_russian_verdict_quotes_permissions_in_russian_quotes(fake, metrika):
    fake.accounts[TOKEN].counters.append({"id": 404, "name": "Stats", "permission": "view"})
    result = metrika("check-access", "202", "404", "--need", "write", "--json", env={**RUSSIAN, "METRIKA_TOKEN": TOKEN})
    summary = json.loads(result.stdout)["summary"]
    assert "доступ только на чтение («view»)" in summary and '"' not in summary


@pytest.mark.parametrize(
    "language, error, warning", [("en", "error: ", "warning: "), ("ru", "ошибка: ", "предупреждение: ")]
)
def test_usage_errors_and_metrika_s_own_errors_and_warnings_have_one_prefix(metrika, language, error, warning):
    environ = {"METRIKA_LANG": language}
    usage = metrika("whoami", "--bogus", env=environ)  # worded by click
    app = metrika("--profile", "a b", "whoami", env=environ)  # by metrika, in the app
    lean = metrika("token", env=environ)  # by metrika, on the lean path
    assert (usage.code, app.code, lean.code) == (2, 2, 3)
    assert usage.stderr.splitlines()[-1].startswith(error + ("No such option" if language == "en" else "Нет такого"))
    assert app.stderr.startswith(error) and lean.stderr.startswith(error)
    warned = metrika("logout", env={**environ, "METRIKA_TOKEN": TOKEN})
    assert warned.code == 0 and warned.stderr.splitlines()[-1].startswith(warning)


def test_translations_are_russian_and_name_the_russian_interface():
    translated = {entry.msgid: entry.msgstr[0] for entry in ru_entries()}
    english_only = [msgid for msgid, text in translated.items() if not CYRILLIC.search(text)]
    # "Redirect URI": the field is called so in the Russian oauth.yandex.ru too; a permission in
    # quotes is Metrika's word (view, edit) in Russian quotes.
    assert sorted(english_only) == sorted(['"{permission}"', "Redirect URI: {uri}"])
    assert translated['"{permission}"'] == "«{permission}»"
    assert (
        "«Разрешить»"
        in translated['Open this address, sign in as the account whose counters you need, and press "Allow":']
    )
    assert "«Веб-сервисы»" in translated['Name: anything, e.g. "metrika". Platform: "Web services".']
    grant = translated[
        "Ask the counter's owner to grant access: https://metrika.yandex.ru/settings?id={id} → "
        '"Access" → "Add user", login {login}, level {level}.'
    ]
    assert "«Доступы» → «Добавить пользователя»" in grant
    assert translated['"View"'] == "«Просмотр»" and translated['"Edit"'] == "«Редактирование»"
    assert "«Доступ к данным»" in translated['Under "Data access", find Yandex Metrica and tick {scope}; save.']
    assert {translated[word] for word in ("passed", "failed", "skipped")} == {"выполнено", "не выполнено", "пропущено"}


def test_the_check_command_passes_on_the_committed_catalogs():
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "i18n.py"), "check"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr


def test_a_non_editable_install_ships_the_compiled_catalogs():
    import fnmatch
    import tomllib

    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"][
        "package-data"
    ]["metrika_cli"]
    shipped = RU_PO.with_suffix(".mo").relative_to(ROOT / "metrika_cli").as_posix()
    assert any(fnmatch.fnmatch(shipped, pattern) for pattern in package_data)


# ---- the tool itself -------------------------------------------------------------------


def test_extract_takes_literals_from_each_marker_and_flags_f_strings(tmp_path):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "a.py").write_text(
        "from .i18n import _, N_, ngettext\n"
        'LABEL = N_("a label")\n'
        'print(_("Hello {name}").format(name="x"), _(LABEL), _("Hello {name}"))\n'
        'print(ngettext("{n} counter", "{n} counters", 2))\n'
        'print(_(f"no {LABEL}"))\n',
        encoding="utf-8",
    )
    messages, problems = tool.extract(package)
    assert messages == {
        ("a label", None): ["pkg/a.py:2"],
        ("Hello {name}", None): ["pkg/a.py:3", "pkg/a.py:3"],
        ("{n} counter", "{n} counters"): ["pkg/a.py:4"],
    }
    assert problems == ["pkg/a.py:5: an f-string in _() cannot be translated; use .format()"]


def test_merge_keeps_translations_adds_new_messages_and_marks_lost_ones_obsolete():
    old = [
        tool.Entry("kept", msgstr=["сохранено"]),
        tool.Entry("gone", msgstr=["удалено"]),
        tool.Entry("never translated", msgstr=[""]),
    ]
    merged = tool.merge(
        {("kept", None): ["x.py:1"], ("new", None): ["x.py:2"], ("{n} day", "{n} days"): ["x.py:3"]}, old, "ru"
    )
    by_id = {entry.msgid: entry for entry in merged}
    assert by_id["kept"].msgstr == ["сохранено"] and not by_id["kept"].obsolete
    assert by_id["new"].msgstr == [""] and not by_id["new"].translated
    assert by_id["{n} day"].msgstr == ["", "", ""]  # three plural forms in Russian
    assert by_id["gone"].obsolete and "never translated" not in by_id
    assert "Plural-Forms: nplurals=3" in by_id[""].msgstr[0]
    assert tool.compile_mo(merged) == tool.compile_mo(tool.parse_po(tool.format_po(merged)))


def test_po_text_survives_a_round_trip_with_quotes_backslashes_newlines_and_plurals():
    entries = [
        tool.header("ru"),
        tool.Entry('say "hi" \\ {x}', msgstr=["скажи «привет» \\ {x}"], references=["a.py:1", "b.py:2"]),
        tool.Entry("two\nlines\n", msgstr=["две\nстроки\n"], flags=["fuzzy"]),
        tool.Entry("{n} day", "{n} days", ["{n} день", "{n} дня", "{n} дней"]),
        tool.Entry("old", msgstr=["старое"], obsolete=True),
    ]
    assert tool.parse_po(tool.format_po(entries)) == entries
    translations = GNUTranslations(io.BytesIO(tool.compile_mo(entries)))
    assert translations.ngettext("{n} day", "{n} days", 3) == "{n} дня"
    assert translations.ngettext("{n} day", "{n} days", 11) == "{n} дней"
    assert translations.gettext("two\nlines\n") == "two\nlines\n"  # fuzzy: not compiled
    assert translations.gettext("old") == "old"  # obsolete: not compiled


@pytest.mark.parametrize(
    "environ, language",
    [
        ({"METRIKA_LANG": "ru"}, "ru"),
        ({"METRIKA_LANG": "en", "LANG": "ru_RU.UTF-8"}, "en"),
        ({"METRIKA_LANG": "", "LANG": "ru_RU.UTF-8"}, "ru"),
        ({"LC_ALL": "C.UTF-8", "LANG": "ru_RU.UTF-8"}, "en"),
        ({"LC_MESSAGES": "ru_UA.UTF-8", "LANG": "en_US.UTF-8"}, "ru"),
        ({}, "en"),
    ],
)
def test_the_language_is_metrika_lang_else_the_first_locale_variable(environ, language):
    assert detect_language(environ) == language


# ---- the CLI ---------------------------------------------------------------------------


def test_a_russian_locale_gives_the_diagnosis_in_russian(metrika):
    result = metrika("check-access", env=RUSSIAN)
    assert result.code == 3
    assert "no_token: Нет токена" in result.stdout
    assert "не выполнено" in result.stdout and "Что сделать:" in result.stdout
    assert "`metrika login`" in result.stdout and "METRIKA_TOKEN" in result.stdout
    assert "No token" not in result.output and "What to do" not in result.output


def test_a_real_process_speaks_the_language_of_the_environment_it_starts_in():
    # The process is the point: Env.from_process reads os.environ, the app and the lean path alike.
    app = run_metrika("--help", env=RUSSIAN)
    lean = run_metrika("token", env=RUSSIAN)
    assert app.code == 0 and "Использование: metrika" in app.stdout and "Показать версию и выйти." in app.stdout
    assert lean.code == 3 and lean.stderr.startswith("ошибка: ")


def test_runs_in_one_process_each_speak_the_language_of_their_own_env(metrika):
    from metrika_cli.i18n import _

    for _round in range(2):
        russian_help, english_help = metrika("--help", env=RUSSIAN), metrika("--help", env={"METRIKA_LANG": "en"})
        assert "Показать версию и выйти." in flat(russian_help.stdout) and "Параметры" in russian_help.stdout
        assert "Show the version and exit." in flat(english_help.stdout) and not CYRILLIC.search(english_help.stdout)
        russian, english = metrika("check-access", env=RUSSIAN), metrika("check-access", env={"LANG": "C.UTF-8"})
        assert "no_token: Нет токена" in russian.stdout and "no_token: No token" in english.stdout
        assert metrika("logn", env=RUSSIAN).stderr.startswith("Использование: metrika")
        assert "error: No such command 'logn'." in metrika("logn", env={"METRIKA_LANG": "en"}).stderr
    assert _("What to do:") == "What to do:"  # outside a run, English
    assert click_command().commands["login"].help.startswith("Get a token")  # the app's help texts too


def test_metrika_lang_en_overrides_a_russian_locale(metrika):
    result = metrika("check-access", env={"METRIKA_LANG": "en", "LANG": "ru_RU.UTF-8"})
    assert result.code == 3
    assert "no_token: No token" in result.stdout
    assert not CYRILLIC.search(result.output)


def test_help_is_russian_for_the_app_and_for_login(metrika):
    app = metrika("--help", env=RUSSIAN)
    assert app.code == 0
    assert "Получение, хранение и диагностика OAuth-токенов API Яндекс Метрики." in app.stdout
    assert "Показать версию и выйти." in app.stdout
    assert "Get, keep and diagnose" not in app.stdout and "store it in the OS keyring" not in app.stdout
    login = metrika("login", "--help", env=RUSSIAN)
    assert login.code == 0
    flat = " ".join(login.stdout.split())  # rich wraps the option help inside a box
    assert "Получить токен через ваше приложение" in flat
    assert "Прочитать токен со стандартного ввода." in flat
    assert "--with-token" in flat and "--insecure-storage" in flat
    assert "Read the token from standard input" not in flat


@pytest.mark.parametrize("args", [("check-access", "101", "202"), ("check-access", "101", "999", "--need", "write")])
def test_json_is_the_same_in_both_languages_but_for_the_prose(fake, metrika, args):
    env = {"METRIKA_TOKEN": TOKEN, "METRIKA_CLIENT_ID": CLIENT_ID}
    english = metrika(*args, "--json", env={**env, "METRIKA_LANG": "en"})
    russian = metrika(*args, "--json", env={**env, **RUSSIAN})
    assert english.code == russian.code
    en, ru = json.loads(english.stdout), json.loads(russian.stdout)
    assert set(en) == set(ru)
    for key in SAME_IN_EVERY_LANGUAGE:
        assert en[key] == ru[key], key
    assert [(c["name"], c["status"]) for c in en["checks"]] == [(c["name"], c["status"]) for c in ru["checks"]]
    assert CYRILLIC.search(ru["summary"]) and not CYRILLIC.search(en["summary"])
    assert len(en["fix"]) == len(ru["fix"])


# ---- click's and Typer's own words -----------------------------------------------------

# What click and Typer print around our help and usage errors, in English.
FRAMEWORK_ENGLISH = (
    "Usage:",
    "Options",
    "Commands",
    "Arguments",
    "Show this message and exit.",
    "[default:",
    "[required]",
    "Try '",
    "for help",
    "Error",
    "No such option",
    "No such command",
    "Did you mean",
    "requires an argument",
    "Missing argument",
    "unexpected extra argument",
)


def library_messages() -> set[tuple[str, str | None]]:
    """Every literal that the installed click and Typer pass to gettext, as (msgid, msgid_plural)."""
    import ast
    from importlib.util import find_spec

    found: set[tuple[str, str | None]] = set()
    for package in ("click", "typer"):
        for path in sorted(Path(find_spec(package).origin).parent.glob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.Call):
                    continue
                name = getattr(node.func, "id", getattr(node.func, "attr", None))
                texts = [arg.value for arg in node.args if isinstance(arg, ast.Constant) and isinstance(arg.value, str)]
                if name in ("_", "gettext") and texts:
                    found.add((texts[0], None))
                elif name == "ngettext" and len(texts) >= 2:
                    found.add((texts[0], texts[1]))
    return found


def test_framework_messages_are_spelled_exactly_as_the_installed_click_and_typer_spell_them():
    from metrika_cli import framework_messages

    ours = {(text, None) for text in framework_messages.CLICK + framework_messages.TYPER}
    ours |= set(framework_messages.CLICK_PLURALS)
    assert len(ours) > 30
    assert not ours - library_messages(), "click or Typer reworded these: update framework_messages.py"
    translated = {entry.key for entry in ru_entries() if entry.translated}
    assert ours <= translated


def flat(text: str) -> str:
    """Rich help without its box drawing and line wrapping."""
    return " ".join(re.sub("[│╭╮╰╯─]", " ", text).split())


def test_help_in_a_russian_locale_has_no_english_from_click_or_typer(metrika):
    for args, russian in [
        (("--help",), ["Использование: metrika", "Параметры", "Команды", "Показать это сообщение и выйти."]),
        (("login", "--help"), ["Использование: metrika login", "Параметры", "Показать это сообщение и выйти."]),
        (("check-access", "--help"), ["Аргументы", "[по умолчанию: read]"]),
    ]:
        result = metrika(*args, env=RUSSIAN)
        assert result.code == 0, args
        text = flat(result.output)
        assert [phrase for phrase in FRAMEWORK_ENGLISH if phrase in text] == [], args
        assert [phrase for phrase in russian if phrase not in text] == [], args


@pytest.mark.parametrize(
    "args, russian",
    [
        (
            ("login", "--bogus"),
            [
                "Использование: metrika login",
                "Справка: 'metrika login --help'.",
                "ошибка: Нет такого параметра '--bogus'.",
            ],
        ),
        (("check-access", "--need"), ["ошибка: Параметру '--need' нужно значение."]),
        (("login", "extra"), ["ошибка: Лишний аргумент (extra)"]),
        (("logn",), ["ошибка: Нет такой команды 'logn'. (Возможно, вы имели в виду одно из: 'login', 'logout'?)"]),
    ],
)
def test_usage_errors_in_a_russian_locale_are_russian_with_exit_code_2(metrika, args, russian):
    result = metrika(*args, env=RUSSIAN)
    assert result.code == 2
    assert [phrase for phrase in FRAMEWORK_ENGLISH if phrase in result.output] == []
    assert [phrase for phrase in russian if phrase not in result.output] == []
    assert "Traceback" not in result.output


def test_a_json_usage_error_summary_is_russian_too(metrika):
    result = metrika("whoami", "--json", "--bogus", env=RUSSIAN)
    assert result.code == 2
    assert json.loads(result.stdout)["summary"].startswith("Нет такого параметра")


def test_metrika_lang_en_keeps_click_and_typer_in_english(metrika):
    english = {"METRIKA_LANG": "en", "LANG": "ru_RU.UTF-8"}
    help_text = flat(metrika("login", "--help", env=english).output)
    for phrase in ("Usage: metrika login", "Options", "Show this message and exit."):
        assert phrase in help_text
    assert "[default: read]" in flat(metrika("check-access", "--help", env=english).output)
    error = metrika("login", "--bogus", env=english)
    assert error.code == 2
    assert "Try 'metrika login --help' for help." in error.output
    assert "error: No such option '--bogus'." in error.output
    assert not CYRILLIC.search(error.output)
    suggestion = metrika("logn", env=english)
    assert suggestion.output.count("Did you mean") == 1  # click's suggestion, not Typer's too


def help_walk(language: str) -> dict[str, dict[str, object]]:
    """Every command's --help as the app renders it in `language`, with the app's own view of it:
    each argument's help (as that run showed it), and every metavar click shows."""
    from metrika_cli.i18n import load

    group = click_command()
    walk: dict[str, dict[str, object]] = {}
    for name, command in {"": group, **group.commands}.items():
        result = call_metrika(*([name, "--help"] if name else ["--help"]), env={"METRIKA_LANG": language})
        walk[name] = {
            "code": result.code,
            "shown": result.stdout,
            # as the run showed them: outside a run, the app's help texts are msgids
            "arguments": [load(language).gettext(p.help) for p in command.params if isinstance(p, click.Argument)],
            "names": [p.name for p in command.params if isinstance(p, click.Argument)],
            "metavars": [
                p.make_metavar(click.Context(command)) for p in command.params if not getattr(p, "is_flag", 0)
            ],
        }
    return walk


@pytest.mark.parametrize("language", ["en", "ru"])
def test_every_help_shows_each_argument_s_help_no_backticks_and_no_one_letter_metavar(language):
    walk = help_walk(language)
    assert {"", "login", "token", "check-access", "switch", "api", "exec", "completion"} <= set(walk)
    for name, command in walk.items():
        shown = flat(command["shown"])
        assert command["code"] == 0 and shown.startswith(("Usage: metrika", "Использование: metrika")), name
        assert "`" not in shown, (name, shown)
        for help_text in command["arguments"]:
            assert help_text, f"an argument of {name or 'metrika'} has no help"
            assert " ".join(help_text.split()) in shown, (name, help_text)
        for python_name in command["names"]:  # the help shows COUNTER_ID or PATH, never counter_ids or path
            assert not re.search(rf"(?<![\w-]){python_name} +[A-Z\[-]", shown), (name, python_name)
        for metavar in command["metavars"]:
            assert all(len(word) > 1 for word in re.findall("[A-Za-z]+", metavar)), (name, metavar)
    assert "--scope SCOPE" in flat(walk["login"]["shown"]) and "--login-hint LOGIN" in flat(walk["login"]["shown"])
