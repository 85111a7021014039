"""A round: one year, one department's tree of units, one spec, one office key, in one folder.

Every command run inside the folder (or given ``--round DIR``) takes its settings from here, never
from flags or environment variables a user forgets::

    DIR/
      round.yaml        what the round is: year, database, the current spec (by hash)
      juesuan.sqlite    the database (mode 0600: it holds the office key), unless round.yaml
                        names a PostgreSQL URL
      specs/<hash>/     every spec the round has used, copied in and addressed by its content hash
                        (also kept whole in the database: a folder lost is rewritten from it)
      units.csv         the unit tree (``juesuan units set``)
      profile.yaml      the publishing profile (``juesuan profile set``)
      returned/         the returned workbooks, for ``juesuan collect``
      templates/        the templates sent to the units
      out/              reports, feedback, 汇总, the published report
      README.txt        what to do next

A package upgrade never changes a running round: its spec is the copy, not the installed package's.
Reading, consolidating and publishing a submission use the exact spec it was built with (by hash).
The library never reads the environment for these: :class:`Settings` carries them explicitly.
"""

from __future__ import annotations

import os
import secrets
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.catalog import load_spec
from ..core.clock import now
from ..core.spec import Spec
from .store import Store

ROUND_FILE = "round.yaml"
DB_NAME = "juesuan.sqlite"
KEY_META = "fingerprint_key"
FOLDERS = ("returned", "templates", "out")


class RoundError(Exception):
    """A round that cannot be used or created; message in Chinese."""


@dataclass
class Settings:
    """What a flow runs with, passed explicitly (the CLI maps its flags and, outside a round, the
    ``JUESUAN_*`` variables onto it; the web page and the engines receive it whole)."""

    spec: Spec
    db: str | None = None
    key: str | None = None
    limits: Any = None  # an xlsx.ooxml.Limits, or None for the reader's defaults
    round: Round | None = None


def spec_files(root: Path) -> dict[str, str]:
    """A spec folder's files as {relative path: text} (YAML only: what the parser reads)."""
    out: dict[str, str] = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and p.suffix in (".yaml", ".yml"):
            out[p.relative_to(root).as_posix()] = p.read_text(encoding="utf-8")
    return out


def write_spec_files(root: Path, files: dict[str, str]) -> None:
    """Write a spec folder (whole, or not at all); a folder already there is the same spec (by hash)."""
    if root.exists():
        return
    tmp = root.with_name(f".{root.name}.{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    for rel, text in files.items():
        target = tmp / rel
        if ".." in Path(rel).parts or Path(rel).is_absolute():
            raise RoundError(f"规格文件名不合法：{rel}")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    os.replace(tmp, root)


def _dump_config(config: dict[str, Any]) -> str:
    import yaml

    head = "# juesuan 决算公开轮次（由 juesuan init 建立；请用 juesuan 命令修改，不要手工编辑）\n"
    return head + yaml.safe_dump(config, allow_unicode=True, sort_keys=False)


def _private_file(path: Path) -> None:
    """A file only its owner may read (the database holds the office key)."""
    for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if p.exists():
            os.chmod(p, 0o600)


@dataclass
class Round:
    """A round folder (see the module doc). Open one with :func:`open_round` or :func:`find_round`."""

    root: Path
    config: dict[str, Any] = field(default_factory=dict)

    # -- what the round is
    @property
    def year(self) -> int:
        return int(self.config.get("year") or 0)

    @property
    def name(self) -> str:
        return str(self.config.get("name") or self.root.name)

    @property
    def db(self) -> str:
        """The database: a PostgreSQL URL, or the SQLite file (relative paths are the round's)."""
        value = str(self.config.get("database") or DB_NAME)
        if "://" in value:
            return value
        path = Path(value)
        return str(path if path.is_absolute() else self.root / path)

    @property
    def spec_hash(self) -> str:
        return str(self.config.get("spec") or "")

    def folder(self, name: str) -> Path:
        return self.root / name

    @property
    def units_file(self) -> Path | None:
        p = self.root / "units.csv"
        return p if p.is_file() else None

    @property
    def profile_file(self) -> Path | None:
        p = self.root / "profile.yaml"
        return p if p.is_file() else None

    def store(self, create: bool = True) -> Store:
        store = Store(self.db, create=create)
        if store.path is not None:
            _private_file(store.path)
        return store

    # -- specs
    def spec_dir(self, spec_hash: str | None = None) -> Path:
        """The folder of the spec ``spec_hash`` (default: the current one), rewritten from the
        database if it was lost."""
        h = spec_hash or self.spec_hash
        folder = self.root / "specs" / h
        if not (folder / "spec.yaml").is_file():
            with self.store(create=False) as store:
                files = store.spec_files(h)
            if files is None:
                raise RoundError(f"本轮次没有规格 {h}（specs/{h} 不存在，数据库中也没有）")
            write_spec_files(folder, files)
        return folder

    def spec(self, spec_hash: str | None = None) -> Spec:
        return load_spec(self.spec_dir(spec_hash))

    def spec_dirs(self) -> list[Path]:
        """Every spec the round has used, the current one first (what a reader may meet)."""
        with self.store(create=False) as store:
            kept = [h for h, _v, _a in store.spec_versions()]
        ordered = [self.spec_hash, *[h for h in reversed(kept) if h != self.spec_hash]]
        return [self.spec_dir(h) for h in ordered]

    def collected_spec(self, store: Store) -> Spec:
        """The spec the round's database was last collected with (by hash), else the current one."""
        try:
            return self.spec(store.get_meta("spec_hash") or None)
        except RoundError:
            return self.spec()

    def keep_spec(self, spec: Spec) -> None:
        """Keep ``spec`` in the round: its folder under specs/<hash> and its files in the database."""
        files = spec_files(spec.root)
        write_spec_files(self.root / "specs" / spec.hash, files)
        with self.store() as store:
            store.begin()
            store.add_spec_files(spec.hash, spec.version, spec.year, files)
            store.commit()

    def add_spec(self, source: Path, make_current: bool = True) -> Spec:
        """Copy the spec folder ``source`` into the round (by hash) and keep it in the database."""
        spec = load_spec(source)
        self.keep_spec(spec)
        if make_current:
            self.config["spec"] = spec.hash
            self.config["spec_version"] = spec.version
            self.save()
        return self.spec(spec.hash)

    # -- the office key
    def key(self) -> str | None:
        with self.store(create=False) as store:
            return store.get_meta(KEY_META)

    # -- units and profile
    def set_units(self, source: Path) -> int:
        """Take the units file into the round (as ``units.csv``; each unit's data file copied into
        ``data/``) and its tree into the database; returns how many units. Any error in the file is
        refused whole (nothing changes)."""
        import csv
        import io

        from .collect import load_tree

        tree = load_tree(source)
        bad = [f for f in tree.findings if f.severity == "error"]
        if not tree.units or bad:
            why = "；".join(f.message for f in bad[:5]) or "没有可用的单位"
            raise RoundError(f"单位清单 {source} 有误：{why}")
        rows = list(csv.DictReader(source.read_text(encoding="utf-8-sig").splitlines()))
        fields = list(rows[0].keys()) if rows else ["code", "name", "parent"]
        copies: list[tuple[Path, Path]] = []
        for row in rows:
            data = (row.get("data") or "").strip()
            if data:
                src = (source.parent / data).resolve()
                if not src.is_file():
                    raise RoundError(f"单位清单 {source} 中单位 {row.get('code')} 的数据文件 {data} 不存在")
                row["data"] = f"data/{(row.get('code') or '').strip()}-{src.name}"
                copies.append((src, self.root / row["data"]))
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        for src, dst in copies:
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dst)
        (self.root / "units.csv").write_text(out.getvalue(), encoding="utf-8")
        with self.store() as store:
            store.replace_units(tree.rows())
        return len(tree.units)

    def set_profile(self, source: Path) -> None:
        shutil.copyfile(source, self.root / "profile.yaml")

    def save(self) -> None:
        tmp = self.root / f".{ROUND_FILE}.{os.getpid()}"
        tmp.write_text(_dump_config(self.config), encoding="utf-8")
        os.replace(tmp, self.root / ROUND_FILE)


def open_round(root: Path) -> Round:
    import yaml

    path = Path(root) / ROUND_FILE
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RoundError(f"{root} 不是决算轮次目录（没有 {ROUND_FILE}；用 juesuan init 建立）") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise RoundError(f"无法读取 {path}：{exc}") from exc
    if not isinstance(config, dict) or not config.get("spec"):
        raise RoundError(f"{path} 内容不完整（缺少 spec）；请用 juesuan init 重新建立")
    return Round(Path(root).resolve(), config)


def find_round(start: Path) -> Round | None:
    """The round whose folder holds ``start`` (like git finds its repository), or None."""
    here = Path(start).resolve()
    for folder in (here, *here.parents):
        if (folder / ROUND_FILE).is_file():
            return open_round(folder)
    return None


README = """\
{name}：{year} 年度部门决算公开轮次

本目录由 juesuan init 建立。在本目录（或其子目录）中运行的 juesuan 命令，自动使用本轮次的
规格、数据库、指纹密钥、单位清单和公开设置，无需再给 --specs、--db、--key。

下一步：
  1. juesuan codes import 科目代码表.xlsx     导入本年度支出功能分类科目（可选，默认用随附的代码表）
  2. juesuan units set 单位清单.csv           登记单位树（code,name,parent[,data][,kind][,subjects]）
  3. juesuan build                            为每个单位生成模板，写入 templates/
  4. 把模板发给各单位；收回的工作簿放进 returned/（或用 juesuan serve 开报送网页）
  5. juesuan collect                          收集审核，报告在 out/
  6. juesuan feedback                         给各单位写审核反馈，写入 out/反馈/
  7. juesuan consolidate 主管部门代码         逐级汇总，写入 out/
  8. juesuan publish 单位代码                 生成部门决算公开报告，写入 out/公开/

目录：round.yaml（轮次设置）、{db}（数据库，含指纹密钥，请备份、勿外发）、specs/（本轮所用规格）、
returned/、templates/、out/。
"""


def init_round(root: Path, year: int, specs: Path, db: str | None = None, name: str | None = None) -> Round:
    """Create a round in ``root`` (empty or new): database, the spec copied in, a real office key."""
    root = Path(root)
    if (root / ROUND_FILE).exists():
        raise RoundError(f"{root} 已经是一个决算轮次（{ROUND_FILE} 已存在）")
    if root.exists() and any(p for p in root.iterdir() if not p.name.startswith(".")):
        raise RoundError(f"目录 {root} 不是空的；请给一个新目录")
    spec = load_spec(specs)
    if spec.year and spec.year != year:
        raise RoundError(f"规格 {specs} 是 {spec.year} 年度的，与轮次年度 {year} 不符")
    root.mkdir(parents=True, exist_ok=True)
    for sub in FOLDERS:
        (root / sub).mkdir(exist_ok=True)
    config: dict[str, Any] = {"name": name or root.resolve().name, "year": year, "database": db or DB_NAME,
                              "spec": spec.hash, "spec_version": spec.version, "created": now()}
    rnd = Round(root.resolve(), config)
    with rnd.store() as store:
        store.begin()
        if not store.get_meta(KEY_META):
            store.set_meta(KEY_META, secrets.token_urlsafe(32))
        store.set_meta("round_year", str(year))
        store.set_meta("review_required", "1")  # office.review.REVIEW_META: a round's 汇总 take approved reports
        store.commit()
    rnd.add_spec(specs)  # saves round.yaml last: a half-made folder is no round
    (root / "README.txt").write_text(README.format(name=rnd.name, year=year, db=config["database"]), encoding="utf-8")
    if rnd.db and "://" not in rnd.db:
        _private_file(Path(rnd.db))
    return rnd
