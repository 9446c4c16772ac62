"""README's "In scripts" block, run as written on what a CI runner is: no keyring, no login,
no config, CI set, the token only in METRIKA_TOKEN from the CI's secret store. `curl` is the
real one, pointed at the loopback fake instead of api-metrika.yandex.net."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

from conftest import TOKEN
from real_shells import shell_env

ROOT = Path(__file__).resolve().parent.parent


def scripts_block() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## In scripts\n", 1)[1].split("\n## ", 1)[0]
    [block] = re.findall(r"```sh\n(.*?)```", section, flags=re.S)
    return block


def ci_runner(tmp_path: Path, fake_url: str) -> dict[str, str]:
    """A runner's environment: metrika on PATH, curl sent to the fake, a keyring that is not there."""
    env = shell_env(tmp_path / "home")
    shims = tmp_path / "shims"
    shims.mkdir()
    real_curl = shutil.which("curl")
    assert real_curl, "curl is needed for this test"
    (shims / "curl").write_text(
        "#!/bin/bash\n"
        'args=(); for arg in "$@"; do args+=("${arg/https:\\/\\/api-metrika.yandex.net/$METRIKA_API_URL}"); done\n'
        f'exec {real_curl} "${{args[@]}}"\n'
    )
    (shims / "curl").chmod(0o755)
    env["PATH"] = f"{shims}:{env['PATH']}"
    env.update(CI="true", PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
    return env


def test_the_scripts_block_runs_as_written_on_a_runner_with_no_keyring(fake, tmp_path, isolated):
    fake.accounts[TOKEN].counters.append({"id": 12345, "name": "Site", "permission": "view"})
    env = {**ci_runner(tmp_path, fake.url), "METRIKA_TOKEN": TOKEN}
    work = tmp_path / "work"
    work.mkdir()
    completed = subprocess.run(
        ["sh", "-c", scripts_block()], capture_output=True, text=True, env=env, cwd=work, timeout=120
    )
    assert completed.returncode == 0, completed.stderr
    assert json.loads((work / "access.json").read_text())["ok"] is True
    assert 12345 in [counter["id"] for counter in json.loads(completed.stdout)["counters"]]
    assert TOKEN not in completed.stderr and not isolated.exists()  # nothing stored, nothing echoed


def test_without_the_secret_the_block_stops_at_once_naming_it(fake, tmp_path):
    env = ci_runner(tmp_path, fake.url)
    env.pop("METRIKA_TOKEN", None)
    completed = subprocess.run(
        ["sh", "-c", scripts_block()], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120
    )
    assert completed.returncode != 0 and "METRIKA_TOKEN" in completed.stderr
    assert fake.requests == []
