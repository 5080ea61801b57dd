#!/usr/bin/env python3
# Runs a command on a pseudo-terminal, presses Ctrl-C once its output shows WHEN, answers ANSWER to
# the question that follows, and passes on the output and the exit status:
#   pty-interrupt.py [--release HOLD-FILE] WHEN ANSWER COMMAND ARG…
# --release removes a test point's hold file once the question is answered, so that a held job
# goes on after the answer.
import os
import pty
import select
import sys
import time

args = sys.argv[1:]
release = None
if args[0] == "--release":  # a test point's hold file, removed once the question is answered
    release, args = args[1], args[2:]
when, answer, argv = args[0].encode(), args[1].encode(), args[2:]
pid, fd = pty.fork()
if pid == 0:
    os.execv(argv[0], argv)

out = b""


def read_until(needle, timeout=300):
    global out
    end = time.time() + timeout
    while (needle is None or needle not in out) and time.time() < end:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if not ready:
            continue
        try:
            data = os.read(fd, 4096)
        except OSError:
            return False
        if not data:
            return False
        out += data
    return needle is not None and needle in out


if read_until(when):
    os.write(fd, b"\x03")
    if read_until(b"[y/N]"):
        os.write(fd, answer + b"\n")
if release:
    try:
        os.remove(release)
    except FileNotFoundError:
        pass
read_until(None)
_, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace"))
sys.exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128)
