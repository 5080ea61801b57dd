#!/usr/bin/env bash
# smsctl against a private bus and the real smsprovd: every command by hand and with --json (the
# JSON parsed and checked), the exit status of each error class, jobs followed, canceled (with
# `cancel` and with an interrupt) and waited for, monitor, the bash completion, and the README's
# examples run as written with smsctl on PATH. A job that must be running when the test acts is
# held at a test point (tests/bus/lib.sh: hold, wait_held, release); every other wait is for a
# state, with the one generous deadline of wait_until. Nothing depends on how fast the machine is.
set -uo pipefail
. "$(dirname "$0")/../bus/lib.sh"

: "${SMSCTL:?SMSCTL must name the smsctl binary}"
SMSCTL_DIR=$(cd "$(dirname "$SMSCTL")" && pwd)

C() { "$SMSCTL" --bus-address="$SMSPROV_BUS" "$@"; }

# json EXPR: a value of the JSON document on stdin; EXPR is Python over `d`.
json() {
        python3 -c 'import json, sys
d = json.load(sys.stdin)
v = eval(sys.argv[1])
print(v if isinstance(v, str) else json.dumps(v))' "$1" 2>&1
}

# try ARGS…: runs smsctl; OUT, ERR and STATUS hold its output and exit status.
try() {
        OUT=$(C "$@" 2>"$WORLD/stderr")
        STATUS=$?
        ERR=$(cat "$WORLD/stderr")
}

# run WHAT STATUS ARGS…: try, and the exit status must be STATUS.
run() {
        local what=$1 want=$2
        shift 2
        try "$@"
        if [ "$STATUS" -eq "$want" ]; then
                ok "$what (exit $want)"
        else
                not_ok "$what: exit $STATUS, wanted $want; stdout: ${OUT:0:300}; stderr: ${ERR:0:500}"
        fi
}

# has WHAT NEEDLE TEXT
has() {
        case "$3" in
        *"$2"*) ok "$1" ;;
        *) not_ok "$1: '$2' not in: ${3:0:600}" ;;
        esac
}

# wait_for FILE TEXT: until FILE holds TEXT.
_holds_text() { grep -qF -- "$2" "$1" 2>/dev/null; }
wait_for() { wait_until "'$2' in $1" _holds_text "$1" "$2"; }

# stop PID SIG: sends SIG and reaps PID, whose exit status lands in STATUS; one that does not stop
# is a failure (after the deadline) and is killed.
_gone() {
        local state
        state=$(ps -o stat= -p "$1" 2>/dev/null)
        [ -z "$state" ] || [ "${state:0:1}" = Z ]
}
stop() {
        kill -"$2" "$1" 2>/dev/null
        wait_until "pid $1 to stop on SIG$2" _gone "$1" || kill -KILL "$1"
        wait "$1"
        STATUS=$?
}

job_state() {
        B get-property org.smsprov.Provider1 "$1" org.smsprov.Provider1.Job State 2>/dev/null
}

world_start || exit 1
trap world_stop EXIT
CONTENT=$WORLD_CONTENT
cd "$WORLD" || exit 1

# --- inputs ---------------------------------------------------------------------------------------
make_wim "$CONTENT/boot.wim" 9
make_wim "$CONTENT/boot86.wim" 0
make_wim "$WORLD/adk/amd64/winpe.wim" 9
mkdir -p "$CONTENT/setup/sources" "$CONTENT/drivers/net" "$CONTENT/drivers/storage" "$WORLD/dps/dp1"
cp "$CONTENT/boot.wim" "$CONTENT/setup/sources/install.wim"
# Two drivers for x64 (a NIC, a storage controller), an x86 one and a malformed INF, in one folder.
mkdir -p "$CONTENT/drivers/x86nic" "$CONTENT/drivers/bad"
inf() { # FILE CLASS DECORATION DESCRIPTION HWID
        printf '[Version]\r\nSignature="$Windows NT$"\r\nClass=%s\r\nProvider=Contoso\r\nDriverVer=01/02/2024,1.2.3.4\r\n[Manufacturer]\r\nContoso=M,%s\r\n[M.%s]\r\n"%s"=I,%s\r\n' \
                "$2" "$3" "$3" "$4" "$5" >"$1"
}
inf "$CONTENT/drivers/net/net.inf" Net NTamd64 "Contoso NIC" 'PCI\VEN_8086&DEV_15B8'
inf "$CONTENT/drivers/storage/storage.inf" SCSIAdapter NTamd64 "Contoso RAID" 'PCI\VEN_1000&DEV_0079'
inf "$CONTENT/drivers/x86nic/old.inf" Net NTx86 "Contoso Old NIC" 'PCI\VEN_8086&DEV_100E'
printf '[Version\r\n' >"$CONTENT/drivers/bad/bad.inf"
echo "not a WIM" > "$CONTENT/notawim.wim"
# A large boot image source, stored uncompressed, so that a build runs long enough to be canceled.
big_tree=$(mktemp -d)
mkdir -p "$big_tree/Windows/System32/config"
echo "[LaunchApps]" > "$big_tree/Windows/System32/winpeshl.ini"
head -c $((128 << 20)) /dev/urandom > "$big_tree/Windows/filler.bin"
wimlib-imagex capture "$big_tree" "$CONTENT/big.wim" "Microsoft Windows PE (x64)" --compress=none >/dev/null
wimlib-imagex info "$CONTENT/big.wim" 1 --image-property WINDOWS/ARCH=9 >/dev/null
rm -rf "$big_tree"

# --- help, usage --------------------------------------------------------------------------------
run "--help" 0 --help
has "--help lists the task commands" "boot-image import" "$OUT"
run "COMMAND --help" 0 set --help
has "set --help shows its usage" "set CLASS KEY PROP=VALUE" "$OUT"
run "GROUP COMMAND --help" 0 boot-image import --help
has "boot-image import --help" "boot-image import PATH" "$OUT"
run "--version" 0 --version
run "no command" 2
has "usage errors are named" "smsctl: org.freedesktop.DBus.Error.InvalidArgs: " "$ERR"
run "unknown command" 2 frobnicate
run "unknown option" 2 --frobnicate jobs
run "too few arguments" 2 show SMS_BootImagePackage
run "too many arguments" 2 delete SMS_BootImagePackage LAB00001 extra
run "group without a command" 2 boot-image
run "--json with a bad form" 2 --json=yaml jobs

# --- classes --------------------------------------------------------------------------------------
run "classes" 0 classes
has "classes lists SMS_BootImagePackage" "SMS_BootImagePackage" "$OUT"
has "classes has a legend" "classes listed." "$OUT"
run "classes --json" 0 --json classes
n_classes=$(B get-property org.smsprov.Provider1 /org/smsprov/Provider1 org.smsprov.Provider1.Site Classes | cut -d' ' -f2)
expect_eq "classes --json: one object per class" "$n_classes" "$(echo "$OUT" | json 'len(d)')"
expect_eq "classes --json: SuperClass" "SMS_PackageBaseclass" \
        "$(echo "$OUT" | json '[c for c in d if c["Name"] == "SMS_BootImagePackage"][0]["SuperClass"]')"
run "classes CLASS" 0 classes SMS_BootImagePackage
has "classes CLASS: lazy ScratchSpace" "lazy,enumeration,values=32|64|128|256|512" "$OUT"
has "classes CLASS: inherited property's class" "SMS_PackageBaseclass" "$OUT"
run "classes CLASS --json" 0 --json classes SMS_BootImagePackage
expect_eq "PropertySchema qualifiers" "true" \
        "$(echo "$OUT" | json '"lazy" in [p for p in d["PropertySchema"] if p["Name"] == "ScratchSpace"][0]["Qualifiers"]')"
expect_eq "MethodSchema static" "true" \
        "$(echo "$OUT" | json '[m for m in d["MethodSchema"] if m["Name"] == "QueryOSDBinaryInjectionStatus"][0]["IsStatic"]')"

# --- boot images ----------------------------------------------------------------------------------
run "boot-image properties PATH" 0 boot-image properties "$CONTENT/boot.wim"
has "image properties by name" "Image name: Microsoft Windows PE (x64)" "$OUT"
run "boot-image properties --json (relative path)" 0 --json boot-image properties content/boot.wim
expect_eq "image properties JSON" "9" "$(echo "$OUT" | json 'd[0]["Architecture"]')"

run "boot-image import" 0 boot-image import content/boot.wim --name="Boot image (x64)" ContextID=ctl-boot
expect_eq "import prints the PackageID" "LAB00001" "$OUT"
has "the build is followed to its end" "Job _1 (Create) completed" "$ERR"
expect_eq "the build job completed" "u 2" "$(job_state /org/smsprov/Provider1/job/_1)"
BOOT=LAB00001

run "boot-image import --json" 0 --json boot-image import "$CONTENT/boot.wim" --index=1 Description=second
expect_eq "import --json: PackageID" "LAB00002" "$(echo "$OUT" | json 'd["PackageID"]')"
expect_eq "import --json: the Job's State" "2" "$(echo "$OUT" | json 'd["Job"]["State"]')"
expect_eq "import --json: __PATH" "/org/smsprov/Provider1/SMS_BootImagePackage/LAB00002" "$(echo "$OUT" | json 'd["__PATH"]')"

# --- list, show, get, set -----------------------------------------------------------------------
run "list" 0 list SMS_BootImagePackage
has "list: header" "PackageID" "$OUT"
has "list: Name column" "Boot image (x64)" "$OUT"
has "list: footer" "2 instances listed." "$OUT"
run "list --no-legend" 0 list SMS_BootImagePackage --no-legend
expect_eq "list --no-legend: keys in the first column" "LAB00001 LAB00002" "$(echo "$OUT" | awk '{print $1}' | xargs)"
run "list --json" 0 --json list SMS_PackageBaseclass
expect_eq "list --json on the base class finds derived instances" "SMS_BootImagePackage" "$(echo "$OUT" | json 'd[0]["__CLASS"]')"
expect_eq "list --json: lazy properties are left out" "false" "$(echo "$OUT" | json '"ScratchSpace" in d[0]')"
run "list --where --columns" 0 list SMS_BootImagePackage --where="Description = 'second'" --columns=PackageID,Description
expect_eq "list --where --columns" "LAB00002 second" "$(echo "$OUT" | sed -n 2p | xargs)"

run "show" 0 show SMS_BootImagePackage $BOOT
has "show: lazy ScratchSpace included" "ScratchSpace: 512" "$OUT"
has "show: DateTime in local time" "SourceDate: $(date +%Y-)" "$OUT"
run "show --json" 0 --json show SMS_BootImagePackage $BOOT
expect_eq "show --json: ScratchSpace" "512" "$(echo "$OUT" | json 'd["ScratchSpace"]')"
expect_eq "show --json: ImageProperty" "True" "$(echo "$OUT" | json 'str("<WIM>" in d["ImageProperty"])')"
expect_eq "show --json: ContextID" "ctl-boot" "$(echo "$OUT" | json 'd["ContextID"]')"
run "show through the base class" 0 show SMS_PackageBaseclass $BOOT
has "show through the base class: the derived properties" "EnableLabShell: false" "$OUT"

run "get" 0 get SMS_BootImagePackage $BOOT Name
expect_eq "get prints the value" "Boot image (x64)" "$OUT"
run "set" 0 set SMS_BootImagePackage $BOOT ScratchSpace=256 EnableLabShell=yes "Description=lab, x64" PkgFlags=0x800
expect_eq "set: read back with busctl" 'u 256' \
        "$(B get-property org.smsprov.Provider1 /org/smsprov/Provider1/SMS_BootImagePackage/$BOOT org.smsprov.Provider1.SMS_BootImagePackage ScratchSpace)"
run "get several" 0 get SMS_BootImagePackage $BOOT ScratchSpace EnableLabShell Description PkgFlags
expect_eq "get several" "256|true|lab, x64|2048" "$(echo "$OUT" | paste -sd'|')"
run "get --json" 0 --json get SMS_BootImagePackage $BOOT EnableLabShell PkgFlags
expect_eq "get --json" '{"EnableLabShell": true, "PkgFlags": 2048}' "$(echo "$OUT" | json 'd')"
run "set --json" 0 --json set SMS_BootImagePackage $BOOT ScratchSpace=128
expect_eq "set --json reads back" "128" "$(echo "$OUT" | json 'd["ScratchSpace"]')"
SEDO=$(echo "$OUT" | json 'd["SedoObjectVersion"]')
run "set with the current SedoObjectVersion" 0 set SMS_BootImagePackage $BOOT SedoObjectVersion="$SEDO" Version=1.0
run "set with a stale SedoObjectVersion" 1 set SMS_BootImagePackage $BOOT SedoObjectVersion="$SEDO" Version=2.0
has "stale SedoObjectVersion: VersionMismatch" "smsctl: org.smsprov.Provider1.Error.VersionMismatch: " "$ERR"

# Arrays, schedules, dates.
run "set a schedule from an interval string" 0 set SMS_BootImagePackage $BOOT PkgSourceFlag=2 RefreshSchedule=0001200000100018
run "get a schedule" 0 get SMS_BootImagePackage $BOOT RefreshSchedule
expect_eq "the schedule reads back as the interval string" "0001200000100018" "$OUT"
run "get a schedule --json" 0 --json get SMS_BootImagePackage $BOOT RefreshSchedule
expect_eq "schedule tokens in JSON" "SMS_ST_RecurInterval 3" \
        "$(echo "$OUT" | json 'd["RefreshSchedule"][0]["__CLASS"] + " " + str(d["RefreshSchedule"][0]["DaySpan"])')"
expect_eq "the daemon agrees (ReadFromString)" "0001200000100018" \
        "$(C call SMS_ScheduleMethods WriteToString "$(C get SMS_BootImagePackage $BOOT RefreshSchedule)")"
run "set a UInt8[]" 0 set SMS_BootImagePackage $BOOT Icon=137,80,78,71
expect_eq "get a UInt8[]" "137,80,78,71" "$(C get SMS_BootImagePackage $BOOT Icon)"
expect_eq "a UInt8[] in JSON" "[137, 80, 78, 71]" "$(C --json get SMS_BootImagePackage $BOOT Icon | json 'd["Icon"]')"
run "set a UInt8[] out of range" 2 set SMS_BootImagePackage $BOOT Icon=1,256
run "set a bad interval string" 2 set SMS_BootImagePackage $BOOT RefreshSchedule=xyz
run "set no schedule" 0 set SMS_BootImagePackage $BOOT RefreshSchedule= PkgSourceFlag=1
run "get an empty schedule" 0 get SMS_BootImagePackage $BOOT RefreshSchedule
expect_eq "an empty schedule" "" "$OUT"

# --- create, call, methods, task commands -----------------------------------------------------------
run "create" 0 create SMS_ImagePackage PkgSourcePath=content/boot.wim PkgSourceFlag=2 Name="Windows 11"
IMAGE=$OUT
expect_eq "create prints the key" "LAB00003" "$IMAGE"
run "create --json" 0 --json create SMS_OperatingSystemInstallPackage PkgSourcePath=content/setup PkgSourceFlag=2
INSTALL=$(echo "$OUT" | json 'd["PackageID"]')
expect_eq "create --json: no job" "False" "$(echo "$OUT" | json 'str("Job" in d)')"
expect_eq "create --json: PackageID" "LAB00004" "$INSTALL"
run "os-install reload" 0 os-install reload "$INSTALL"
run "os-install import" 0 os-install import content/setup --name="Windows 11 upgrade"
expect_eq "os-install import prints the PackageID" "LAB00005" "$OUT"
run "os-image import --index" 0 --json os-image import content/boot.wim --index=1 --name="Windows PE image"
OSI=$(echo "$OUT" | json 'd["PackageID"]')
expect_eq "os-image import --index: the extraction job" "2" "$(echo "$OUT" | json 'd["Job"]["State"]')"
run "os-image reload" 0 os-image reload "$IMAGE"
run "os-image properties PKG" 0 os-image properties "$IMAGE"
has "os-image properties of a package" "Architecture: 9" "$OUT"
run "show with a composite key list" 0 show SMS_ImageInformation "PackageID=\"$IMAGE\",Index=1"
has "SMS_ImageInformation by its key list" "Name: Microsoft Windows PE (x64)" "$OUT"
run "show with a key list missing a part" 1 show SMS_ImageInformation "PackageID=\"$IMAGE\""
run "show a composite key class with a bare key" 2 show SMS_ImageInformation "$IMAGE"

run "call a static method" 0 call SMS_BootImagePackage QueryOSDBinaryInjectionStatus ctl-boot
has "call prints the results by name" "Status: 0" "$OUT"
run "call --json" 0 --json call SMS_BootImagePackage QueryOSDBinaryInjectionStatus ctl-boot
expect_eq "call --json: results by name" "0 100" "$(echo "$OUT" | json 'str(d["Status"]) + " " + str(d["MaxProgress"])')"
run "call an instance method" 0 call SMS_BootImagePackage $BOOT ReloadImageProperties
run "call a method that starts a job" 0 call SMS_BootImagePackage $BOOT UpdateImage
has "the job is followed" "(UpdateImage) completed" "$ERR"
run "call an unknown method" 2 call SMS_BootImagePackage $BOOT Frobnicate
run "call with too few arguments" 2 call SMS_BootImagePackage QueryOSDBinaryInjectionStatus
run "call with a bad argument" 2 call SMS_BootImagePackage ExportDefaultBootImage x64 one "$CONTENT/x.wim"

run "boot-image update" 0 boot-image update $BOOT
run "boot-image update --json" 0 --json boot-image update $BOOT
expect_eq "update --json: the Job" "UpdateImage 2" "$(echo "$OUT" | json 'd["Job"]["Operation"] + " " + str(d["Job"]["State"])')"
run "boot-image reload" 0 boot-image reload $BOOT
run "boot-image export-default" 0 --json boot-image export-default x64 1 content/exported.wim
expect_eq "export-default: the job completed" "2" "$(echo "$OUT" | json 'd["Job"]["State"]')"
[ -s "$CONTENT/exported.wim" ] && ok "export-default wrote the WIM" || not_ok "export-default wrote no WIM"
# --- the driver catalog ---
run "driver import of a folder with a bad INF" 1 driver import content/drivers
has "driver import: the bad INF is named with its line" "bad.inf: line 1" "$ERR"
expect_eq "driver import: the good ones, in path order" \
        "1 $CONTENT/drivers/net/net.inf|2 $CONTENT/drivers/storage/storage.inf|3 $CONTENT/drivers/x86nic/old.inf" \
        "$(echo "$OUT" | tr '\t' ' ' | paste -sd'|')"
run "driver import of one INF imported before" 0 driver import content/drivers/net/net.inf
expect_eq "driver import: the existing driver" "1	$CONTENT/drivers/net/net.inf" "$OUT"
run "driver import of nothing" 3 driver import content/nothing
run "driver list" 0 --no-legend driver list
expect_eq "driver list: three drivers" "3" "$(echo "$OUT" | wc -l)"
run "driver list --class" 0 --no-legend --columns=CI_ID driver list --class=net
expect_eq "driver list --class=net" "1 3" "$(echo $OUT)"
run "driver list --architecture" 0 --no-legend --columns=CI_ID driver list --class=Net --architecture=x64
expect_eq "driver list --class=Net --architecture=x64" "1" "$(echo $OUT)"
run "driver list --hardware-id" 0 --no-legend --columns=CI_ID driver list '--hardware-id=pci\ven_1000&dev_0079'
expect_eq "driver list --hardware-id (any case)" "2" "$(echo $OUT)"
run "driver show" 0 --json driver show 2
expect_eq "driver show: DriverClass and display name" "SCSIAdapter Contoso RAID" \
        "$(echo "$OUT" | json 'd["DriverClass"] + " " + d["LocalizedDisplayName"]')"
COPY1=$(C get SMS_Driver 1 ContentSourcePath)
COPY2=$(C get SMS_Driver 2 ContentSourcePath)

SV=$(C get SMS_BootImagePackage $BOOT SourceVersion)
run "boot-image add-driver" 0 boot-image add-driver $BOOT 1 2
expect_eq "add-driver: ReferencedDrivers from the catalog" "1:$COPY1,2:$COPY2" \
        "$(C get SMS_BootImagePackage $BOOT ReferencedDrivers)"
expect_eq "add-driver rebuilt the image" "$((SV + 1))" "$(C get SMS_BootImagePackage $BOOT SourceVersion)"
run "boot-image add-driver of an x86 driver to an x64 image" 1 boot-image add-driver $BOOT 3
has "add-driver: the entry is named" "entry 2 (ID 3)" "$ERR"
run "driver delete of a referenced driver" 1 delete SMS_Driver 1
run "boot-image remove-driver --no-update" 0 --no-update boot-image remove-driver $BOOT 1
expect_eq "remove-driver: ReferencedDrivers" "2:$COPY2" "$(C get SMS_BootImagePackage $BOOT ReferencedDrivers)"
expect_eq "--no-update: no rebuild" "$((SV + 1))" "$(C get SMS_BootImagePackage $BOOT SourceVersion)"
run "remove-driver of a driver not referenced" 3 boot-image remove-driver $BOOT 99
run "add-driver of a driver not in the catalog" 3 boot-image add-driver $BOOT 17
run "add-driver of something that is not an ID" 2 boot-image add-driver $BOOT net
run "delete of an unreferenced driver" 0 delete SMS_Driver 1
OCS=$(C list SMS_OSDeploymentKitWinPEOptionalComponent --no-legend --columns=UniqueID \
        --where="Architecture = 'X64' AND (Name = 'WinPE-WMI' OR Name = 'WinPE-Scripting')" | sort -n | xargs)
run "boot-image set-components" 0 boot-image set-components $BOOT $OCS
expect_eq "set-components: OptionalComponents" "$(echo "$OCS" | tr ' ' ',')" "$(C get SMS_BootImagePackage $BOOT OptionalComponents)"
# By name, as scripts name them, looked up for the image's architecture; IDs and names mix.
oc_ids() { # ARCH NAME…: the catalog's UniqueIDs of the names on ARCH, comma-separated, in that order
        local arch=$1 name
        shift
        for name; do
                C list SMS_OSDeploymentKitWinPEOptionalComponent --no-legend --columns=UniqueID \
                        --where="Architecture = '$arch' AND Name = '$name'"
        done | paste -sd,
}
X64_OCS=$(oc_ids X64 WinPE-PowerShell WinPE-NetFx WinPE-WMI)
run "set-components by name" 0 boot-image set-components $BOOT WinPE-PowerShell,winpe-netfx WinPE-WMI
expect_eq "set-components by name: the x64 IDs" "$X64_OCS" "$(C get SMS_BootImagePackage $BOOT OptionalComponents)"
run "set-components: an unknown name" 2 boot-image set-components $BOOT WinPE-PowerShell,WinPE-NoSuchThing
has "set-components: the unknown name is named" "'WinPE-NoSuchThing' is no optional component" "$ERR"
expect_eq "set-components: an unknown name changes nothing" "$X64_OCS" \
        "$(C get SMS_BootImagePackage $BOOT OptionalComponents)"
run "set-components of a package that is not there" 3 boot-image set-components LAB0FFFF WinPE-PowerShell
run "import an x86 boot image" 0 boot-image import content/boot86.wim --name="Boot image (x86)"
BOOT86=$OUT
X86_OCS=$(oc_ids X86 WinPE-PowerShell WinPE-NetFx)
[ -n "$X86_OCS" ] && [ "$X86_OCS" != "$(oc_ids X64 WinPE-PowerShell WinPE-NetFx)" ] &&
        ok "the kit's x86 and x64 components have IDs of their own" || not_ok "x86 IDs: '$X86_OCS'"
run "set-components by name on x86" 0 boot-image set-components $BOOT86 WinPE-PowerShell,WinPE-NetFx
expect_eq "set-components by name: the x86 IDs" "$X86_OCS" "$(C get SMS_BootImagePackage $BOOT86 OptionalComponents)"
run "refresh" 0 --json refresh $BOOT
expect_eq "refresh: RefreshPkgSource job" "RefreshPkgSource 2" "$(echo "$OUT" | json 'd["Job"]["Operation"] + " " + str(d["Job"]["State"])')"
run "scrub" 0 scrub
has "scrub: the job ends" "(ScrubContentLibrary) completed" "$ERR"

# --- query --------------------------------------------------------------------------------------
run "query" 0 query "SELECT PackageID, Name FROM SMS_PackageBaseclass WHERE Name LIKE 'windows%' ORDER BY PackageID"
has "query: rows" "Windows 11 upgrade" "$OUT"
run "query --json" 0 --json query "SELECT PackageID, PackageType FROM SMS_PackageBaseclass ORDER BY PackageID"
expect_eq "query --json: rows" "LAB00001 258" "$(echo "$OUT" | json 'd[0]["PackageID"] + " " + str(d[0]["PackageType"])')"
run "query --json: status messages" 0 --json query "SELECT MessageID, Time FROM SMS_StatusMessage WHERE MessageID = 30000"
expect_eq "status message times are microseconds" "True" "$(echo "$OUT" | json 'str(d[0]["Time"] > 1000000000000000)')"
run "query with bad syntax" 1 query "SELEKT nothing"
has "bad WQL: InvalidQuery" "org.smsprov.Provider1.Error.InvalidQuery" "$ERR"

# --- jobs: --no-wait, wait, cancel, interrupt ---------------------------------------------------
run "import the large image" 0 boot-image import content/big.wim --name="Big boot image" ContextID=ctl-big
BIG=$OUT
has "progress as plain lines without a terminal" "Create: " "$ERR"
run "--no-wait" 0 --no-wait boot-image update "$BIG"
JOB=$OUT
case "$JOB" in /org/smsprov/Provider1/job/_*) ok "--no-wait prints the job path" ;; *) not_ok "--no-wait printed '$JOB'" ;; esac
run "wait JOB" 0 wait "$JOB"
has "wait follows to the end" "(UpdateImage) completed" "$ERR"
run "wait --json by Id" 0 --json wait "${JOB##*/}"
expect_eq "wait --json: State" "2" "$(echo "$OUT" | json 'd["State"]')"
run "wait by ContextID" 0 wait ctl-big
run "jobs" 0 jobs
has "jobs lists the build" "${JOB##*/}" "$OUT"
has "jobs shows the state" "completed" "$OUT"
run "jobs --json" 0 --json jobs
expect_eq "jobs --json" "UpdateImage" "$(echo "$OUT" | json '[j for j in d if j["__PATH"] == "'"$JOB"'"][0]["Operation"]')"

if command -v script >/dev/null; then
        # On a terminal: a progress bar redrawn in place, then the outcome.
        out=$(script -qec "'$SMSCTL' --bus-address='$SMSPROV_BUS' boot-image update $BIG" /dev/null 2>&1)
        has "a terminal gets a redrawn progress line" $'\e[K' "$out"
        has "a terminal gets the outcome" "(UpdateImage) completed" "$out"
else
        ok "progress bar: skipped (no script(1) for a terminal)"
fi

# Each build below is held at its start (test point UpdateImage), running, until the test has
# acted on it: a cancel or an interrupt always finds it running.
hold UpdateImage
J=$(C --no-wait boot-image update "$BIG")
wait_held UpdateImage "$J"
run "cancel" 0 --json cancel "$J"
expect_eq "cancel --json: canceled" "4 org.smsprov.Provider1.Error.Canceled" \
        "$(echo "$OUT" | json 'str(d["State"]) + " " + d["ErrorName"]')"
run "wait on a canceled job" 1 wait "$J"
has "the job's error" "smsctl: org.smsprov.Provider1.Error.Canceled: " "$ERR"

# An interrupt of a command that started a job cancels it when there is no terminal to ask on:
# SIGINT, and SIGTERM. (Scripts start background commands with SIGINT ignored; job control gives
# this one the default disposition, as an interactive shell would.)
for sig in INT TERM; do
        set -m
        "$SMSCTL" --bus-address="$SMSPROV_BUS" boot-image update "$BIG" >"$WORLD/int.out" 2>"$WORLD/int.err" &
        pid=$!
        set +m
        # smsctl follows the job once it has printed the job's first line.
        wait_held UpdateImage && wait_for "$WORLD/int.err" "UpdateImage"
        stop $pid $sig
        expect_eq "SIG$sig without a terminal: exit 1" "1" "$STATUS"
        has "SIG$sig without a terminal cancels the job" "Canceling job" "$(cat "$WORLD/int.err")"
        has "SIG$sig: the job was canceled" "Error.Canceled" "$(cat "$WORLD/int.err")"
done
# On a terminal, Ctrl-C asks; "n" goes on following the job (released after the answer, it runs
# to its end), "y" cancels it.
# (After "y" the job stays held until the cancel has ended it.)
for answer in n y; do
        release_after=()
        [ $answer = y ] || release_after=(--release "$WORLD_HOLDS/UpdateImage")
        out=$(python3 "$SOURCE_ROOT/tests/ctl/pty-interrupt.py" "${release_after[@]}" \
                "UpdateImage [" $answer "$SMSCTL" --bus-address="$SMSPROV_BUS" boot-image update "$BIG")
        status=$?
        hold UpdateImage
        has "Ctrl-C on a terminal asks ('$answer')" "[y/N]" "$out"
        has "Ctrl-C on a terminal names the job ('$answer')" "Cancel job _" "$out"
        if [ $answer = n ]; then
                expect_eq "Ctrl-C, n: the job goes on to the end" "0" "$status"
                has "Ctrl-C, n: completed" "(UpdateImage) completed" "$out"
        else
                expect_eq "Ctrl-C, y: exit 1" "1" "$status"
                has "Ctrl-C, y: canceled" "org.smsprov.Provider1.Error.Canceled" "$out"
        fi
done
J=$(C --no-wait boot-image update "$BIG")
wait_held UpdateImage "$J"
run "cancel --no-wait --json" 0 --no-wait --json cancel "$J"
expect_eq "cancel --no-wait --json: the job" "$J" "$(echo "$OUT" | json 'd["Job"]')"
release UpdateImage
C wait "$J" >/dev/null 2>&1
run "reload --json" 0 --json boot-image reload "$BIG"
expect_eq "a call without results: an empty object" "{}" "$(echo "$OUT" | json 'd')"
run "cancel a finished job" 1 cancel "$J"

# --- monitor ------------------------------------------------------------------------------------
set -m
"$SMSCTL" --bus-address="$SMSPROV_BUS" monitor >"$WORLD/monitor.out" 2>"$WORLD/monitor.err" &
pid=$!
set +m
if wait_for "$WORLD/monitor.err" "Monitoring"; then
        C set SMS_BootImagePackage $BOOT Description=watched >/dev/null 2>&1
        C create SMS_ImagePackage PkgSourcePath=content/boot.wim Name=monitored >/dev/null 2>&1
        wait_for "$WORLD/monitor.out" "changed: Description=watched" && ok "monitor: a change" ||
                not_ok "monitor: no change line: $(cat "$WORLD/monitor.out")"
        wait_for "$WORLD/monitor.out" "SMS_ImagePackage LAB000" && ok "monitor: a creation" ||
                not_ok "monitor: no creation line"
        wait_for "$WORLD/monitor.out" "status message 30000" && ok "monitor: status messages" ||
                not_ok "monitor: no status message"
else
        not_ok "monitor did not start: $(cat "$WORLD/monitor.err")"
fi
stop $pid INT
expect_eq "monitor ends on SIGINT with 0" "0" "$STATUS"

"$SMSCTL" --bus-address="$SMSPROV_BUS" --json monitor >"$WORLD/monitor.out" 2>"$WORLD/monitor.err" &
pid=$!
if wait_for "$WORLD/monitor.err" "Monitoring"; then
        C set SMS_BootImagePackage $BOOT Description=json-watched >/dev/null 2>&1
        wait_for "$WORLD/monitor.out" "json-watched" && ok "monitor --json: the change" || not_ok "monitor --json: no change"
fi
stop $pid TERM
expect_eq "monitor ends on SIGTERM with 0" "0" "$STATUS"
bad=$(python3 -c 'import json, sys
bad = 0
for line in open(sys.argv[1]):
    try:
        e = json.loads(line)
        bad += "Event" not in e
    except ValueError:
        bad += 1
print(bad)' "$WORLD/monitor.out")
expect_eq "monitor --json: one JSON object per line" "0" "$bad"

# --- distribution ----------------------------------------------------------------------------------
run "dp add" 0 dp add dp1 dps/dp1 Description="first DP"
run "dp list" 0 dp list
has "dp list" "dp1" "$OUT"
run "dp list --json" 0 --json dp list
expect_eq "dp list --json: ServerName, SiteCode" "dp1 LAB" "$(echo "$OUT" | json 'd[0]["ServerName"] + " " + d[0]["SiteCode"]')"
run "distribute" 0 distribute "$IMAGE" dp1
has "distribute follows its job" "completed" "$ERR"
run "status" 0 status "$IMAGE"
has "status: a row per DP" "dp1" "$OUT"
run "status --json" 0 --json status "$IMAGE"
expect_eq "status --json: the package on dp1" "$IMAGE LAB" "$(echo "$OUT" | json 'd[0]["PackageID"] + " " + d[0]["SiteCode"]')"
run "distribute to an unknown DP" 3 distribute "$IMAGE" nodp
ASSIGNMENT=$(C --json list SMS_DistributionPoint --where="PackageID = '$IMAGE'" | json 'd[0]["__PATH"]')
run "delete by object path" 0 delete SMS_DistributionPoint "$ASSIGNMENT"
_no_status_rows() { [ "$(C --json status "$IMAGE" | json 'len(d)')" = 0 ]; }
wait_until "the package to leave dp1" _no_status_rows
expect_eq "the package left dp1" "0" "$(C --json status "$IMAGE" | json 'len(d)')"
run "dp remove" 0 dp remove dp1
run "dp remove again" 3 dp remove dp1

# --- failures, not found, access denied, unreachable -------------------------------------------------
run "a value out of range" 1 set SMS_BootImagePackage $BOOT ScratchSpace=100
has "the daemon's error and message" "smsctl: org.smsprov.Provider1.Error.ValueOutOfRange: WBEM_E_VALUE_OUT_OF_RANGE:" "$ERR"
run "a read-only property" 1 set SMS_BootImagePackage $BOOT SourceVersion=9
run "an unknown property" 1 set SMS_BootImagePackage $BOOT Frobnicate=1
run "not a WIM" 1 boot-image properties content/notawim.wim
has "ImageError" "org.smsprov.Provider1.Error.ImageError" "$ERR"
run "a path outside the content roots" 1 boot-image import /etc/hostname
run "a value that does not parse" 2 set SMS_BootImagePackage $BOOT ScratchSpace=lots
run "an assignment without =" 2 set SMS_BootImagePackage $BOOT ScratchSpace
run "a method call one argument short" 2 call SMS_BootImagePackage DeleteContextID
run "an unknown package" 3 show SMS_BootImagePackage LAB0FFFF
has "NotFound" "smsctl: org.smsprov.Provider1.Error.NotFound: WBEM_E_NOT_FOUND:" "$ERR"
run "an unknown class" 3 list SMS_Frobnicator
run "an unknown property to get" 3 get SMS_BootImagePackage $BOOT Frobnicate
run "a package of another class" 3 boot-image update "$IMAGE"
run "wait for an unknown job" 3 wait 9999
run "cancel an unknown job" 3 cancel _9999
run "wait for an unknown ContextID" 3 wait no-such-context
run "delete" 0 delete SMS_OperatingSystemInstallPackage "$INSTALL"
run "show after delete" 3 show SMS_OperatingSystemInstallPackage "$INSTALL"
run "delete --json" 0 --json delete SMS_ImagePackage "$OSI"
expect_eq "delete --json" "/org/smsprov/Provider1/SMS_ImagePackage/$OSI" "$(echo "$OUT" | json 'd["__PATH"]')"

if [ "$(id -u)" -eq 0 ]; then
        out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$SMSCTL" --bus-address="$SMSPROV_BUS" \
                set SMS_BootImagePackage $BOOT Description=nobody 2>&1)
        expect_eq "access denied: exit 4" "4" "$?"
        has "access denied: the name" "smsctl: org.freedesktop.DBus.Error.AccessDenied: " "$out"
        out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$SMSCTL" --bus-address="$SMSPROV_BUS" \
                get SMS_BootImagePackage $BOOT Name 2>&1)
        expect_eq "reading is open to others" "0 Boot image (x64)" "$? $out"
else
        ok "access denied: skipped (not root, setpriv cannot switch users)"
fi

out=$("$SMSCTL" --bus-address="unix:path=$WORLD/no-such-bus" jobs 2>&1)
expect_eq "no bus: exit 5" "5" "$?"
has "no bus: NoServer" "smsctl: org.freedesktop.DBus.Error.NoServer: " "$out"
daemon_stop TERM
out=$(C list SMS_BootImagePackage 2>&1)
expect_eq "no daemon on the bus: exit 5" "5" "$?"
has "no daemon: ServiceUnknown" "org.freedesktop.DBus.Error.ServiceUnknown" "$out"
# Jobs leave the bus a second after they end now: a ContextID is then answered from its status.
daemon_start --job-linger=1
run "wait for a ContextID whose last build was canceled" 1 wait ctl-big
has "the ContextID's error" "ContextID ctl-big" "$ERR"
run "a build under a ContextID" 0 boot-image update $BOOT
_no_jobs() { [ -z "$(C jobs --no-legend)" ]; }
wait_until "the job to leave the bus" _no_jobs
expect_eq "the job left the bus" "" "$(C jobs --no-legend)"
run "wait for a ContextID without a job" 0 --json wait ctl-boot
expect_eq "its status: complete" "0 ctl-boot" "$(echo "$OUT" | json 'str(d["Status"]) + " " + d["ContextID"]')"

# --- results of many pages ----------------------------------------------------------------------
# With --max-query-rows=2 every ExecQueryPage page holds two rows: list, query and the completion
# below walk several pages, and each row still comes once.
daemon_stop TERM
daemon_start --job-linger=1 --max-query-rows=2
run "list over pages, JSON" 0 --json list SMS_PackageBaseclass
n_json=$(echo "$OUT" | json 'len(d)')
expect_eq "list over pages, JSON: each package once" "$n_json" "$(echo "$OUT" | json 'len(set(r["PackageID"] for r in d))')"
[ "$n_json" -gt 4 ] && ok "more packages than two pages ($n_json)" || not_ok "only $n_json packages: no second page"
run "list over pages, pretty JSON" 0 --json=pretty list SMS_PackageBaseclass
expect_eq "list over pages, pretty JSON: as many" "$n_json" "$(echo "$OUT" | json 'len(d)')"
run "list over pages" 0 --no-legend list SMS_PackageBaseclass
expect_eq "list over pages: a line per package" "$n_json" "$(echo "$OUT" | grep -c .)"
expect_eq "list over pages: each package once" "$n_json" "$(echo "$OUT" | awk '{ print $1 }' | sort -u | grep -c .)"
run "list over pages, legend" 0 list SMS_PackageBaseclass
has "list over pages: the footer counts every row" "$n_json instances listed." "$OUT"
run "query over pages" 0 --no-legend query "SELECT PackageID FROM SMS_PackageBaseclass ORDER BY PackageID DESC"
expect_eq "query over pages: in order, each once" "$(echo "$OUT" | sort -r -u)" "$OUT"

# --- completion and man page --------------------------------------------------------------------
complete() { :; } # the completion file registers itself; nothing to register with here
compopt() { :; }
. "$SOURCE_ROOT/src/ctl/smsctl.bash-completion"
complete_line() {
        COMP_LINE=$1
        COMP_POINT=${#1}
        COMPREPLY=()
        PATH="$SMSCTL_DIR:$PATH" _smsctl
        echo "${COMPREPLY[*]}"
}
expect_eq "completion: commands" "boot-image" "$(complete_line "smsctl boo")"
expect_eq "completion: subcommands" "set-components" "$(complete_line "smsctl boot-image set-")"
expect_eq "completion: component names" "WinPE-PowerShell" \
        "$(complete_line "smsctl --bus-address=$SMSPROV_BUS boot-image set-components $BOOT WinPE-Po")"
expect_eq "completion: options" "--no-legend" "$(complete_line "smsctl --no-leg")"
expect_eq "completion: classes" "SMS_BootImagePackage SMS_BootImagePackage_DriverRef" \
        "$(complete_line "smsctl --bus-address=$SMSPROV_BUS show SMS_Boot")"
expect_eq "completion: driver subcommands" "import" "$(complete_line "smsctl driver im")"
expect_eq "completion: catalog IDs for add-driver" "2 3" \
        "$(complete_line "smsctl --bus-address=$SMSPROV_BUS boot-image add-driver $BOOT ")"
has "completion: package IDs (over pages)" "$BOOT" "$(complete_line "smsctl --bus-address=$SMSPROV_BUS boot-image update ")"
expect_eq "completion: every package ID, over pages" "$n_json" \
        "$(complete_line "smsctl --bus-address=$SMSPROV_BUS show SMS_PackageBaseclass " | wc -w)"
expect_eq "completion: properties" "ScratchSpace=" "$(complete_line "smsctl --bus-address=$SMSPROV_BUS set SMS_BootImagePackage $BOOT Scratch")"
expect_eq "completion: methods" "UpdateImage" "$(complete_line "smsctl --bus-address $SMSPROV_BUS call SMS_BootImagePackage $BOOT UpdateI")"
unset -f complete compopt

if command -v man >/dev/null; then
        warnings=$(MANWIDTH=100 man --warnings -l "$SOURCE_ROOT/src/ctl/smsctl.1" 2>&1 >/dev/null)
        expect_eq "the man page has no warnings" "" "$warnings"
        has "the man page renders" "EXIT STATUS" "$(MANWIDTH=100 man -l "$SOURCE_ROOT/src/ctl/smsctl.1" 2>/dev/null)"
else
        grep -q '^\.SH "\?EXIT STATUS' "$SOURCE_ROOT/src/ctl/smsctl.1" && ok "the man page has EXIT STATUS" ||
                not_ok "the man page lacks EXIT STATUS"
fi

trap - EXIT
world_stop

# --- the README's examples, run as written with smsctl on PATH -----------------------------------
readme_world_start || exit 1
grep -q "smsctl --bus-address" "$README_SCRIPT" && ok "README has smsctl examples" || not_ok "README has no smsctl examples"
out=$(cd "$WORLD" && PATH="$SMSCTL_DIR:$PATH" bash "$README_SCRIPT" 2>&1)
status=$?
[ $status -eq 0 ] && ok "README examples run" || not_ok "README examples failed with status $status: $(echo "$out" | tail -20)"
for want in "Boot image (smsctl)" "refused with exit status 1" "WBEM_E_VALUE_OUT_OF_RANGE" "(UpdateImage) completed" \
        "(Distribute) completed" '"Name":"Boot image (smsctl)"'; do
        has "README output shows $want" "$want" "$out"
done
trap - EXIT
world_stop
finish
