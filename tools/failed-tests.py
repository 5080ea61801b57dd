#!/usr/bin/env python3
"""Prints what failed in a meson test run, short enough to read at the end of tools/test.sh.

    tools/failed-tests.py BUILD_DIR [LINES]

For each test whose result is not OK (or SKIP) in BUILD_DIR/meson-logs/testlog.json: its name,
result and duration, every failure line (TAP "not ok" with the "#" comments after it, cmocka's
[  FAILED  ], a sanitizer's report), and the last LINES
(default 25) lines of its output. Prints nothing when every test passed; exits 1 when it printed
a failure, 0 otherwise. The whole log stays in BUILD_DIR/meson-logs/testlog.txt.
"""
import json
import os
import sys

PASSED = {"OK", "SKIP", "EXPECTEDFAIL"}


# What starts a failure's report: TAP, cmocka, the sanitizers.
FAILURE_MARKS = ("not ok", "[  FAILED  ]", "[  ERROR   ]")
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")


def failure_lines(output):
    """The failure lines and the diagnostics right after each."""
    picked, after_failure = [], False
    for line in output.splitlines():
        if line.startswith(FAILURE_MARKS) or any(m in line for m in SANITIZER_MARKS):
            picked.append(line)
            after_failure = True
        elif after_failure and line.startswith("#"):
            picked.append(line)
        else:
            after_failure = False
    return picked


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    build_dir = sys.argv[1]
    tail = int(sys.argv[2]) if len(sys.argv) > 2 else 25
    path = os.path.join(build_dir, "meson-logs", "testlog.json")
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            runs = [json.loads(line) for line in f if line.strip()]
    except OSError as e:
        print(f"failed-tests: {path}: {e.strerror}")
        return 1
    failed = [r for r in runs if r.get("result") not in PASSED]
    for r in failed:
        output = (r.get("stdout") or "") + (r.get("stderr") or "")
        print(f"--- {build_dir}: {r.get('name')}: {r.get('result')} after {r.get('duration', 0):.1f}s")
        for line in failure_lines(output):
            print(f"    {line}")
        lines = output.splitlines()
        print(f"    (last {min(tail, len(lines))} of {len(lines)} lines:)")
        for line in lines[-tail:]:
            print(f"    | {line[:300]}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
