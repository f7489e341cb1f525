#!/usr/bin/env python3
"""Runs a command on a pseudo-terminal and answers its prompts.

Usage: init_pty.py STEPS_JSON CMD [ARG...]

STEPS_JSON is a list of [expect, answer]: wait until `expect` appears in
the output after the previous step, then type `answer` and Enter; an
answer of null types the end-of-input character (Ctrl-D) instead, and
false types nothing (a step that only waits). After
the last step the command's output is read until it exits.

Prints one JSON object on stdout: {"status": exit status, "transcript":
everything the terminal showed}. Exits 3 if an expected text does not
appear within 30 seconds (the transcript so far is printed).
"""

import json
import os
import select
import subprocess
import sys
import time

TIMEOUT = 30.0


def main():
    steps = json.loads(sys.argv[1])
    cmd = sys.argv[2:]
    master, slave = os.openpty()
    child = subprocess.Popen(
        cmd, stdin=slave, stdout=slave, stderr=slave, start_new_session=True
    )
    os.close(slave)
    seen = b""

    def read_some(deadline):
        nonlocal seen
        ready, _, _ = select.select([master], [], [], max(0.0, deadline - time.time()))
        if not ready:
            return False
        try:
            data = os.read(master, 4096)
        except OSError:  # EIO: the child closed the terminal
            return None
        if not data:
            return None
        seen += data
        return True

    def fail(why):
        child.kill()
        child.wait()
        print(json.dumps({"status": None, "error": why, "transcript": seen.decode("utf-8", "replace")}))
        sys.exit(3)

    start = 0
    for expect, answer in steps:
        want = expect.encode()
        deadline = time.time() + TIMEOUT
        while want not in seen[start:]:
            got = read_some(deadline)
            if got is None:
                fail(f"the command ended before {expect!r}")
            if got is False:
                fail(f"no {expect!r} within {TIMEOUT} s")
        start = seen.index(want, start) + len(want)
        if answer is None:
            os.write(master, b"\x04")
        elif answer is False:
            pass
        else:
            os.write(master, answer.encode() + b"\n")
    deadline = time.time() + TIMEOUT
    while True:
        got = read_some(deadline)
        if got is None:
            break
        if got is False:
            fail(f"the command did not end within {TIMEOUT} s")
    status = child.wait(timeout=TIMEOUT)
    os.close(master)
    print(json.dumps({"status": status, "transcript": seen.decode("utf-8", "replace")}))


if __name__ == "__main__":
    main()
