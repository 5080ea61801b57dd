#!/usr/bin/env bash
# Writes by users other than root are decided by polkit (API.md §8), played here by
# python3-dbusmock's polkitd template on the test bus: allowed, denied, each action for its
# methods, a polkit that hangs (others are still served meanwhile, and a caller asking too many questions
# at once is refused at its cap), and no polkit at all.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -ne 0 ] || ! command -v setpriv >/dev/null || ! /usr/bin/python3 -c 'import dbusmock' 2>/dev/null; then
        echo "ok - # SKIP needs root, setpriv and python3-dbusmock"
        echo "1 passed, 0 failed"
        exit 0
fi

world_start --polkit --max-calls-per-caller=3 || exit 1
POLKIT_PID=
stop_all() {
        [ -n "$POLKIT_PID" ] && kill "$POLKIT_PID" 2>/dev/null
        world_stop
}
trap stop_all EXIT

start_polkit() {
        DBUS_SYSTEM_BUS_ADDRESS=$SMSPROV_BUS /usr/bin/python3 -m dbusmock --system --template polkitd >/dev/null 2>&1 &
        POLKIT_PID=$!
        _polkit_up() { B status org.freedesktop.PolicyKit1 >/dev/null 2>&1; }
        wait_until "the polkitd mock to own its name" _polkit_up
}
polkit() { B call org.freedesktop.PolicyKit1 /org/freedesktop/PolicyKit1/Authority org.freedesktop.DBus.Mock "$@"; }
nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups busctl --address="$SMSPROV_BUS" --timeout=60 "$@"; }

DEST=org.smsprov.Provider1
ROOT=/org/smsprov/Provider1
BASE=org.smsprov.Provider1.SMS_PackageBaseclass
start_polkit || exit 1

make_wim "$WORLD/content/boot.wim" 9
chmod 644 "$WORLD/content/boot.wim"
B call $DEST $ROOT/class/SMS_ImagePackage org.smsprov.Provider1.Class Create 'a{sv}' 1 Name s "by root" >/dev/null \
        && ok "root needs no polkit" || not_ok "root was refused"
P=$ROOT/SMS_ImagePackage/LAB00001

# Nothing allowed yet: denied, nothing changed.
out=$(nobody call $DEST $P $BASE Put 'a{sv}' 1 Description s "by nobody" 2>&1) && not_ok "denied write went through" || {
        case "$out" in *"Access denied"*) ok "nobody is denied without authorization" ;; *) not_ok "denied write: $out" ;; esac
}
expect_eq "nothing changed" 's ""' "$(B get-property $DEST $P $BASE Description)"
expect_eq "reads need no polkit" 's "by root"' "$(nobody get-property $DEST $P $BASE Name 2>&1)"
mkdir -p "$WORLD/content/nic"
printf '[Version]\r\nSignature="$Windows NT$"\r\nClass=Net\r\n[Manufacturer]\r\nM=M,NTamd64\r\n[M.NTamd64]\r\n"NIC"=I,PCI\\VEN_1\r\n' \
        >"$WORLD/content/nic/nic.inf"
DRV_STATIC=org.smsprov.Provider1.SMS_Driver.Static
out=$(nobody call $DEST $ROOT/class/SMS_Driver $DRV_STATIC CreateFromINF ss "$WORLD/content/nic" nic.inf 2>&1) \
        && not_ok "CreateFromINF went through without authorization" || {
        case "$out" in *"Access denied"*) ok "CreateFromINF is denied without authorization" ;; *) not_ok "CreateFromINF: $out" ;; esac
}
expect_eq "no driver was imported" "a(oa{sv}) 0" \
        "$(B call $DEST $ROOT org.smsprov.Provider1.Site ExecQuery s 'SELECT CI_ID FROM SMS_Driver')"

# manage-packages allows Put and Create, and nothing else.
polkit SetAllowed as 1 org.smsprov.provider1.manage-packages >/dev/null
nobody call $DEST $P $BASE Put 'a{sv}' 1 Description s "by nobody" >/dev/null 2>&1 && ok "manage-packages allows Put" \
        || not_ok "manage-packages did not allow Put"
expect_eq "the write happened" 's "by nobody"' "$(B get-property $DEST $P $BASE Description)"
nobody call $DEST $ROOT/class/SMS_ImagePackage org.smsprov.Provider1.Class Create 'a{sv}' 1 Name s "n" >/dev/null 2>&1 \
        && ok "manage-packages allows Create" || not_ok "manage-packages did not allow Create"
expect_eq "manage-packages allows CreateFromINF" "o \"$ROOT/SMS_Driver/1\"" \
        "$(nobody call $DEST $ROOT/class/SMS_Driver $DRV_STATIC CreateFromINF ss "$WORLD/content/nic" nic.inf 2>&1)"
nobody call $DEST $ROOT/SMS_Driver/1 org.smsprov.Provider1.SMS_Driver Put 'a{sv}' 1 IsHidden b true >/dev/null 2>&1 \
        && ok "manage-packages allows Put of a driver" || not_ok "manage-packages did not allow Put of a driver"
out=$(nobody call $DEST $P $BASE RefreshPkgSource 2>&1) && not_ok "RefreshPkgSource allowed by manage-packages" \
        || ok "RefreshPkgSource needs distribute-content"
out=$(nobody call $DEST $ROOT/class/SMS_BootImagePackage org.smsprov.Provider1.SMS_BootImagePackage.Static \
        DeleteContextID s x 2>&1) && not_ok "DeleteContextID allowed by manage-packages" \
        || ok "DeleteContextID needs build-images"

# build-images allows the image methods.
polkit SetAllowed as 2 org.smsprov.provider1.manage-packages org.smsprov.provider1.build-images >/dev/null
nobody call $DEST $ROOT/class/SMS_BootImagePackage org.smsprov.Provider1.SMS_BootImagePackage.Static \
        DeleteContextID s x >/dev/null 2>&1 && ok "build-images allows DeleteContextID" || not_ok "build-images refused"
polkit SetAllowed as 1 org.smsprov.provider1.build-images >/dev/null
out=$(nobody call $DEST $ROOT/SMS_Driver/1 org.smsprov.Provider1.SMS_Driver Delete 2>&1) \
        && not_ok "Delete of a driver allowed by build-images" || ok "Delete of a driver needs manage-packages"

# A write is authorized as every action whose work it starts (issue 12 §5): a Put that rebuilds
# needs build-images too, RefreshNow distribute-content, RefreshPkgSource of a boot image both
# distribute-content and build-images. A boot image, and an image package on a DP, made by root.
out=$(B call $DEST $ROOT/class/SMS_BootImagePackage org.smsprov.Provider1.Class Create 'a{sv}' 1 \
        ImagePath s "$WORLD/content/boot.wim")
BI=$(echo "$out" | cut -d'"' -f2)
BI_JOB=$(echo "$out" | cut -d'"' -f4)
_job_done() { [ "$(B get-property $DEST "$1" org.smsprov.Provider1.Job State 2>/dev/null)" = "u 2" ]; }
wait_until "the boot image's first build" _job_done "$BI_JOB"
mkdir -p "$WORLD/dp1"
DP_NAL='["Display=\\dp1\"]MSWNET:["SMS_SITE=LAB"]\\dp1\'
B call $DEST $ROOT/class/SMS_DistributionPointInfo org.smsprov.Provider1.Class Create 'a{sv}' 2 \
        NALPath s "$DP_NAL" ContentRoot s "$WORLD/dp1" >/dev/null || not_ok "DP registration"
OUT=$(B call $DEST $ROOT/class/SMS_ImagePackage org.smsprov.Provider1.Class Create 'a{sv}' 1 \
        PkgSourcePath s "$WORLD/content/boot.wim" | cut -d'"' -f2)
DIST_JOB=$(B call $DEST "$OUT" $BASE AddDistributionPoints asas 1 LAB 1 "$DP_NAL" | cut -d'"' -f2)
wait_until "the first distribution" _job_done "$DIST_JOB"
ASSIGNMENT=$(B call $DEST $ROOT org.smsprov.Provider1.Site ExecQuery s "SELECT * FROM SMS_DistributionPoint" \
        | grep -o '"/org/smsprov/Provider1/SMS_DistributionPoint/[^"]*"' | head -1 | tr -d '"')
ADP=org.smsprov.Provider1.SMS_DistributionPoint
denied() { # denied WHAT COMMAND…: the call fails with AccessDenied
        local what=$1 out
        shift
        if out=$("$@" 2>&1); then not_ok "$what went through"; else
                case "$out" in *"Access denied"*|*"not authorized"*) ok "$what is denied" ;; *) not_ok "$what: $out" ;; esac
        fi
}
sedo() { B get-property $DEST "$1" "$2" SedoObjectVersion; }

polkit SetAllowed as 1 org.smsprov.provider1.manage-packages >/dev/null
before=$(sedo "$BI" $BASE)
denied "Put+RefreshPkgSourceFlag of a boot image with only manage-packages" \
        nobody call $DEST "$BI" $BASE Put 'a{sv}' 2 Description s "rebuilt by nobody" RefreshPkgSourceFlag b true
expect_eq "the denied Put changed nothing" "$before u 0" "$(sedo "$BI" $BASE) $(B get-property $DEST "$BI" $BASE ActionInProgress)"
before=$(sedo "$ASSIGNMENT" $ADP)
denied "RefreshNow with only manage-packages" nobody call $DEST "$ASSIGNMENT" $ADP Put 'a{sv}' 1 RefreshNow b true
expect_eq "the denied RefreshNow changed nothing" "$before" "$(sedo "$ASSIGNMENT" $ADP)"
denied "ScrubContentLibrary with only manage-packages" \
        nobody call $DEST $ROOT org.smsprov.Provider1.Site ScrubContentLibrary

polkit SetAllowed as 2 org.smsprov.provider1.manage-packages org.smsprov.provider1.build-images >/dev/null
nobody call $DEST "$BI" $BASE Put 'a{sv}' 2 Description s "rebuilt by nobody" RefreshPkgSourceFlag b true >/dev/null 2>&1 \
        && ok "manage-packages and build-images allow Put+RefreshPkgSourceFlag of a boot image" \
        || not_ok "Put+RefreshPkgSourceFlag refused with both actions"
expect_eq "its write happened" 's "rebuilt by nobody"' "$(B get-property $DEST "$BI" $BASE Description)"
_rebuilt() { [ "$(B get-property $DEST "$BI" $BASE SourceVersion) $(B get-property $DEST "$BI" $BASE ActionInProgress)" = "u 2 u 0" ]; }
wait_until "the rebuild the Put started" _rebuilt && ok "the Put started the rebuild" || not_ok "no rebuild"
denied "RefreshPkgSource of a boot image without distribute-content" nobody call $DEST "$BI" $BASE RefreshPkgSource

polkit SetAllowed as 1 org.smsprov.provider1.distribute-content >/dev/null
denied "RefreshPkgSource of a boot image with only distribute-content" nobody call $DEST "$BI" $BASE RefreshPkgSource
denied "RefreshNow with only distribute-content" nobody call $DEST "$ASSIGNMENT" $ADP Put 'a{sv}' 1 RefreshNow b true
SCRUB=$(nobody call $DEST $ROOT org.smsprov.Provider1.Site ScrubContentLibrary 2>&1 | cut -d'"' -f2)
case "$SCRUB" in /org/smsprov/Provider1/job/*) ok "distribute-content allows ScrubContentLibrary" ;;
        *) not_ok "ScrubContentLibrary: $SCRUB" ;; esac
wait_until "the scrub" _job_done "$SCRUB"

polkit SetAllowed as 3 org.smsprov.provider1.distribute-content org.smsprov.provider1.build-images \
        org.smsprov.provider1.manage-packages >/dev/null
RP=$(nobody call $DEST "$BI" $BASE RefreshPkgSource 2>&1 | cut -d'"' -f2)
case "$RP" in /org/smsprov/Provider1/job/*) ok "distribute-content and build-images allow RefreshPkgSource of a boot image" ;;
        *) not_ok "RefreshPkgSource: $RP" ;; esac
wait_until "the refresh" _job_done "$RP"
_no_jobs() { [ "$(B call $DEST $ROOT org.smsprov.Provider1.Site ExecQuery s \
        "SELECT * FROM SMS_PackageStatusDistPointsSummarizer WHERE State <> 0" | cut -d' ' -f2)" = 0 ]; }
wait_until "the redistribution after the rebuilds" _no_jobs
nobody call $DEST "$ASSIGNMENT" $ADP Put 'a{sv}' 1 RefreshNow b true >/dev/null 2>&1 \
        && ok "manage-packages and distribute-content allow RefreshNow" || not_ok "RefreshNow refused with both actions"
wait_until "the redistribution RefreshNow started" _no_jobs

polkit SetAllowed as 2 org.smsprov.provider1.manage-packages org.smsprov.provider1.build-images >/dev/null

# A hanging polkit: the caller waits, everyone else is served.
polkit SimulateHang b true >/dev/null
polkit ClearCalls >/dev/null
nobody call $DEST $P $BASE Put 'a{sv}' 1 Version s hung >/dev/null 2>&1 &
hung=$!
# The daemon has asked polkit (and waits for the answer) once the mock has the call.
_asked() { polkit GetMethodCalls s CheckAuthorization | grep -qv '^a(tav) 0$'; }
wait_until "the daemon to ask the hanging polkit" _asked
start=$(date +%s%N)
B get-property $DEST $P $BASE Name >/dev/null && B call $DEST $ROOT org.smsprov.Provider1.Site ExecQuery s \
        "SELECT * FROM SMS_ImagePackage" >/dev/null && B call $DEST $P $BASE Put 'a{sv}' 1 Manufacturer s root >/dev/null \
        && ok "others are served while polkit hangs" || not_ok "the daemon blocked on polkit"
elapsed=$(( ($(date +%s%N) - start) / 1000000 ))
echo "# served in ${elapsed} ms while a caller waited for polkit"
kill -0 $hung 2>/dev/null && ok "the waiting caller is still waiting" || not_ok "the waiting caller did not wait"
polkit ReleaseHangingCalls >/dev/null
wait $hung && ok "the waiting caller is served when polkit answers" || not_ok "the waiting caller failed"
expect_eq "its write happened" 's "hung"' "$(B get-property $DEST $P $BASE Version)"
# Questions to polkit count against the caller's limit (--max-calls-per-caller=3): one
# connection sends five writes while polkit hangs; three wait, two are refused at once; others
# are served meanwhile; the three are answered once polkit is.
# Its output comes through a FIFO, read line by line: the test waits for the two refusals
# themselves, however long the machine takes to send and answer them.
flood_out=$WORLD/flood.out flood_fifo=$WORLD/flood.fifo
mkfifo "$flood_fifo"
setpriv --reuid=65534 --regid=65534 --clear-groups /usr/bin/python3 - "$SMSPROV_BUS" "$P" >"$flood_fifo" 2>&1 <<'PY' &
import sys, dbus, dbus.mainloop.glib
from gi.repository import GLib
dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
bus = dbus.bus.BusConnection(sys.argv[1])
obj = bus.get_object("org.smsprov.Provider1", sys.argv[2])
put = obj.get_dbus_method("Put", "org.smsprov.Provider1.SMS_PackageBaseclass")
loop, refused, answered, other = GLib.MainLoop(), [], [], []
def done():
    if len(refused) + len(answered) + len(other) == 5:
        loop.quit()
def ok(*a):
    answered.append(1); print("answered", flush=True); done()
def err(e):
    if e.get_dbus_name() == "org.smsprov.Provider1.Error.LimitsExceeded":
        refused.append(1); print("refused", flush=True)
    else:
        other.append(e.get_dbus_name()); print("error", e.get_dbus_name(), e, flush=True)
    done()
for i in range(5):
    put({"Version": dbus.String("flood%d" % i, variant_level=1)}, signature="a{sv}", reply_handler=ok,
        error_handler=err, timeout=120)
loop.run()
PY
flood=$!
exec 7<"$flood_fifo"
: >"$flood_out"
# read ends at the script's end of output (it failed) as well as at the second refusal
while [ "$(grep -c '^refused' "$flood_out")" -lt 2 ] && IFS= read -r line <&7; do
        printf '%s\n' "$line" >>"$flood_out"
done
expect_eq "two of five writes waiting for polkit are refused at the cap" "2 0" \
        "$(grep -c '^refused' "$flood_out") $(grep -c '^answered' "$flood_out")"
B get-property $DEST $P $BASE Name >/dev/null && ok "others are served while a caller is at its cap" \
        || not_ok "others were not served"
polkit ReleaseHangingCalls >/dev/null
cat <&7 >>"$flood_out"
exec 7<&-
wait $flood
expect_eq "the three waiting writes are answered when polkit is" "3 2" \
        "$(grep -c '^answered' "$flood_out") $(grep -c '^refused' "$flood_out")"
grep '^error' "$flood_out" >&2
polkit SimulateHang b false >/dev/null

# No polkit on the bus: denied.
kill "$POLKIT_PID"; wait "$POLKIT_PID" 2>/dev/null; POLKIT_PID=
out=$(nobody call $DEST $P $BASE Put 'a{sv}' 1 Description s "no polkit" 2>&1) && not_ok "write allowed without polkit" \
        || ok "no polkit means denied"
B call $DEST $P $BASE Put 'a{sv}' 1 Description s "root still" >/dev/null && ok "root still writes" || not_ok "root refused"

trap - EXIT
stop_all
finish
