"""Keep metrika's message catalogs in step with the code. Standard library only.

    python scripts/i18n.py extract   # metrika_cli/*.py -> locale/metrika.pot, merged into each .po
    python scripts/i18n.py compile   # each .po -> its .mo
    python scripts/i18n.py check     # exit 1 if a message is untranslated, a .po is behind, a .mo stale

A message is a string literal given to `_()`, `N_()` (first argument) or `ngettext()` (first
two). Output is deterministic (sorted, no dates), so the catalogs diff cleanly in review.
"""

from __future__ import annotations

import ast
import re
import struct
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "metrika_cli"
LOCALE = PACKAGE / "locale"
DOMAIN = "metrika"
POT = LOCALE / f"{DOMAIN}.pot"
PLURAL_FORMS = {
    "ru": "nplurals=3; plural=(n%10==1 && n%100!=11 ? 0 : n%10>=2 && n%10<=4 && (n%100<10 || n%100>=20) ? 1 : 2);",
}
SINGULAR_MARKERS = ("_", "N_")
PLURAL_MARKERS = ("ngettext",)
PLACEHOLDER = re.compile(r"(?<!\{)\{([^{}]*)\}(?!\})")

Key = tuple[str, "str | None"]  # (msgid, msgid_plural)


@dataclass
class Entry:
    msgid: str
    plural: str | None = None
    msgstr: list[str] = field(default_factory=lambda: [""])
    references: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    obsolete: bool = False

    @property
    def key(self) -> Key:
        return (self.msgid, self.plural)

    @property
    def translated(self) -> bool:
        return all(self.msgstr) and "fuzzy" not in self.flags


# ---- extraction ------------------------------------------------------------------------


def _marker(call: ast.Call) -> str | None:
    func = call.func
    name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
    return name if name in SINGULAR_MARKERS + PLURAL_MARKERS else None


def _literal(node: ast.expr) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def extract(package: Path = PACKAGE) -> tuple[dict[Key, list[str]], list[str]]:
    """Every message in the package -> its source references; plus problems (an f-string in `_()`)."""
    messages: dict[Key, list[str]] = {}
    problems: list[str] = []
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package.parent).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if not isinstance(node, ast.Call) or not (name := _marker(node)) or not node.args:
                continue
            where = f"{relative}:{node.lineno}"
            count = 2 if name in PLURAL_MARKERS else 1
            args = node.args[:count]
            if any(isinstance(arg, ast.JoinedStr) for arg in args):
                problems.append(f"{where}: an f-string in {name}() cannot be translated; use .format()")
                continue
            texts = [_literal(arg) for arg in args]
            if len(texts) < count or None in texts:
                continue  # a variable: its literal was marked where it was defined (N_)
            key = (texts[0], texts[1] if count == 2 else None)
            if key[0]:
                messages.setdefault(key, []).append(where)
    return messages, problems


# ---- PO files --------------------------------------------------------------------------


def _unquote(text: str) -> str:
    return ast.literal_eval(text)


def parse_po(text: str) -> list[Entry]:
    entries: list[Entry] = []
    entry, last = Entry(""), None
    started = False

    def finish() -> None:
        nonlocal entry, started, last
        if started:
            entries.append(entry)
        entry, started, last = Entry(""), False, None

    for raw in text.splitlines():
        line = raw.strip()
        obsolete = line.startswith("#~")
        if obsolete:
            line = line[2:].strip()
        if not line:
            finish()
            continue
        if line.startswith("#:"):
            if started and last is not None:
                finish()
            entry.references.extend(line[2:].split())
        elif line.startswith("#,"):
            if started and last is not None:
                finish()
            entry.flags.extend(flag.strip() for flag in line[2:].split(",") if flag.strip())
        elif line.startswith("#"):
            continue
        elif line.startswith("msgid_plural "):
            entry.plural, last = _unquote(line[13:]), "plural"
        elif line.startswith("msgid "):
            if started and last != "msgid":
                finish()
            entry.msgid, last, started = _unquote(line[6:]), "msgid", True
            entry.obsolete = obsolete
        elif line.startswith("msgstr["):
            index = int(line[7 : line.index("]")])
            while len(entry.msgstr) <= index:
                entry.msgstr.append("")
            entry.msgstr[index], last = _unquote(line[line.index("]") + 1 :].strip()), f"msgstr[{index}]"
        elif line.startswith("msgstr "):
            entry.msgstr[0], last = _unquote(line[7:]), "msgstr[0]"
        elif line.startswith('"') and last:
            if last == "msgid":
                entry.msgid += _unquote(line)
            elif last == "plural":
                entry.plural = (entry.plural or "") + _unquote(line)
            else:
                entry.msgstr[int(last[7:-1])] += _unquote(line)
    finish()
    return entries


def _quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\t", "\\t").replace("\r", "\\r")
    pieces = escaped.split("\n")
    if len(pieces) == 1:
        return f'"{escaped}"'
    lines = [piece + "\\n" for piece in pieces[:-1]] + ([pieces[-1]] if pieces[-1] else [])
    return '""\n' + "\n".join(f'"{line}"' for line in lines)


def format_po(entries: list[Entry]) -> str:
    blocks = []
    for entry in entries:
        prefix = "#~ " if entry.obsolete else ""
        lines = []
        if entry.references and not entry.obsolete:
            lines.append("#: " + " ".join(entry.references))
        if entry.flags:
            lines.append("#, " + ", ".join(entry.flags))
        body = [f"msgid {_quote(entry.msgid)}"]
        if entry.plural is not None:
            body.append(f"msgid_plural {_quote(entry.plural)}")
            body += [f"msgstr[{i}] {_quote(s)}" for i, s in enumerate(entry.msgstr)]
        else:
            body.append(f"msgstr {_quote(entry.msgstr[0])}")
        for chunk in body:
            lines += [prefix + line for line in chunk.split("\n")]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def header(language: str | None) -> Entry:
    fields = [
        "Project-Id-Version: metrika-cli",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=UTF-8",
        "Content-Transfer-Encoding: 8bit",
    ]
    if language:
        fields += [f"Language: {language}", f"Plural-Forms: {PLURAL_FORMS[language]}"]
    return Entry("", msgstr=["".join(f"{line}\n" for line in fields)])


def template(messages: dict[Key, list[str]]) -> list[Entry]:
    entries = [header(None)]
    for (msgid, plural), references in sorted(messages.items(), key=lambda item: (item[0][0], item[0][1] or "")):
        entries.append(Entry(msgid, plural, ["", ""] if plural else [""], references))
    return entries


def merge(messages: dict[Key, list[str]], old: list[Entry], language: str) -> list[Entry]:
    """The template's entries with the old translations kept; the old ones the code lost become obsolete."""
    known = {entry.key: entry for entry in old if entry.msgid}
    nplurals = int(re.search(r"nplurals=(\d+)", PLURAL_FORMS[language]).group(1))  # type: ignore[union-attr]
    entries = [header(language)]
    for entry in template(messages)[1:]:
        previous = known.pop(entry.key, None)
        if entry.plural is not None:
            entry.msgstr = [""] * nplurals
        if previous is not None:
            entry.msgstr = (previous.msgstr + [""] * len(entry.msgstr))[: len(entry.msgstr)]
            entry.flags = previous.flags
        entries.append(entry)
    for previous in sorted(known.values(), key=lambda e: e.key[0]):
        if any(previous.msgstr):
            previous.obsolete, previous.references = True, []
            entries.append(previous)
    return entries


def po_files() -> list[Path]:
    return [LOCALE / language / "LC_MESSAGES" / f"{DOMAIN}.po" for language in sorted(PLURAL_FORMS)]


# ---- MO files --------------------------------------------------------------------------


def compile_mo(entries: list[Entry]) -> bytes:
    """GNU .mo bytes: translated, non-fuzzy, non-obsolete entries and the header, sorted by msgid."""
    catalog: dict[bytes, bytes] = {}
    for entry in entries:
        if entry.obsolete or not (entry.translated or entry.msgid == ""):
            continue
        msgid = entry.msgid if entry.plural is None else f"{entry.msgid}\0{entry.plural}"
        catalog[msgid.encode()] = "\0".join(entry.msgstr).encode()
    keys = sorted(catalog)
    count = len(keys)
    originals_at = 7 * 4
    translations_at = originals_at + count * 8
    data_at = translations_at + count * 8
    tables, blob = [[], []], b""
    for table, texts in zip(tables, ([key for key in keys], [catalog[key] for key in keys])):
        for text in texts:
            table.append((len(text), data_at + len(blob)))
            blob += text + b"\0"
    head = struct.pack("<7I", 0x950412DE, 0, count, originals_at, translations_at, 0, data_at)
    pairs = b"".join(struct.pack("<2I", *pair) for table in tables for pair in table)
    return head + pairs + blob


def mo_path(po: Path) -> Path:
    return po.with_suffix(".mo")


# ---- checks ----------------------------------------------------------------------------


def placeholders(text: str) -> list[str]:
    return sorted(PLACEHOLDER.findall(text))


def problems() -> list[str]:
    """Everything `check` complains about, one line each."""
    messages, found = extract()
    in_template = (
        {entry.key for entry in parse_po(POT.read_text(encoding="utf-8")) if entry.msgid} if POT.exists() else set()
    )
    if in_template != set(messages):  # moved source lines alone do not count
        found.append(f"{POT.relative_to(ROOT)} is behind the code: run `python scripts/i18n.py extract`")
    for po in po_files():
        name = po.relative_to(ROOT)
        if not po.exists():
            found.append(f"{name} is missing: run `python scripts/i18n.py extract`")
            continue
        entries = parse_po(po.read_text(encoding="utf-8"))
        current = {entry.key: entry for entry in entries if entry.msgid and not entry.obsolete}
        for key in sorted(messages, key=lambda k: (k[0], k[1] or "")):
            if key not in current:
                found.append(f"{name}: missing {key[0]!r}: run `python scripts/i18n.py extract`")
            elif not current[key].translated:
                found.append(f"{name}: untranslated {key[0]!r}")
        for key, entry in current.items():
            if key not in messages:
                found.append(f"{name}: {key[0]!r} is no longer in the code: run `python scripts/i18n.py extract`")
            for text in entry.msgstr:
                if text and placeholders(text) != placeholders(entry.msgid):
                    found.append(f"{name}: placeholders differ in the translation of {entry.msgid!r}")
        mo = mo_path(po)
        if not mo.exists() or mo.read_bytes() != compile_mo(entries):
            found.append(f"{mo.relative_to(ROOT)} is stale: run `python scripts/i18n.py compile`")
    return found


# ---- commands --------------------------------------------------------------------------


def run_extract() -> int:
    messages, found = extract()
    for line in found:
        print(line, file=sys.stderr)
    LOCALE.mkdir(exist_ok=True)
    POT.write_text(format_po(template(messages)), encoding="utf-8")
    print(f"{POT.relative_to(ROOT)}: {len(messages)} messages")
    for po in po_files():
        language = po.parent.parent.name
        old = parse_po(po.read_text(encoding="utf-8")) if po.exists() else []
        entries = merge(messages, old, language)
        po.parent.mkdir(parents=True, exist_ok=True)
        po.write_text(format_po(entries), encoding="utf-8")
        untranslated = sum(1 for e in entries if e.msgid and not e.obsolete and not e.translated)
        print(f"{po.relative_to(ROOT)}: {untranslated} untranslated")
    return 1 if found else 0


def run_compile() -> int:
    for po in po_files():
        mo_path(po).write_bytes(compile_mo(parse_po(po.read_text(encoding="utf-8"))))
        print(f"{mo_path(po).relative_to(ROOT)} written")
    return 0


def run_check() -> int:
    found = problems()
    for line in found:
        print(line, file=sys.stderr)
    if not found:
        print("catalogs are complete and compiled")
    return 1 if found else 0


def main(argv: list[str]) -> int:
    commands = {"extract": run_extract, "compile": run_compile, "check": run_check}
    if len(argv) != 1 or argv[0] not in commands:
        print(f"usage: python scripts/i18n.py {{{'|'.join(commands)}}}", file=sys.stderr)
        return 2
    return commands[argv[0]]()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
