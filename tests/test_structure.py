"""The house: imports flow one way, no module imports one that imports it back, and every
function stays small enough to read at once."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "metrika_cli"
MAX_FUNCTION_LINES = 50


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """metrika_cli modules that `path` imports, at the top or lazily inside a function."""
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            target = (f"{base}.{node.module}" if node.module else base) if node.level else node.module or ""
            for alias in node.names:
                candidate = f"{target}.{alias.name}"
                found.add(candidate if (PACKAGE.parent / (candidate.replace(".", "/") + ".py")).exists() else target)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.startswith("metrika_cli")}


def graph() -> dict[str, set[str]]:
    return {module_name(path): imports_of(path) - {module_name(path)} for path in PACKAGE.rglob("*.py")}


def test_no_module_imports_one_that_imports_it_back():
    edges = graph()
    circles = []

    def visit(node: str, trail: list[str]) -> None:
        for target in sorted(edges.get(node, ())):
            if target in trail:
                circles.append([*trail[trail.index(target) :], target])
            elif target in edges and len(trail) < len(edges):
                visit(target, [*trail, target])

    for start in sorted(edges):
        visit(start, [start])
    assert circles == []


def test_main_reaches_the_app_only_through_one_lazy_call():
    tree = ast.parse((PACKAGE / "main.py").read_text(encoding="utf-8"))
    top_level = {node.module for node in tree.body if isinstance(node, ast.ImportFrom)}
    assert "app" not in top_level and "commands" not in top_level
    lazy = [node for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module == "app"]
    assert len(lazy) == 1


def test_the_lower_floors_import_nothing_of_the_commands_or_the_app():
    edges = graph()
    for low in (
        "metrika_cli.errors",
        "metrika_cli.oauth",
        "metrika_cli.evidence",
        "metrika_cli.rules",
        "metrika_cli.advice",
        "metrika_cli.diagnose",
        "metrika_cli.files",
        "metrika_cli.keyrings",
        "metrika_cli.store",
        "metrika_cli.env",
        "metrika_cli.tokens",
        "metrika_cli.output",
        "metrika_cli.api",
    ):
        assert not {name for name in edges[low] if name.startswith(("metrika_cli.app", "metrika_cli.commands"))}, low
    assert edges["metrika_cli.errors"] == set()


def test_no_command_imports_another_command():
    """A command's module works through the floors below it (probe's Report, output's rendering),
    never through another command: only signatures.py (the Typer functions of the lean commands)
    imports check-access, whoami and api, and every command may import the shared options."""
    edges = graph()
    shared = {"metrika_cli.commands", "metrika_cli.commands.options"}
    lean = {"metrika_cli.commands.check_access", "metrika_cli.commands.whoami", "metrika_cli.commands.api"}
    allowed = {"metrika_cli.commands.signatures": lean}
    wrong = {
        module: sorted(
            target for target in targets if target.startswith("metrika_cli.commands") and target not in shared
        )
        for module, targets in edges.items()
        if module.startswith("metrika_cli.commands.")
    }
    wrong = {module: [t for t in targets if t not in allowed.get(module, set())] for module, targets in wrong.items()}
    assert {module: targets for module, targets in wrong.items() if targets} == {}


def test_the_profile_is_resolved_by_the_dispatch_not_by_each_command():
    """--profile (with METRIKA_PROFILE, `switch` and the checks of a name) is resolved once, where
    the command line is parsed: app.py's handles_errors and main.py's lean paths call
    tokens.resolve_profile; a command reads env.profile and never resolves an option of its own."""
    resolving = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
                continue
            if node.func.id in ("resolve_profile", "resolve_profiles") or (
                node.func.id == "profile_name" and len(node.args) > 1
            ):
                resolving.append(f"{path.relative_to(PACKAGE)}:{node.func.id}")
    # tokens.py: resolve_profile itself, and chosen_profile and named_profiles for a command run
    # without the dispatch
    expected = [
        "app.py:resolve_profile",
        "app.py:resolve_profiles",
        "main.py:resolve_profile",
        "tokens.py:profile_name",
        "tokens.py:resolve_profile",
        "tokens.py:resolve_profiles",
    ]
    assert sorted(set(resolving)) == expected


def test_the_diagnosis_is_evidence_then_rules_then_advice_under_the_engine():
    """evidence.py knows no judgement and no words; rules.py judges without words (no i18n);
    advice.py words what the rules find; diagnose.py runs the rules and asks the advice."""
    edges = graph()
    floors = ["metrika_cli.evidence", "metrika_cli.rules", "metrika_cli.advice", "metrika_cli.diagnose"]
    for level, module in enumerate(floors):
        assert not edges[module] & set(floors[level + 1 :]), module
    assert not edges["metrika_cli.evidence"] & {"metrika_cli.i18n", "metrika_cli.expiry", "metrika_cli.oauth"}
    assert "metrika_cli.i18n" not in edges["metrika_cli.rules"]
    assert edges["metrika_cli.diagnose"] >= set(floors[:3]) and "metrika_cli.i18n" not in edges["metrika_cli.diagnose"]


def test_no_function_is_longer_than_fifty_lines():
    long = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    long.append(f"{path.name}:{node.name} ({length} lines)")
    assert long == []


def external_imports(module: str) -> list[tuple[str, int, bool]]:
    """(package, line, at the top) of every import of a package outside metrika_cli in `module`."""
    path = PACKAGE.parent / (module.replace(".", "/") + ".py")
    tree = ast.parse((path if path.exists() else path.with_suffix("") / "__init__.py").read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module or ""]
        else:
            continue
        found += [(name.split(".")[0], node.lineno, node in tree.body) for name in names]
    return found


def test_the_lean_path_reaches_no_typer_or_click_and_rich_only_lazily():
    """main.py runs a plain check-access and whoami without Typer, click or Rich (start-up, see
    bench/check_access.py): nothing it can reach but the app imports them; Rich only inside
    output.py's functions, for a terminal or a table."""
    edges = graph()
    reached, todo = set(), ["metrika_cli.main", "metrika_cli.commands.check_access", "metrika_cli.commands.whoami"]
    while todo:
        module = todo.pop()
        if module not in reached and module != "metrika_cli.app":
            reached.add(module)
            todo += edges.get(module, ())
    wrong = [
        f"{module}:{line} imports {package}"
        for module in sorted(reached)
        for package, line, top in external_imports(module)
        if package in ("typer", "click") or (package == "rich" and (top or module != "metrika_cli.output"))
    ]
    assert wrong == []


def test_the_store_has_three_floors_files_then_the_keyring_then_profiles():
    """files.py (the config folder, atomic TOML, modes, the lock) knows neither the keyring nor
    profiles; keyrings.py (the adapter, which entry is whose) knows no profiles; store.py's profile
    transactions stand on both."""
    edges = graph()
    assert edges["metrika_cli.files"] <= {"metrika_cli.errors", "metrika_cli.i18n", "metrika_cli.os_errors"}
    assert not edges["metrika_cli.keyrings"] & {"metrika_cli.store", "metrika_cli.files"}
    assert {"metrika_cli.files", "metrika_cli.keyrings"} <= edges["metrika_cli.store"]
