"""Every file the tool writes is written atomically: a temporary file, then a rename.

The file gets the mode an ordinary new file gets (0666 less the umask: 0644 under the usual 022),
not the 0600 of a temporary file, so colleagues on a shared drive can open what the tool wrote."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def new_file_mode() -> int:
    """The mode of a newly created ordinary file under the current umask."""
    return 0o666 & ~_umask()


def atomic_write_bytes(path: Path, data: bytes | Iterable[bytes]) -> None:
    """``data``: the bytes, or chunks of them (written as they come: a long report is never
    held in memory whole)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, new_file_mode())
        with os.fdopen(fd, "wb") as fh:
            if isinstance(data, bytes | bytearray):
                fh.write(data)
            else:
                for chunk in data:
                    fh.write(chunk)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def atomic_write_text(path: Path, text: str | Iterable[str]) -> None:
    """UTF-8 text, or chunks of it (see :func:`atomic_write_bytes`)."""
    if isinstance(text, str):
        atomic_write_bytes(path, text.encode("utf-8"))
    else:
        atomic_write_bytes(path, (chunk.encode("utf-8") for chunk in text))
