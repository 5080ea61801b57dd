#!/usr/bin/env bash
# The README's examples (its ```sh blocks), run in order exactly as written, against a daemon
# laid out the way tools/run.sh lays it out (readme_world_start, lib.sh).
set -uo pipefail
. "$(dirname "$0")/lib.sh"

readme_world_start || exit 1
blocks=$(grep -c '^```sh$' "$SOURCE_ROOT/README.md")
[ "$blocks" -ge 5 ] && ok "README has $blocks example blocks" || not_ok "README has only $blocks example blocks"

out=$(cd "$WORLD" && bash "$README_SCRIPT" 2>&1)
status=$?
echo "$out" | sed 's/^/    | /'
[ $status -eq 0 ] && ok "README examples run" || not_ok "README examples failed with status $status"
for want in 's "LAB"' 'Boot image (x64)' 'u 256' 'refused, as it should be' 'WBEM_E_VALUE_OUT_OF_RANGE' \
        'Windows 11 Enterprise' '"MessageID" u 30000' 'a(oa{sv})s 2 "/org/smsprov/Provider1/' \
        '"SiteCode" s "LAB" "NamespacePath" s "\\\\' \
        $'NALPath\n["Display=\\\\dp1\\"]MSWNET:["SMS_SITE=LAB"]' \
        's "Net"' 'SMS_BootImagePackage_DriverRef/' 'Contoso Gigabit Adapter'; do
        case "$out" in *"$want"*) ok "output shows $want" ;; *) not_ok "output lacks $want" ;; esac
done

trap - EXIT
world_stop
finish
