#!/usr/bin/env bash
# The provider driven with busctl, the way an admin would from a shell.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

world_start || exit 1
trap world_stop EXIT

ROOT=/org/smsprov/Provider1
BASE=org.smsprov.Provider1.SMS_PackageBaseclass
DEST=org.smsprov.Provider1

expect_eq "SiteCode" 's "LAB"' "$(B get-property $DEST $ROOT org.smsprov.Provider1.Site SiteCode)"

make_wim "$WORLD/content/boot.wim" 9
out=$(B call $DEST $ROOT/class/SMS_BootImagePackage org.smsprov.Provider1.Class Create 'a{sv}' 2 \
        Name s "WinPE x64" ImagePath s "$WORLD/content/boot.wim")
expect_eq "Create boot image" "oo \"$ROOT/SMS_BootImagePackage/LAB00001\" \"$ROOT/job/_1\"" "$out"
# The build: the job ends completed (State 2) and the package points at the built WIM.
_built() { [ "$(B get-property $DEST $ROOT/job/_1 org.smsprov.Provider1.Job State 2>/dev/null)" = "u 2" ]; }
wait_until "the build job to complete" _built
expect_eq "build job completed" "u 2" "$(B get-property $DEST $ROOT/job/_1 org.smsprov.Provider1.Job State)"
P=$ROOT/SMS_BootImagePackage/LAB00001

expect_eq "Name" 's "WinPE x64"' "$(B get-property $DEST $P $BASE Name)"
expect_eq "PackageType" 'u 258' "$(B get-property $DEST $P $BASE PackageType)"
expect_eq "lazy ScratchSpace by Get" 'u 512' "$(B get-property $DEST $P org.smsprov.Provider1.SMS_BootImagePackage ScratchSpace)"
if B introspect --xml-interface $DEST $P | grep -A1 '<property name="ScratchSpace"' | grep -q 'Explicit" value="true"'; then
        ok "ScratchSpace is explicit (lazy)"
else
        not_ok "ScratchSpace is not marked explicit"
fi

B call $DEST $P $BASE Put 'a{sv}' 2 Description s "lab boot image" PkgFlags u 2048 >/dev/null && ok "Put" || not_ok "Put"
expect_eq "Description after Put" 's "lab boot image"' "$(B get-property $DEST $P $BASE Description)"
expect_eq "PkgFlags after Put" 'u 2048' "$(B get-property $DEST $P $BASE PkgFlags)"

B call $DEST $P $BASE Put 'a{sv}' 1 RefreshSchedule 'a(sa{sv})' 1 SMS_ST_RecurInterval 1 DaySpan u 1 >/dev/null 2>&1 \
        && not_ok "RefreshSchedule without PkgSourceFlag 2 accepted" || ok "RefreshSchedule needs PkgSourceFlag 2"
B call $DEST $P $BASE Put 'a{sv}' 2 PkgSourceFlag u 2 RefreshSchedule 'a(sa{sv})' 1 SMS_ST_RecurInterval 1 DaySpan u 1 \
        >/dev/null && ok "Put RefreshSchedule" || not_ok "Put RefreshSchedule"
case "$(B get-property $DEST $P $BASE RefreshSchedule)" in
*SMS_ST_RecurInterval*DaySpan*"u 1"*) ok "RefreshSchedule reads back" ;;
*) not_ok "RefreshSchedule reads back: $(B get-property $DEST $P $BASE RefreshSchedule)" ;;
esac

out=$(B call $DEST $ROOT org.smsprov.Provider1.Site ExecQuery s \
        "SELECT PackageID, Name FROM SMS_PackageBaseclass WHERE Name LIKE 'winpe%'")
case "$out" in
*LAB00001*'"WinPE x64"'*) ok "ExecQuery" ;;
*) not_ok "ExecQuery: $out" ;;
esac
expect_eq "GetObject" "o \"$P\"" \
        "$(B call $DEST $ROOT org.smsprov.Provider1.Site GetObject s 'SMS_BootImagePackage.PackageID="LAB00001"')"

expect_fail WBEM_E_VALUE_OUT_OF_RANGE "ScratchSpace 100" call $DEST $P $BASE Put 'a{sv}' 1 ScratchSpace u 100
expect_fail WBEM_E_INVALID_PROPERTY "unknown property" call $DEST $P $BASE Put 'a{sv}' 1 Bogus s x
expect_fail WBEM_E_READ_ONLY "read-only property" call $DEST $P $BASE Put 'a{sv}' 1 SourceVersion u 3
expect_fail WBEM_E_TYPE_MISMATCH "wrong type" call $DEST $P $BASE Put 'a{sv}' 1 Name u 3
expect_fail WBEM_E_NOT_SUPPORTED "abstract class" call $DEST $ROOT/class/SMS_PackageBaseclass \
        org.smsprov.Provider1.Class Create 'a{sv}' 0
expect_fail WBEM_E_READ_ONLY "caller-supplied PackageID" call $DEST $ROOT/class/SMS_ImagePackage \
        org.smsprov.Provider1.Class Create 'a{sv}' 1 PackageID s LAB000AA
expect_fail WBEM_E_ACCESS_DENIED "path outside the content roots" call $DEST $ROOT/class/SMS_BootImagePackage \
        org.smsprov.Provider1.Class Create 'a{sv}' 1 ImagePath s /etc/hostname
expect_fail WBEM_E_INVALID_QUERY "malformed WQL" call $DEST $ROOT org.smsprov.Provider1.Site ExecQuery s "SELECT FROM"
expect_fail WBEM_E_INVALID_CLASS "unknown class in WQL" call $DEST $ROOT org.smsprov.Provider1.Site ExecQuery s \
        "SELECT * FROM SMS_Package"
expect_fail WBEM_E_NOT_FOUND "unknown WMI path" call $DEST $ROOT org.smsprov.Provider1.Site GetObject s \
        'SMS_ImagePackage.PackageID="LAB00FFF"'

sedo=$(B get-property $DEST $P $BASE SedoObjectVersion | cut -d'"' -f2)
B call $DEST $P $BASE Put 'a{sv}' 2 SedoObjectVersion s "$sedo" Version s 1.0 >/dev/null && ok "Put with current SedoObjectVersion" \
        || not_ok "Put with current SedoObjectVersion"
expect_fail "read it again" "stale SedoObjectVersion" call $DEST $P $BASE Put 'a{sv}' 2 SedoObjectVersion s "$sedo" Version s 2.0

B call $DEST $P $BASE SetSourceSite s CAS >/dev/null && ok "SetSourceSite" || not_ok "SetSourceSite"
expect_fail WBEM_E_ACCESS_DENIED "locked package" call $DEST $P $BASE Put 'a{sv}' 1 Version s 3.0
B call $DEST $P $BASE Unlock >/dev/null && ok "Unlock" || not_ok "Unlock"

# Another user may read but not write (same-uid rule of private buses, API.md §8).
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
        nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups busctl --address="$SMSPROV_BUS" "$@"; }
        expect_eq "nobody reads" 's "WinPE x64"' "$(nobody get-property $DEST $P $BASE Name 2>&1)"
        out=$(nobody call $DEST $P $BASE Put 'a{sv}' 1 Version s 9 2>&1) && not_ok "nobody may write" || {
                case "$out" in *"Access denied"*) ok "nobody is denied a write" ;; *) not_ok "nobody write: $out" ;; esac
        }
        expect_eq "nothing changed" 's "1.0"' "$(B get-property $DEST $P $BASE Version)"
else
        ok "# SKIP other-user checks need root and setpriv"
fi

B call $DEST $P $BASE Delete >/dev/null && ok "Delete" || not_ok "Delete"
out=$(B get-property $DEST $P $BASE Name 2>&1) && not_ok "deleted object still answers" || ok "deleted object is gone"

# --config: options from a file ("name = value"), the command line winning.
daemon_stop TERM
mkdir -p "$WORLD/content2"
# A new site: a state directory of its own, and on PostgreSQL a database of its own.
database2=$(new_database "site_${WORLD##*.}_2") || not_ok "a second database"
cat > "$WORLD/smsprovd.conf" <<CONF
# an smsprovd configuration file
site-code = CFG
state-dir = $WORLD/state2
content-root = $WORLD/content2
log-level = warning
${database2:+database = $database2}
CONF
"$SMSPROVD" --config="$WORLD/smsprovd.conf" --bus-address="$SMSPROV_BUS" &
WORLD_DAEMON=$!
_up() { B status $DEST >/dev/null 2>&1; }
wait_until "the daemon of --config to own its name" _up
expect_eq "site code from --config" 's "CFG"' "$(B get-property $DEST $ROOT org.smsprov.Provider1.Site SiteCode)"
"$SMSPROVD" --config="$WORLD/nonexistent.conf" --bus-address="$SMSPROV_BUS" 2>/dev/null && not_ok "a missing config file was accepted" \
        || ok "a missing config file is an error"

trap - EXIT
world_stop
finish
