#!/usr/bin/env bash
# smsprovd(8) documents every option of the daemon: each long option of the option table in
# src/daemon/main.c appears in the man page as \-\-name, and in --help; the page renders.
set -uo pipefail
src=$SOURCE_ROOT/src/daemon
fails=0
options=$(sed -n '/static const struct option options\[\]/,/^ *};/p' "$src/main.c" |
        sed -n 's/^ *{ "\([a-z-]*\)",.*/\1/p')
[ "$(echo "$options" | wc -w)" -ge 15 ] || { echo "not ok - cannot read the option table ($options)"; exit 1; }
for o in $options; do
        escaped=$(echo "$o" | sed 's/-/\\\\-/g')
        if grep -q -- "\\\\-\\\\-$escaped\\b" "$src/smsprovd.8"; then
                echo "ok - smsprovd.8 documents --$o"
        else
                echo "not ok - smsprovd.8 does not document --$o"
                fails=$((fails + 1))
        fi
        if "$SMSPROVD" --help | grep -q -- "--$o\\b"; then
                echo "ok - --help lists --$o"
        else
                echo "not ok - --help does not list --$o"
                fails=$((fails + 1))
        fi
done
if command -v man >/dev/null; then
        out=$(MANWIDTH=100 man -l "$src/smsprovd.8" 2>&1)
        case "$out" in
        *"CONFIGURATION FILE"*"EXIT STATUS"*) echo "ok - the man page renders" ;;
        *) echo "not ok - the man page does not render: $(echo "$out" | head -5)"; fails=$((fails + 1)) ;;
        esac
fi
exit $((fails > 0))
