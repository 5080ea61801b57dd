#!/usr/bin/env bash
# The driver catalog over the bus (issue 15): SMS_Driver.CreateFromINF with INF files of several
# shapes written here, the catalog's properties, Put and Delete, boot images referencing drivers
# (SMS_BootImagePackage_DriverRef, the checks, the build staging the catalog's copy), and the SDK's
# sample sequences "import a driver from an INF file", "add a driver to a boot image" and "remove a
# driver from a boot image", step for step.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

world_start || exit 1
trap world_stop EXIT

DEST=org.smsprov.Provider1
ROOT=/org/smsprov/Provider1
DRV=org.smsprov.Provider1.SMS_Driver
BOOT_IF=org.smsprov.Provider1.SMS_BootImagePackage
BASE=org.smsprov.Provider1.SMS_PackageBaseclass
C=$WORLD/content

crlf() { sed 's/$/\r/'; }
# put FILE TEXT…: the file, with its folders, holding the lines given.
put() { mkdir -p "${1%/*}" && printf '%s\n' "${@:2}" >"$1"; }

# A network adapter for x64, with its catalog and a driver file in a subfolder.
mkdir -p "$C/drivers/nic/x64"
crlf >"$C/drivers/nic/contoso-nic.inf" <<'INF'
; Contoso Gigabit Adapter
[Version]
Signature   = "$WINDOWS NT$"
Class       = Net
ClassGuid   = {4d36e972-e325-11ce-bfc1-08002be10318}
Provider    = %Contoso%
DriverVer   = 03/15/2023,12.18.9.10
CatalogFile = contoso-nic.cat

[SourceDisksNames]
1 = %Disk%,,,\x64

[SourceDisksFiles]
contoso-nic.sys = 1

[Manufacturer]
%Contoso% = Contoso, NTamd64

[Contoso.NTamd64]
%NicDesc% = NicInstall, PCI\VEN_8086&DEV_15B8, PCI\VEN_8086&CC_0200

[NicInstall]
CopyFiles = NicFiles

[Strings]
Contoso = "Contoso Ltd."
NicDesc = "Contoso Gigabit Adapter"
Disk    = "Contoso driver disk"
INF
put "$C/drivers/nic/contoso-nic.cat" "catalog"
put "$C/drivers/nic/x64/contoso-nic.sys" "nic driver v1"
put "$C/drivers/nic/readme.txt" "not part of the driver"

# A storage controller for x86 and x64 (a multi-architecture package): per-architecture files in
# subfolders, no catalog, and file names whose case differs from the INF's.
put "$C/drivers/storage/i386/fabraid.sys" "raid x86"
put "$C/drivers/storage/amd64/fabraid.sys" "raid x64"
crlf >"$C/drivers/storage/fabrikam-raid.inf" <<'INF'
[version]
provider  = %Fab%
driverver = 11/02/2021,6.2.0.1
signature = "$Windows NT$"
classguid = {4D36E97B-E325-11CE-BFC1-08002BE10318}
class     = SCSIAdapter

[SourceDisksNames.x86]
1 = %Disk%,,,\i386
[SourceDisksNames.amd64]
1 = %Disk%,,,\amd64

[SourceDisksFiles.x86]
FABRAID.SYS = 1
[SourceDisksFiles.amd64]
FABRAID.SYS = 1

[Manufacturer]
%Fab% = Fab, NTx86, NTamd64

[Fab.NTx86]
%RaidDesc% = RaidInstall, PCI\VEN_1000&DEV_0079
[Fab.NTamd64]
%RaidDesc% = RaidInstall, PCI\VEN_1000&DEV_0079, PCI\CC_0104

[Strings]
Fab      = "Fabrikam"
RaidDesc = "Fabrikam RAID Controller"
Disk     = "Fabrikam disk"
INF

# An ARM64-only USB driver, and a display driver whose INF is UTF-16 with a byte order mark.
mkdir -p "$C/drivers/arm" "$C/drivers/display"
crlf >"$C/drivers/arm/tailspin-usb.inf" <<'INF'
[Version]
Signature = "$Windows NT$"
Class = USB
Provider = Tailspin
[Manufacturer]
Tailspin = Tail, NTarm64
[Tail.NTarm64]
"Tailspin USB Hub" = UsbInstall, USB\VID_1234&PID_5678
INF
printf '[Version]\r\nSignature = "$Windows NT$"\r\nClass = Display\r\nProvider = %%Lit%%\r\nDriverVer = 01/02/2024,31.0.101.5186\r\n[Manufacturer]\r\n%%Lit%% = Lit, NTamd64\r\n[Lit.NTamd64]\r\n%%Gpu%% = GpuInstall, PCI\\VEN_8086&DEV_A780\r\n[Strings]\r\nLit = "Litware"\r\nGpu = "Litware Graphics – Überfast"\r\n' |
        iconv -f UTF-8 -t UTF-16 >"$C/drivers/display/litware.inf"

S=$ROOT/class/SMS_Driver
import() { B call $DEST $S $DRV.Static CreateFromINF ss "$@"; }
drivers_count() { B call $DEST $ROOT $DEST.Site ExecQuery s "SELECT CI_ID FROM SMS_Driver" | cut -d' ' -f2; }

# --- the SDK's "import a driver from an INF file": CreateFromINF, then the driver enabled and put ---
out=$(import "$C/drivers/nic" contoso-nic.inf)
expect_eq "CreateFromINF: the new driver" "o \"$ROOT/SMS_Driver/1\"" "$out"
NIC=$ROOT/SMS_Driver/1
xml=$(B get-property $DEST $NIC $DRV SDMPackageXML)
case "$xml" in
*'<DisplayName Text=\"Contoso Gigabit Adapter\"/>'*) ok "SDMPackageXML has the DisplayName the sample reads" ;;
*) not_ok "SDMPackageXML: $xml" ;;
esac
expect_eq "SDMPackageXML is lazy (not in GetAll)" "" \
        "$(B call $DEST $NIC org.freedesktop.DBus.Properties GetAll s $DRV | grep -o SDMPackageXML)"
sedo=$(B get-property $DEST $NIC $DRV SedoObjectVersion | cut -d'"' -f2)
B call $DEST $NIC $DRV Put 'a{sv}' 2 IsEnabled b true SedoObjectVersion s "$sedo" >/dev/null &&
        ok "Put IsEnabled with SedoObjectVersion" || not_ok "Put IsEnabled"

expect_eq "DriverClass" 's "Net"' "$(B get-property $DEST $NIC $DRV DriverClass)"
expect_eq "DriverProvider (a string token)" 's "Contoso Ltd."' "$(B get-property $DEST $NIC $DRV DriverProvider)"
expect_eq "DriverVersion" 's "12.18.9.10"' "$(B get-property $DEST $NIC $DRV DriverVersion)"
expect_eq "DriverDate (2023-03-15 UTC)" "t 1678838400000000" "$(B get-property $DEST $NIC $DRV DriverDate)"
expect_eq "DriverINFFile" 's "contoso-nic.inf"' "$(B get-property $DEST $NIC $DRV DriverINFFile)"
expect_eq "DriverSigned: the catalog is named and there" "b true" "$(B get-property $DEST $NIC $DRV DriverSigned)"
expect_eq "Architectures" 'as 1 "x64"' "$(B get-property $DEST $NIC $DRV Architectures)"
expect_eq "HardwareIDs" 'as 1 "PCI\\VEN_8086&DEV_15B8"' "$(B get-property $DEST $NIC $DRV HardwareIDs)"
expect_eq "CompatibleIDs" 'as 1 "PCI\\VEN_8086&CC_0200"' "$(B get-property $DEST $NIC $DRV CompatibleIDs)"
expect_eq "LocalizedDisplayName" 's "Contoso Gigabit Adapter"' "$(B get-property $DEST $NIC $DRV LocalizedDisplayName)"
expect_eq "CIType_ID" "u 6" "$(B get-property $DEST $NIC $DRV CIType_ID)"
NIC_COPY=$(B get-property $DEST $NIC $DRV ContentSourcePath | cut -d'"' -f2)
case "$NIC_COPY" in
"$WORLD/state/contentlib/DataLib/DRV-"*) ok "ContentSourcePath is the site's copy" ;;
*) not_ok "ContentSourcePath: $NIC_COPY" ;;
esac
expect_eq "the copy has the INF, the catalog and the driver file, nothing else" \
        "contoso-nic.cat contoso-nic.inf x64 x64/contoso-nic.sys" \
        "$(cd "$NIC_COPY" && find . -mindepth 1 | sed 's|^\./||' | sort | tr '\n' ' ' | sed 's/ $//')"

# The same INF again: the same driver, nothing stored twice; the source changing afterwards does
# not change the site's copy.
expect_eq "CreateFromINF of the same INF: the existing driver" "o \"$NIC\"" "$(import "$C/drivers/nic" contoso-nic.inf)"
expect_eq "one driver" "1" "$(drivers_count)"
echo "nic driver v2" >"$C/drivers/nic/x64/contoso-nic.sys"
expect_eq "the copy keeps what was imported" "nic driver v1" "$(cat "$NIC_COPY/x64/contoso-nic.sys")"
expect_eq "the same INF once more: still the same driver" "o \"$NIC\"" "$(import "$C/drivers/nic" contoso-nic.inf)"
expect_eq "and still v1 in the copy" "nic driver v1" "$(cat "$NIC_COPY/x64/contoso-nic.sys")"

out=$(import "$C/drivers/storage" FABRIKAM-RAID.INF)
expect_eq "CreateFromINF of a storage controller (INFFile in another case)" "o \"$ROOT/SMS_Driver/2\"" "$out"
RAID=$ROOT/SMS_Driver/2
expect_eq "multi-architecture: Architectures" 'as 2 "x86" "x64"' "$(B get-property $DEST $RAID $DRV Architectures)"
expect_eq "no catalog: DriverSigned false" "b false" "$(B get-property $DEST $RAID $DRV DriverSigned)"
RAID_COPY=$(B get-property $DEST $RAID $DRV ContentSourcePath | cut -d'"' -f2)
expect_eq "both architectures' files, found without regard to case" "raid x86 raid x64" \
        "$(cat "$RAID_COPY/i386/FABRAID.SYS") $(cat "$RAID_COPY/amd64/FABRAID.SYS")"
expect_eq "CreateFromINF of an ARM64 driver" "o \"$ROOT/SMS_Driver/3\"" "$(import "$C/drivers/arm" tailspin-usb.inf)"
ARM=$ROOT/SMS_Driver/3
expect_eq "CreateFromINF of a UTF-16 INF" "o \"$ROOT/SMS_Driver/4\"" "$(import "$C/drivers/display" litware.inf)"
GPU=$ROOT/SMS_Driver/4
# (busctl writes what is not ASCII as octal escapes of its UTF-8: "–" is \342\200\223, "Ü" \303\234.)
expect_eq "UTF-16: the display name, substituted and decoded" 's "Litware Graphics \342\200\223 \303\234berfast"' \
        "$(B get-property $DEST $GPU $DRV LocalizedDisplayName)"
expect_eq "UTF-16: DriverClass" 's "Display"' "$(B get-property $DEST $GPU $DRV DriverClass)"

# WQL on the catalog.
expect_eq "WQL: drivers of class SCSIAdapter" "a(oa{sv}) 1 \"$RAID\" 1 \"CI_ID\" u 2" \
        "$(B call $DEST $ROOT $DEST.Site ExecQuery s "SELECT CI_ID FROM SMS_Driver WHERE DriverClass = 'scsiadapter'")"
expect_eq "GetObject SMS_Driver.CI_ID=\"1\"" "o \"$NIC\"" \
        "$(B call $DEST $ROOT $DEST.Site GetObject s 'SMS_Driver.CI_ID="1"')"
# As scripts write it: an unquoted integer key, names in any case, a namespace prefix.
for path in 'SMS_Driver.CI_ID=1' 'sms_driver.ci_id=1' '\\.\root\sms\site_LAB:SMS_Driver.CI_ID=1'; do
        expect_eq "GetObject $path" "o \"$NIC\"" "$(B call $DEST $ROOT $DEST.Site GetObject s "$path")"
done

# --- bad input: a named error, and nothing changed ---
mkdir -p "$C/bad"
printf '[Version\r\nSignature="$Windows NT$"\r\n' >"$C/bad/open-section.inf"
printf '[Version]\r\nSignature="$Windows NT$"\r\nClass=Net\r\n' >"$C/bad/no-models.inf"
crlf >"$C/bad/missing-file.inf" <<'INF'
[Version]
Signature = "$Windows NT$"
Class = Net
[SourceDisksNames]
1 = disk
[SourceDisksFiles]
gone.sys = 1
[Manufacturer]
M = M
[M]
"Gone NIC" = I, PCI\VEN_1&DEV_2
INF
expect_fail "line 1" "an unterminated section name names the line" call $DEST $S $DRV.Static CreateFromINF ss "$C/bad" open-section.inf
expect_fail WBEM_E_INVALID_PARAMETER "an INF without models" call $DEST $S $DRV.Static CreateFromINF ss "$C/bad" no-models.inf
expect_fail "gone.sys" "a file the INF names is missing" call $DEST $S $DRV.Static CreateFromINF ss "$C/bad" missing-file.inf
expect_fail WBEM_E_INVALID_PARAMETER "no such INF" call $DEST $S $DRV.Static CreateFromINF ss "$C/bad" nothing.inf
expect_fail WBEM_E_INVALID_PARAMETER "INFFile with .." call $DEST $S $DRV.Static CreateFromINF ss "$C/bad" ../nic/contoso-nic.inf
expect_fail WBEM_E_INVALID_PARAMETER "INFFile absolute" call $DEST $S $DRV.Static CreateFromINF ss "$C/bad" /etc/passwd.inf
expect_fail WBEM_E_INVALID_PARAMETER "INFFile not an .inf" call $DEST $S $DRV.Static CreateFromINF ss "$C/nic" readme.txt
expect_fail WBEM_E_ACCESS_DENIED "DriverPath outside the content roots" call $DEST $S $DRV.Static CreateFromINF ss "$WORLD/state" x.inf
ln -s "$C/drivers/nic" "$WORLD/outside-link"
mkdir -p "$WORLD/elsewhere" && cp "$C/drivers/arm/tailspin-usb.inf" "$WORLD/elsewhere/" && ln -s "$WORLD/elsewhere" "$C/bad/escape"
expect_fail WBEM_E_ACCESS_DENIED "DriverPath through a symlink out of the root" call $DEST $S $DRV.Static CreateFromINF ss "$C/bad/escape" tailspin-usb.inf
expect_eq "no driver was added by the failures" "4" "$(drivers_count)"
expect_eq "no copy was left by the failures" "4" "$(find "$WORLD/state/contentlib/DataLib" -mindepth 1 -maxdepth 1 | wc -l)"
expect_fail WBEM_E_NOT_SUPPORTED "Create on SMS_Driver" call $DEST $S $DEST.Class Create 'a{sv}' 1 IsEnabled b true
expect_fail WBEM_E_READ_ONLY "Put of a read-only property" call $DEST $NIC $DRV Put 'a{sv}' 1 DriverClass s Display
expect_fail WBEM_E_READ_ONLY "Put of ContentSourcePath" call $DEST $NIC $DRV Put 'a{sv}' 1 ContentSourcePath s "$C/drivers/nic"
expect_eq "CreatedBy" "s \"uid=$(id -u)\"" "$(B get-property $DEST $NIC $DRV CreatedBy)"

# --- boot images ---
make_wim "$C/boot.wim" 9
out=$(B call $DEST $ROOT/class/SMS_BootImagePackage $DEST.Class Create 'a{sv}' 2 Name s "WinPE x64" ImagePath s "$C/boot.wim")
P=$ROOT/SMS_BootImagePackage/LAB00001
job_state() { B get-property $DEST "$1" org.smsprov.Provider1.Job State; }
wait_job() {
        _done() { case "$(job_state "$1" 2>/dev/null)" in "u 2" | "u 3" | "u 4") return 0 ;; esac; return 1; }
        wait_until "job $1 to end" _done "$1"
        expect_eq "$2: job completed" "u 2" "$(job_state "$1")"
}
wait_job "$(echo "$out" | cut -d'"' -f4)" "boot image build"
built_files() {
        local wim
        wim=$(B get-property $DEST $P $BASE PkgSourcePath | cut -d'"' -f2)
        wimlib-imagex dir "$wim" 1 --path='\sms\drivers' 2>/dev/null | sed 's|^/sms/drivers||' | grep . | sort | tr '\n' ' '
}

# The SDK's "add a driver to a boot image", step for step: the package by its path, its
# ReferencedDrivers, the driver by its path, an SMS_Driver_Details with ID = CI_ID and SourcePath =
# ContentSourcePath appended, Put, RefreshPkgSource.
pkg=$(B call $DEST $ROOT $DEST.Site GetObject s "SMS_BootImagePackage.PackageID='LAB00001'" | cut -d'"' -f2)
expect_eq "step 1: the boot image by its WMI path" "$P" "$pkg"
expect_eq "step 2: its ReferencedDrivers (none yet)" "a(us) 0" "$(B get-property $DEST "$pkg" $BOOT_IF ReferencedDrivers)"
drv=$(B call $DEST $ROOT $DEST.Site GetObject s 'SMS_Driver.CI_ID="1"' | cut -d'"' -f2)
src=$(B get-property $DEST "$drv" $DRV ContentSourcePath | cut -d'"' -f2)
expect_eq "step 3: the driver and its ContentSourcePath" "$NIC $NIC_COPY" "$drv $src"
B call $DEST "$pkg" $BASE Put 'a{sv}' 1 ReferencedDrivers 'a(us)' 1 1 "$src" >/dev/null &&
        ok "step 4: Put ReferencedDrivers" || not_ok "step 4: Put ReferencedDrivers"
job=$(B call $DEST "$pkg" $BASE RefreshPkgSource | cut -d'"' -f2)
wait_job "$job" "step 5: RefreshPkgSource"
expect_eq "the image has the catalog's copy (v1, not the changed source)" \
        "/1 /1/contoso-nic.cat /1/contoso-nic.inf /1/x64 /1/x64/contoso-nic.sys " "$(built_files)"
expect_eq "SMS_BootImagePackage_DriverRef lists it" \
        "a(oa{sv}) 1 \"$ROOT/SMS_BootImagePackage_DriverRef/CI_5fID_3d1_2cPkgID_3d_22LAB00001_22\" 3 \"CI_ID\" i 1 \"PkgID\" s \"LAB00001\" \"SourcePath\" s \"$NIC_COPY\"" \
        "$(B call $DEST $ROOT $DEST.Site ExecQuery s 'SELECT * FROM SMS_BootImagePackage_DriverRef')"
expect_fail WBEM_E_FAILED "Delete of a referenced driver is Busy" call $DEST $NIC $DRV Delete
expect_eq "and the driver is still there" "1" \
        "$(B call $DEST $ROOT $DEST.Site ExecQuery s 'SELECT CI_ID FROM SMS_Driver WHERE CI_ID = 1' | cut -d' ' -f2)"

# Entries that cannot be: each refused naming the entry, the package unchanged.
before=$(B get-property $DEST $P $BASE SedoObjectVersion)
expect_fail "entry 1 (ID 3)" "a driver not for the image's architecture" \
        call $DEST $P $BASE Put 'a{sv}' 1 ReferencedDrivers 'a(us)' 2 1 "$src" 3 "$C/drivers/arm"
expect_fail "entry 1 (ID 99)" "a driver that does not exist" \
        call $DEST $P $BASE Put 'a{sv}' 1 ReferencedDrivers 'a(us)' 2 1 "$src" 99 "$C/drivers/arm"
B call $DEST $RAID $DRV Put 'a{sv}' 1 IsEnabled b false >/dev/null
expect_fail "is disabled" "a disabled driver" \
        call $DEST $P $BASE Put 'a{sv}' 1 ReferencedDrivers 'a(us)' 1 2 "$RAID_COPY"
expect_fail "another driver's copy" "a SourcePath that is another driver's copy" \
        call $DEST $P $BASE Put 'a{sv}' 1 ReferencedDrivers 'a(us)' 1 1 "$RAID_COPY"
expect_eq "the package is unchanged" "$before" "$(B get-property $DEST $P $BASE SedoObjectVersion)"
B call $DEST $RAID $DRV Put 'a{sv}' 1 IsEnabled b true >/dev/null

# A display driver is accepted, and noted: Windows PE does not load its class at start.
B call $DEST $P $BASE Put 'a{sv}' 1 ReferencedDrivers 'a(us)' 3 1 "$src" 2 "$C/drivers/storage" 4 "$C/drivers/display" >/dev/null &&
        ok "Put of a NIC, a storage and a display driver" || not_ok "Put of three drivers"
note=$(B call $DEST $ROOT $DEST.Site ExecQuery s "SELECT Description FROM SMS_StatusMessage WHERE MessageID = 2310")
case "$note" in
*'4 \"Litware Graphics \342\200\223 \303\234berfast\" (class Display)'*) ok "the display driver is noted in a status message" ;;
*) not_ok "status message: $note" ;;
esac
case "$note" in
*Contoso* | *Fabrikam*) not_ok "the NIC or the storage driver was noted: $note" ;;
*) ok "network and storage drivers are not noted" ;;
esac
expect_eq "three DriverRef rows" "3" \
        "$(B call $DEST $ROOT $DEST.Site ExecQuery s "SELECT CI_ID FROM SMS_BootImagePackage_DriverRef WHERE PkgID = 'LAB00001'" | cut -d' ' -f2)"

# A referenced driver disabled afterwards leaves the list as it is: an edit of another property
# (or the same list again) goes through; a list that changes is checked whole, and refused.
B call $DEST $RAID $DRV Put 'a{sv}' 1 IsEnabled b false >/dev/null
B call $DEST $P $BASE Put 'a{sv}' 1 Description s "edited with a disabled driver listed" >/dev/null &&
        ok "a Put of other properties keeps the older list" || not_ok "a Put of Description was refused"
expect_fail "is disabled" "a changed list that keeps the disabled driver" \
        call $DEST $P $BASE Put 'a{sv}' 1 ReferencedDrivers 'a(us)' 2 1 "$src" 2 "$C/drivers/storage"
B call $DEST $RAID $DRV Put 'a{sv}' 1 IsEnabled b true >/dev/null

# The SDK's "remove a driver from a boot image", step for step: the package, ReferencedDrivers
# without the driver's ID, Put, RefreshPkgSource.
pkg=$(B call $DEST $ROOT $DEST.Site GetObject s "SMS_BootImagePackage.PackageID='LAB00001'" | cut -d'"' -f2)
refs=$(B get-property $DEST "$pkg" $BOOT_IF ReferencedDrivers)
expect_eq "step 1: the package's drivers" "a(us) 3 1 \"$NIC_COPY\" 2 \"$C/drivers/storage\" 4 \"$C/drivers/display\"" "$refs"
B call $DEST "$pkg" $BASE Put 'a{sv}' 1 ReferencedDrivers 'a(us)' 2 2 "$C/drivers/storage" 4 "$C/drivers/display" >/dev/null &&
        ok "step 2: Put without driver 1" || not_ok "step 2: Put without driver 1"
job=$(B call $DEST "$pkg" $BASE RefreshPkgSource | cut -d'"' -f2)
wait_job "$job" "step 3: RefreshPkgSource"
expect_eq "the image has drivers 2 and 4, from the catalog" \
        "/2 /2/amd64 /2/amd64/FABRAID.SYS /2/fabrikam-raid.inf /2/i386 /2/i386/FABRAID.SYS /4 /4/litware.inf " \
        "$(built_files)"

# Unreferenced now: the driver goes, with its copy.
B call $DEST $NIC $DRV Delete >/dev/null && ok "Delete of an unreferenced driver" || not_ok "Delete driver 1"
expect_eq "the driver is gone" "0" \
        "$(B call $DEST $ROOT $DEST.Site ExecQuery s 'SELECT CI_ID FROM SMS_Driver WHERE CI_ID = 1' | cut -d' ' -f2)"
expect_fail "Unknown object" "Get of the deleted driver" get-property $DEST $NIC $DRV DriverClass

trap - EXIT
world_stop
finish
