#!/usr/bin/env python3
"""Asks an interactive zsh to complete command lines with a completion script.

Usage: zsh_pty.py FPATH_DIR LINE [LINE...]

Starts `zsh -f -i` on a pseudo-terminal with FPATH_DIR first in $fpath,
runs compinit, makes completion print its descriptions as DESC[...] and
its messages as MSG[...], then for each LINE types it, presses Tab, and
waits until the terminal has been quiet for a moment. Prints one JSON
list on stdout: for each LINE, everything the terminal showed after the
Tab (zsh's own errors included, such as "bad pattern").
"""

import json
import os
import pty
import select
import sys
import time

QUIET = 1.0
LIMIT = 20.0


def read_until_quiet(fd):
    out = b""
    start = last = time.time()
    while time.time() - last < QUIET and time.time() - start < LIMIT:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
            last = time.time()
    return out.decode(errors="replace")


def main():
    fpath, lines = sys.argv[1], sys.argv[2:]
    pid, fd = pty.fork()
    if pid == 0:
        os.environ["TERM"] = "dumb"
        os.execvp("zsh", ["zsh", "-f", "-i"])
    setup = (
        f"fpath=({fpath} $fpath); autoload -Uz compinit; compinit -u -D; "
        "zstyle ':completion:*:messages' format 'MSG[%d]'; "
        "zstyle ':completion:*:descriptions' format 'DESC[%d]'; PS1='> '\n"
    )
    os.write(fd, setup.encode())
    read_until_quiet(fd)
    shown = []
    for line in lines:
        os.write(fd, line.encode() + b"\t")
        shown.append(read_until_quiet(fd))
        # Ctrl-U clears the line for the next one.
        os.write(fd, b"\x15")
        read_until_quiet(fd)
    os.write(fd, b"exit\n")
    print(json.dumps(shown))


if __name__ == "__main__":
    main()
