"""Reading a sandbox's out dir from the host: it holds files written by the sandbox, so every
step is opened relative to its parent with O_NOFOLLOW (no symlink, no '..', no race)."""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Sequence
from pathlib import Path

from shared.sandbox.base import (
    SandboxError,
    SandboxFileNotFound,
    UnsafePath,
)


def safe_parts(path: str, *, allow_empty: bool) -> list[str]:
    """Components of a relative out-dir path; UnsafePath for absolute paths, '..', NULs."""
    if not isinstance(path, str) or "\0" in path or "\\" in path:
        raise UnsafePath(f"unsafe path {path!r}")
    if path.startswith("/"):
        raise UnsafePath(f"absolute path {path!r} refused (paths are relative to the out dir)")
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise UnsafePath(f"path {path!r} refused: '..' is not allowed")
    if not parts and not allow_empty:
        raise UnsafePath("empty path")
    return parts


def open_dir_chain(root: Path, parts: Sequence[str]) -> int:
    """Open ``root/parts...`` as a directory, refusing symlinks at every step. Caller closes."""
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(root, flags)
    try:
        for part in parts:
            try:
                nxt = os.open(part, flags, dir_fd=fd)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    with contextlib.suppress(OSError):
                        if stat.S_ISLNK(os.stat(part, dir_fd=fd, follow_symlinks=False).st_mode):
                            raise UnsafePath(f"symlink {part!r} in the path refused") from exc
                raise
            os.close(fd)
            fd = nxt
    except BaseException:
        os.close(fd)
        raise
    return fd


def list_out_files(out_dir: Path, subdir: str = "") -> list[str]:
    """Regular files under ``out_dir/subdir`` (relative paths, sorted); symlinks are never followed."""
    parts = safe_parts(subdir, allow_empty=True)
    try:
        top = open_dir_chain(out_dir, parts)
    except FileNotFoundError:
        return []
    prefix = "/".join(parts)
    found: list[str] = []
    try:
        for dirpath, _dirs, files, dirfd in os.fwalk(".", dir_fd=top, follow_symlinks=False):
            rel = os.path.normpath(dirpath)
            for name in files:
                try:
                    st = os.stat(name, dir_fd=dirfd, follow_symlinks=False)
                except OSError:
                    continue
                if stat.S_ISREG(st.st_mode):
                    path = name if rel == "." else f"{rel}/{name}"
                    found.append(f"{prefix}/{path}" if prefix else path)
            if len(found) > 100_000:
                raise SandboxError("too many files in the sandbox out dir")
    finally:
        os.close(top)
    return sorted(found)


def read_out_file(out_dir: Path, path: str, *, sandbox_id: str, max_read_bytes: int) -> bytes:
    """Bytes of ``out_dir/path``, a regular file reached without following a symlink, capped."""
    parts = safe_parts(path, allow_empty=False)
    try:
        parent = open_dir_chain(out_dir, parts[:-1])
    except FileNotFoundError as exc:
        raise SandboxFileNotFound(f"{path!r} not in the out dir of {sandbox_id}") from exc
    try:
        try:
            fd = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=parent)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise UnsafePath(f"{path!r} is a symlink; refused") from exc
            if exc.errno == errno.ENOENT:
                raise SandboxFileNotFound(f"{path!r} not in the out dir of {sandbox_id}") from exc
            raise
    finally:
        os.close(parent)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UnsafePath(f"{path!r} is not a regular file")
        if st.st_size > max_read_bytes:
            raise SandboxError(f"{path!r} is larger than {max_read_bytes} bytes")
        chunks: list[bytes] = []
        size = 0
        while chunk := os.read(fd, 1024 * 1024):
            size += len(chunk)
            if size > max_read_bytes:
                raise SandboxError(f"{path!r} is larger than {max_read_bytes} bytes")
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)
