"""The package installs as a package: a wheel in a fresh venv outside the checkout runs ``juesuan demo``.

The wheel must carry every subpackage and, as package data, the bundled specs and templates; the
installed tool must find them through importlib.resources, not through the checkout.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_wheel_installs_and_runs_demo_outside_the_checkout(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--disable-pip-version-check",
                    "-w", str(wheels), str(ROOT)], check=True, cwd=tmp_path)
    (wheel,) = wheels.glob("juesuan-*.whl")
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    py = env_dir / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(wheel)],
                   check=True, cwd=tmp_path, env=env)
    work = tmp_path / "elsewhere"
    work.mkdir()
    where = subprocess.run([str(py), "-c", "import generator.core.resources as r; print(r.specs_root());"
                            "print(r.templates_root())"], check=True, cwd=work, env=env,
                           capture_output=True, text=True).stdout.split()
    for folder in where:
        assert Path(folder).is_relative_to(env_dir), f"{folder} is not the installed package's data"
    out = work / "demo"
    # an office key in the environment: the demo still runs its own round under the built-in key
    env["JUESUAN_KEY"] = "an office key of its own"
    run = subprocess.run([str(env_dir / "bin" / "juesuan"), "demo", "-o", str(out)], cwd=work, env=env,
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    read = json.loads((out / "seed-read.json").read_text(encoding="utf-8"))
    assert read["unit"]["code"] and read["values"]["公开01"]
    assert not [f for f in read["findings"] if f["severity"] == "error"]
    assert (out / "430100-汇总.xlsx").is_file()
    assert "未设置指纹密钥" in (out / "collect-report.html").read_text(encoding="utf-8")  # the banner says so
    assert (out / "seed-shuoming.md").is_file()
    # the README's first command, from the installed package: a round, and the demo run inside it
    env.pop("JUESUAN_KEY")
    for args, cwd in ((["init", "demo-round", "--year", "2024"], work), (["demo"], work / "demo-round")):
        run = subprocess.run([str(env_dir / "bin" / "juesuan"), *args], cwd=cwd, env=env, capture_output=True, text=True)
        assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    rnd = work / "demo-round"
    assert (rnd / "out" / "430100-汇总.xlsx").is_file() and list((rnd / "out" / "公开").glob("*.html"))
    assert "默认密钥" not in (rnd / "out" / "collect-report.html").read_text(encoding="utf-8")
    assert len(list((rnd / "out" / "反馈").glob("*-反馈.html"))) == 5
