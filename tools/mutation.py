"""Mutation testing of the pure core and the reader with mutmut 3 (not in CI: too slow for it).

    nice -n 19 python tools/mutation.py [--modules expr,rules,...] [--per-module 25] [--budget 3600]
                                        [--children 1] [--recheck SECONDS [--only NAMES]]
                                        [--report bench/mutation-report.md]

What it does
------------
The checkout's ``generator/``, ``specs/``, ``templates/`` and ``tests/`` are copied to
``out/mutation/work`` (git-ignored), where mutmut gets its own ``setup.cfg``: every module of
``generator/core/`` and the reader (``generator/xlsx/reader.py``, ``values.py``, ``checks/``) may be
mutated; the tests it runs are the quick tier (``-m "not slow and not libreoffice and not browser and not
postgres"``, the README's inner loop) with ``-x``, and each mutant has a time limit
(mutmut's ``timeout_multiplier`` x the covering tests' own time, plus a constant). mutmut runs
only the tests that reach the mutated function. The core and the reader have ~10,000 mutants, far
more than a session on a shared machine runs, so the run takes a stratified sample: of every module
the ``--per-module`` mutants whose names hash lowest (sha1; a bigger number gives a superset, so
runs add up). The sample runs in ``--rounds`` slices, each slice taking its share of every module,
under the ``--budget`` in seconds, so a budget that runs out still leaves every module measured;
what it did not reach is reported as not run. Results stay in the work folder between runs, so a
second run resumes (a changed package makes the mutants anew).

Score = (killed + timed out) / (every mutant of the module that was run). Mutants whose code no
selected test reaches ("no tests") count as survivors. Survivors are listed with their diff;
``tools/mutation-equivalent.txt`` names the ones that cannot be killed (an equivalent mutant: the
program behaves the same), one per line: ``mutant-name  reason``; the report shows them apart
and gives the score both ways.

Needs ``pip install mutmut==3.8.1`` (the ``mutation`` extra).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "out" / "mutation" / "work"
EQUIV = ROOT / "tools" / "mutation-equivalent.txt"

CHECKS = ["identity", "structure", "cells", "spare", "formulas", "display", "rules", "indicators", "outdated"]
MODULES = ["money", "calc", "model", "expr", "rules", "findings", "dataset", "catalog", "spec", "layout",
           "specmap", "cellformula", "clock", "reader", "values", *(f"checks.{c}" for c in CHECKS)]
XLSX = {"reader", "values"}  # the reader's modules outside checks/
NOT_MUTATED = ["generator/core/resources.py", "generator/core/fsutil.py", "generator/core/__init__.py"]

# the quick tier (pytest markers, pyproject.toml): what tests the pure core and the reader, without
# LibreOffice, a browser, PostgreSQL, worker processes, the wheel, the benchmark or the fuzzers
QUICK = "not slow and not libreoffice and not browser and not postgres"
DESELECT = ("not mutated_xml and not changed_digit and not libreoffice and not memoised"
            " and not lazy_command_is_listed and not import_only_what_they_use")

STATUS = {1: "killed", 3: "killed", 0: "survived", 5: "no tests", 33: "no tests", 34: "skipped", 35: "suspicious",
          36: "timeout", 37: "caught by type check", -24: "timeout", 24: "timeout", 152: "timeout",
          255: "worker error", -1: "worker error", -11: "segfault", -9: "segfault", None: "not checked"}
# "worker error": mutmut's forked worker ended with -1 (255) because running the tests raised inside
# mutmut, not because a test failed; such a verdict counts only once the recheck has run the tests in
# a fresh pytest and seen one fail (or pass: then it is a survivor)


def module_path(mod: str) -> str:
    if mod in XLSX:
        return f"generator/xlsx/{mod}.py"
    if mod.startswith("checks."):
        return f"generator/xlsx/checks/{mod.removeprefix('checks.')}.py"
    return f"generator/core/{mod}.py"


def module_of(mutant: str) -> str:
    """The module (a MODULES name) a mutant's name belongs to."""
    parts = mutant.split(".")
    if parts[1] == "core":
        return parts[2]
    return f"checks.{parts[3]}" if parts[2] == "checks" else parts[2]


def module_pattern(mod: str) -> str:
    return module_path(mod)[:-3].replace("/", ".") + ".*"


NOMEMO = '''"""Loaded by tools/mutation.py only (-p tests._mutation_nomemo): every test starts with cold memo
tables, so no test is credited with (or hidden behind) what an earlier test computed."""

import pytest


@pytest.fixture(autouse=True)
def _cold_memo_tables(monkeypatch):  # type: ignore[no-untyped-def]
    from generator.core import spec as spec_module
    from generator.xlsx import values
    from generator.xlsx.checks import identity

    monkeypatch.setattr(spec_module.Spec, "cache", lambda self, name: {})
    identity._SPEC_CACHE.clear()
    values._normalize_cached.cache_clear()
    yield
'''


def source_hash() -> str:
    h = hashlib.sha256()
    for p in sorted((ROOT / "generator").rglob("*.py")):
        h.update(str(p.relative_to(ROOT)).encode() + b"\0" + p.read_bytes())
    return h.hexdigest()


def prepare() -> None:
    WORK.mkdir(parents=True, exist_ok=True)
    # mutmut keeps its mutated copy of the package (and the results) in mutants/: when the package
    # changed since (a rebase, a fix), the stored mutants and results no longer hold: start over
    stamp = WORK / "source.sha256"
    now = source_hash()
    if stamp.exists() and stamp.read_text() != now and (WORK / "mutants").exists():
        print("the package changed since the last run: mutants made anew", flush=True)
        shutil.rmtree(WORK / "mutants")
    stamp.write_text(now)
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    (WORK / "source.commit").write_text(head or "?")
    for name in ("generator", "specs", "templates", "tests"):
        dst = WORK / name
        if dst.exists():
            shutil.rmtree(dst)
        shutil.copytree(ROOT / name, dst, ignore=shutil.ignore_patterns("__pycache__"))
    (WORK / "tests" / "_mutation_nomemo.py").write_text(NOMEMO, encoding="utf-8")
    cfg = [
        "[mutmut]",
        "source_paths = generator",
        "only_mutate =\n    generator/core/*\n    generator/xlsx/reader.py\n    generator/xlsx/values.py"
        "\n    generator/xlsx/checks/*",
        "do_not_mutate =\n" + "\n".join(f"    {p}" for p in NOT_MUTATED),
        "also_copy =\n    specs\n    templates",
        f"pytest_add_cli_args =\n    -p\n    no:cacheprovider\n    -x\n    -q\n    -m\n    {QUICK}"
        f"\n    -k\n    {DESELECT}\n    -p\n    tests._mutation_nomemo",
        "pytest_add_cli_args_test_selection =\n    tests",
        # each mutant's tests run in a process forked from a server that has only collected the tests:
        # forked from mutmut's main process instead, they would inherit what the clean run left in
        # the package's memo tables (compiled expressions, rule instances, lru_caches) and test those
        # instead of the mutant
        "process_isolation = forkserver",
        "forkserver_warmup = collect",
        "timeout_multiplier = 5.0",
        "timeout_constant = 3.0",
        "use_git_change_detection = false",
    ]
    (WORK / "setup.cfg").write_text("\n".join(cfg) + "\n", encoding="utf-8")
    (WORK / "pyproject.toml").write_text('[tool.pytest.ini_options]\ntestpaths = ["tests"]\nmarkers = [\n'
                                        '  "libreoffice: needs LibreOffice",\n  "slow: long",\n  "browser: Chromium",\n'
                                        '  "postgres: PostgreSQL",\n]\n', encoding="utf-8")


def reset_results() -> None:
    for meta in (WORK / "mutants").rglob("*.meta"):
        doc = json.loads(meta.read_text(encoding="utf-8"))
        doc["exit_code_by_key"] = dict.fromkeys(doc.get("exit_code_by_key", {}))
        for k in ("durations_by_key", "estimated_durations_by_key"):
            if k in doc:
                doc[k] = {}
        meta.write_text(json.dumps(doc), encoding="utf-8")
    stats = WORK / "mutants" / "mutmut-stats.json"
    if stats.exists():
        stats.unlink()


def load_results() -> dict[str, dict[str, int | None]]:
    out: dict[str, dict[str, int | None]] = {}
    for mod in MODULES:
        meta = WORK / "mutants" / (module_path(mod) + ".meta")
        if meta.exists():
            out[mod] = json.loads(meta.read_text(encoding="utf-8")).get("exit_code_by_key", {})
    return out


def equivalents() -> dict[str, str]:
    eq: dict[str, str] = {}
    if EQUIV.exists():
        for line in EQUIV.read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                name, _, why = line.partition(" ")
                eq[name] = why.strip()
    return eq


def show(name: str) -> str:
    env = dict(os.environ, PYTHONPATH=str(WORK))
    r = subprocess.run([sys.executable, "-m", "mutmut", "show", name], cwd=WORK, capture_output=True, text=True,
                       env=env, timeout=120)
    diff = [ln for ln in r.stdout.splitlines() if ln.startswith(("+", "-")) and not ln.startswith(("+++", "---"))]
    return "\n".join(diff[:12])


def report(path: Path, ran: dict[str, str], elapsed: float, per_module: int = 0) -> tuple[int, int]:
    res = {m: {k: codes[k] for k in sample(list(codes), per_module)} for m, codes in load_results().items()}
    sizes = {m: len(codes) for m, codes in load_results().items()}
    eq = equivalents()
    rechecked = json.loads(RECHECK.read_text(encoding="utf-8")) if RECHECK.exists() else {}
    # tests that fail on the recheck's copy without any mutant (e.g. newer than the mutated package) kill nothing
    bad = WORK / "baseline-fail.txt"
    invalid = set(bad.read_text(encoding="utf-8").split()) if bad.exists() else set()
    later = {k: v["killed_by"] for k, v in rechecked.items() if "killed_by" in v and v["killed_by"] not in invalid}
    lines = ["# Mutation testing report", "",
             "Made by `nice -n 19 python tools/mutation.py` (mutmut 3, fast test subset, no LibreOffice, `-x`,",
             "per-mutant time limit). Score = (killed + timed out) / mutants run; survivors include mutants no",
             "selected test reaches. *Equivalent* survivors (listed in `tools/mutation-equivalent.txt` with why)",
             "cannot be killed: the program behaves the same. `timeout`: the mutant's tests ran past their time",
             "limit (a mutant that makes the program hang is caught). A *worker error* (mutmut's forked worker",
             "ended with -1: running the tests raised inside mutmut) is no verdict by itself: the recheck runs",
             "those mutants' tests again in a fresh pytest and counts the mutant killed only when a test fails or",
             "errors there (listed below), survived when all pass; one not rechecked counts as not run.", "",
             f"Package as of commit {(WORK / 'source.commit').read_text() if (WORK / 'source.commit').exists() else '?'}. "
             "Run on a 2-core machine under nice 19. "
             + ("Every mutant of each module." if per_module <= 0 else
                f"A stratified sample: of each module, the {per_module} mutants whose names hash lowest (sha1; "
                "every mutant of a module that has fewer). `sampled` = the module's sample, `not run` = in the "
                "sample but not reached within the time budget; mutants outside the sample count nowhere."), "",
             "| module | mutants | sampled | killed | timeout | survived | no tests | not run | score | score without equivalents |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    tot_k = tot_run = tot_eq = tot_samp = tot_notrun = 0
    survivors: list[tuple[str, str, str]] = []
    for mod in MODULES:
        codes = res.get(mod)
        if codes is None:
            lines.append(f"| {module_path(mod)} | – | – | – | – | – | – | – | {ran.get(mod, 'not run')} | |")
            continue
        # a recheck verdict counts only for a mutant the run found surviving or could not judge (not for
        # one it never ran); a worker error without a recheck verdict is not counted either way
        def status(k: str, v: int | None) -> str:
            s = STATUS.get(v, "suspicious")
            if k in later and s in ("survived", "no tests", "worker error"):
                return "killed"
            if s == "worker error":
                return "survived" if rechecked.get(k, {}).get("survived") else "unconfirmed"
            return s

        st = {k: status(k, v) for k, v in codes.items()}
        count = {s: sum(1 for x in st.values() if x == s) for s in set(st.values())}
        killed = count.get("killed", 0)
        tmo = count.get("timeout", 0)
        notrun = (count.get("not checked", 0) + count.get("skipped", 0) + count.get("check was interrupted by user", 0)
                  + count.get("unconfirmed", 0))
        run = len(st) - notrun
        surv = [k for k, s in st.items() if s in ("survived", "no tests", "suspicious", "segfault")]
        n_eq = sum(1 for k in surv if k in eq)
        score = f"{(killed + tmo) / run * 100:.1f}%" if run else "–"
        score_eq = f"{(killed + tmo) / (run - n_eq) * 100:.1f}%" if run - n_eq > 0 else "–"
        lines.append(f"| {module_path(mod)} | {sizes.get(mod, 0)} | {len(st)} | {killed} | {tmo} | {count.get('survived', 0)} | "
                     f"{count.get('no tests', 0)} | {notrun} | {score} | {score_eq} |")
        tot_k += killed + tmo
        tot_run += run
        tot_samp += len(st)
        tot_notrun += notrun
        tot_eq += n_eq
        for k in sorted(surv):
            survivors.append((k, st[k], eq.get(k, "")))
    total = tot_k / tot_run * 100 if tot_run else 0.0
    total_eq = tot_k / (tot_run - tot_eq) * 100 if tot_run - tot_eq else 0.0
    lines.append(f"| **all** | {sum(sizes.values())} | {tot_samp} | {tot_k} | | | | {tot_notrun} | **{total:.1f}%** | **{total_eq:.1f}%** |")
    lines += ["", f"Overall: {tot_k} of {tot_run} mutants killed ({total:.1f}%); {tot_eq} equivalent; "
              f"{total_eq:.1f}% of the non-equivalent mutants killed.", ""]
    in_sample = {k for codes in res.values() for k in codes}
    def run_status(k: str) -> str:
        return STATUS.get(res[module_of(k)][k], "")

    killed_later = [(k, t) for k, t in sorted(later.items())
                    if k in in_sample and run_status(k) in ("survived", "no tests")]
    confirmed = [(k, t) for k, t in sorted(later.items()) if k in in_sample and run_status(k) == "worker error"]
    if killed_later:
        lines += ["## Killed on the recheck (cold memo tables; tests written since the run)", "",
                  "mutmut credits a mutant only to the tests that reached its function in one statistics run; with",
                  "per-spec memo tables warm, only a session's first test reaches many functions. Run again alone,",
                  "with every memo table cold (`tests/_mutation_nomemo.py`, written by the script), these failed a test:", ""]
        lines += [f"- `{k}` — {t}" for k, t in killed_later] + [""]
    if confirmed:
        lines += ["## Worker errors confirmed by the recheck", "",
                  "mutmut's worker ended with -1 (255) for these: running the tests raised inside mutmut. Each was run",
                  "again in a fresh pytest over the fast subset with the mutant active; the test named failed (or",
                  "errored in its set-up) there, so the mutant counts as killed:", ""]
        lines += [f"- `{k}` — {t}" for k, t in confirmed] + [""]
    lines += ["## Equivalent survivors", ""]
    for k, _s, why in survivors:
        if why:
            lines += [f"- `{k}` — {why}"]
    lines += ["", "## Other survivors (to kill)", ""]
    for k, s, why in survivors:
        if not why:
            lines += [f"### `{k}` ({s})", "", "```diff", show(k), "```", ""]
    unconfirmed = sorted(k for m, codes in res.items() for k in codes
                         if STATUS.get(codes[k]) == "worker error" and k not in later
                         and not rechecked.get(k, {}).get("survived"))
    if unconfirmed:
        lines += ["## Worker errors not yet rechecked (counted as not run)", ""]
        lines += [f"- `{k}`" for k in unconfirmed] + [""]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return tot_k, tot_run


RECHECK = WORK / "recheck.json"
# the tests most likely to kill a module's mutant run first on the recheck (all of them run when none fails)
FIRST = {"layout": ["tests/test_golden.py", "tests/test_rounding_band.py"],
         "catalog": ["tests/test_spec_problems.py", "tests/test_golden.py", "tests/test_spec.py"],
         "reader": ["tests/test_check_identity.py", "tests/test_check_structure.py", "tests/test_check_cells.py",
                    "tests/test_check_spare.py", "tests/test_check_formulas.py", "tests/test_check_display.py",
                    "tests/test_check_rules.py", "tests/test_check_indicators.py",
                    "tests/test_reader_edges.py", "tests/test_reader.py", "tests/test_reader_more.py",
                    "tests/test_excel_fixtures.py"],
         "specmap": ["tests/test_specmap_tables.py", "tests/test_migrate.py"],
         "spec": ["tests/test_spec_problems.py", "tests/test_golden.py", "tests/test_spec.py"]}


def recheck(budget: float, per_mutant: float, per_module: int, only: set[str] | None = None,
            chosen: list[str] | None = None, warm_memo: bool = False) -> None:
    """Survivors run again one by one, each in a fresh pytest over the whole fast subset with cold memo
    tables (mutmut maps mutants to the tests that reached the function in its one statistics run, and
    per-spec memo tables let only the first test of a session reach many functions). A mutant a test
    now kills is recorded with that verdict; the report counts it killed and says so. The checkout's
    tests are copied in first, so a test written for a survivor since the run is tried on it; a mutant
    not killed before is tried again (``only``: just these names). With ``chosen`` (pytest node ids),
    only those tests run: a failure kills the mutant, a pass proves nothing and is not recorded; the
    chosen tests must first pass with no mutant active, or nothing is run."""
    t0 = time.monotonic()
    done = json.loads(RECHECK.read_text(encoding="utf-8")) if RECHECK.exists() else {}
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    env["PYTHONPATH"] = str(WORK / "mutants")
    shutil.copytree(ROOT / "tests", WORK / "mutants" / "tests", dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__"))
    tests = ["tests"]
    (WORK / "mutants" / "tests" / "_mutation_nomemo.py").write_text(NOMEMO, encoding="utf-8")
    # warm_memo: the per-spec memo tables on, as in production (a mutant of a memo's guard shows only
    # when a test builds two units with one spec object)
    nomemo = [] if warm_memo else ["-p", "tests._mutation_nomemo"]
    base = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *nomemo,
            "-m", QUICK, "-k", DESELECT]
    if chosen:
        clean = subprocess.run(["nice", "-n", "19", *base, *chosen], cwd=WORK / "mutants", capture_output=True,
                               text=True, env={**env, "MUTANT_UNDER_TEST": ""})
        if clean.returncode != 0:
            print("the chosen tests fail with no mutant active: nothing rechecked\n" + clean.stdout[-3000:])
            return
    for mod, codes in load_results().items():
        picked = set(sample(list(codes), per_module))
        for name, code in sorted(codes.items()):
            if STATUS.get(code) not in ("survived", "no tests", "worker error") or name not in picked:
                continue
            if "killed_by" in done.get(name, {}) or (only is not None and name not in only):
                continue
            left = budget - (time.monotonic() - t0)
            if left < 30:
                return
            first = FIRST.get("reader" if mod in XLSX or mod.startswith("checks.") else mod, [])
            ordered = [t for t in first if (WORK / "mutants" / t).exists()] + tests
            cmd = ["nice", "-n", "19", *base, *(chosen or ordered)]
            proc = subprocess.Popen(cmd, cwd=WORK / "mutants", env={**env, "MUTANT_UNDER_TEST": name},
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
            try:
                out, _ = proc.communicate(timeout=min(per_mutant, left))
                failed = re.findall(r"^(?:FAILED|ERROR) (\S+)", out, re.M)  # a test failed, or its set-up
                if proc.returncode == 1 and failed:
                    done[name] = {"killed_by": failed[0]}
                elif chosen:  # a subset passing proves nothing
                    print(f"recheck {mod} {name}: not killed by {' '.join(chosen)}", flush=True)
                    continue
                else:
                    done[name] = {"survived": True} if proc.returncode == 0 else {"error": proc.returncode}
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                if chosen:
                    continue
                done[name] = {"unfinished": True}
            print(f"recheck {mod} {name}: {done[name]}", flush=True)
            # merged into what is on disk: another recheck may be running beside this one
            on_disk = json.loads(RECHECK.read_text(encoding="utf-8")) if RECHECK.exists() else {}
            on_disk[name] = done[name]
            tmp = RECHECK.with_name(f"{RECHECK.name}.{os.getpid()}")
            tmp.write_text(json.dumps(on_disk, indent=1, ensure_ascii=False), encoding="utf-8")
            os.replace(tmp, RECHECK)


def sample(names: list[str], per_module: int) -> list[str]:
    """A module's share of a stratified sample: its mutants ordered by a hash of their names, the
    first ``per_module`` of them (all when it has fewer, or when ``per_module`` is 0). Deterministic,
    and a bigger ``per_module`` gives a superset, so a later, longer run extends an earlier one."""
    ordered = sorted(names, key=lambda n: hashlib.sha1(n.encode()).hexdigest())
    return sorted(ordered if per_module <= 0 else ordered[:per_module])


def mutmut(args: list[str], log_name: str, timeout: float, children: int) -> str:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    if args[0] == "run":
        args = ["run", "--max-children", str(children), *args[1:]]
    cmd = ["nice", "-n", "19", sys.executable, "-m", "mutmut", *args]
    log = WORK / log_name
    with log.open("a") as fh:
        fh.write(f"\n== {' '.join(cmd[:8])} … ({len(args)} args)\n")
        fh.flush()
        proc = subprocess.Popen(cmd, cwd=WORK, env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            proc.wait(timeout=max(timeout, 1))
            state = "done"
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGTERM)  # mutmut and the test processes it forked: this run's group only
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            state = "cut short (budget)"
    text = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", log.read_text(errors="replace"))
    lines = [ln for ln in text.replace("\r", "\n").splitlines() if ln.strip() and ln.lstrip()[:1] not in "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"]
    print("\n".join(lines[-4:]), flush=True)
    return state


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--modules", default=",".join(MODULES))
    ap.add_argument("--budget", type=float, default=3600.0, help="seconds for the whole run")
    ap.add_argument("--per-module", type=int, default=None,
                    help="mutants of each module to run (a deterministic stratified sample by name hash; 0: all); "
                         "default 25, or with --report-only the last run's")
    ap.add_argument("--rounds", type=int, default=2,
                    help="run the sample in this many slices across all modules, so a run cut short by the "
                         "budget still reaches every module")
    ap.add_argument("--children", type=int, default=1)
    ap.add_argument("--report", type=Path, default=ROOT / "bench" / "mutation-report.md")
    ap.add_argument("--report-only", action="store_true", help="rewrite the report from the stored results")
    ap.add_argument("--fresh", action="store_true", help="forget everything: mutants made anew")
    ap.add_argument("--recheck", type=float, default=0.0, metavar="SECONDS",
                    help="after the run, run survivors again one by one with cold memo tables for this long")
    ap.add_argument("--only", default="", help="with --recheck: only these mutants (comma-separated names)")
    ap.add_argument("--warm-memo", action="store_true",
                    help="with --recheck: keep the per-spec memo tables on (a mutant of a memo's guard)")
    ap.add_argument("--tests", default="", help="with --recheck: run only these tests (comma-separated node ids)")
    ap.add_argument("--resume", action="store_true",
                    help="use the work folder as it is (no fresh copy of the checkout: a rebase since does not "
                         "make the mutants anew)")
    ap.add_argument("--reset", action="store_true",
                    help="keep the mutants, forget results and test statistics (after tests changed)")
    args = ap.parse_args()
    t0 = time.monotonic()
    mods = args.modules.split(",")
    ran: dict[str, str] = {}
    meta = WORK / "run.json"
    if args.per_module is None:
        last = json.loads(meta.read_text(encoding="utf-8")).get("per_module") if meta.exists() else None
        args.per_module = last if args.report_only and last is not None else 25
    if not args.report_only:
        if args.fresh and WORK.exists():
            shutil.rmtree(WORK)
        if not args.resume:
            prepare()
        if args.reset:
            reset_results()
        if not all(m in load_results() for m in mods):  # first run: let mutmut make the mutants
            mutmut(["run", "no.such.mutant"], "run.log", args.budget, args.children)
        meta.write_text(json.dumps({"per_module": args.per_module}), encoding="utf-8")
        res = load_results()
        picked = {m: sample(list(res.get(m, {})), args.per_module) for m in mods}
        todo = {m: [n for n in picked[m] if res[m].get(n) is None] for m in mods}
        print(f"{sum(map(len, todo.values()))} mutants to run ({args.per_module} per module)", flush=True)
        ran = dict.fromkeys(mods, "done")
        rounds = max(args.rounds, 1)
        for i in range(rounds):
            # slice i of every module's sample (in hash order), so each round reaches every module
            names = [n for m in mods for n in sorted(todo[m], key=lambda n: hashlib.sha1(n.encode()).hexdigest())
                     [len(todo[m]) * i // rounds:len(todo[m]) * (i + 1) // rounds]]
            left = args.budget - (time.monotonic() - t0)
            if not names:
                continue
            if left < 60:
                ran = dict.fromkeys(mods, "cut short (budget)")
                break
            print(f"round {i + 1}/{rounds}: {len(names)} mutants", flush=True)
            state = mutmut(["run", *names], "run.log", left, args.children)
            if state != "done":
                ran = dict.fromkeys(mods, state)
                break
    if args.recheck > 0:
        recheck(args.recheck, 300.0, args.per_module, set(args.only.split(",")) if args.only else None,
                args.tests.split(",") if args.tests else None, args.warm_memo)
    k, n = report(args.report, ran, time.monotonic() - t0, args.per_module)
    print(f"mutation score: {k}/{n} = {k / n * 100 if n else 0:.1f}% -> {args.report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
