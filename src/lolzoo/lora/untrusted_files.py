"""Open files that came from a hub: regular files only, never blocking, with size caps.

A path named x.safetensors may be a FIFO (open() would wait forever for a writer), a symlink
to /dev/zero (endless bytes) or a directory. We open with O_NONBLOCK, so that open() returns
at once whatever the file is, then refuse anything fstat does not call a regular file.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

from lolzoo.lora.types import LoraFormatError

_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def open_regular_file(path: str | Path) -> BinaryIO:
    """The file opened for binary reading; LoraFormatError naming the path if it is not a regular file."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as err:
        raise LoraFormatError(f"{path}: cannot read: {err.strerror or err}") from err
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
        raise LoraFormatError(f"{path}: refusing to read {kind}: expected a regular file")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


def read_capped_text(path: str | Path, max_bytes: int) -> str:
    """A small UTF-8 text file (a JSON config), refused unread when larger than max_bytes."""
    with open_regular_file(path) as handle:
        size = os.fstat(handle.fileno()).st_size
        if size > max_bytes:
            raise LoraFormatError(f"{path}: {size} bytes, more than the {max_bytes}-byte cap for this file")
        raw = handle.read(max_bytes + 1)  # the file may have grown since fstat
    if len(raw) > max_bytes:
        raise LoraFormatError(f"{path}: more than the {max_bytes}-byte cap for this file")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise LoraFormatError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None
