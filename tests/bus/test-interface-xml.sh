#!/usr/bin/env bash
# dbus/*.xml must be what smsprovd really introspects, with a doc comment on every member.
# After changing an interface: run this with UPDATE=1 to rewrite the files.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

world_start || exit 1
trap world_stop EXIT

# One instance of every class, so that each interface can be introspected.
make_wim "$WORLD/content/boot.wim" 9
B call org.smsprov.Provider1 /org/smsprov/Provider1/class/SMS_BootImagePackage org.smsprov.Provider1.Class \
        Create 'a{sv}' 1 ImagePath s "$WORLD/content/boot.wim" >/dev/null
for class in SMS_ImagePackage SMS_OperatingSystemInstallPackage; do
        B call org.smsprov.Provider1 /org/smsprov/Provider1/class/$class org.smsprov.Provider1.Class \
                Create 'a{sv}' 0 >/dev/null
done
# A distribution point and an assignment to it (SMS_DistributionPoint and its state).
mkdir -p "$WORLD/dp1"
nal='["Display=\\dp1\"]MSWNET:["SMS_SITE=LAB"]\\dp1\'
B call org.smsprov.Provider1 /org/smsprov/Provider1/class/SMS_DistributionPointInfo org.smsprov.Provider1.Class \
        Create 'a{sv}' 2 NALPath s "$nal" ContentRoot s "$WORLD/dp1" >/dev/null
B call org.smsprov.Provider1 /org/smsprov/Provider1/class/SMS_ImagePackage org.smsprov.Provider1.Class \
        Create 'a{sv}' 2 PkgSourceFlag u 2 PkgSourcePath s "$WORLD/content/boot.wim" >/dev/null
B call org.smsprov.Provider1 /org/smsprov/Provider1/SMS_ImagePackage/LAB00004 \
        org.smsprov.Provider1.SMS_PackageBaseclass AddDistributionPoints asas 1 LAB 1 "$nal" >/dev/null

# A driver (SMS_Driver) referenced by the boot image (SMS_BootImagePackage_DriverRef).
mkdir -p "$WORLD/content/nic"
printf '[Version]\r\nSignature="$Windows NT$"\r\nClass=Net\r\n[Manufacturer]\r\nM=M,NTamd64\r\n[M.NTamd64]\r\n"NIC"=I,PCI\\VEN_1\r\n' \
        >"$WORLD/content/nic/nic.inf"
driver=$(B call org.smsprov.Provider1 /org/smsprov/Provider1/class/SMS_Driver org.smsprov.Provider1.SMS_Driver.Static \
        CreateFromINF ss "$WORLD/content/nic" nic.inf | cut -d'"' -f2)
copy=$(B get-property org.smsprov.Provider1 "$driver" org.smsprov.Provider1.SMS_Driver ContentSourcePath | cut -d'"' -f2)
B call org.smsprov.Provider1 /org/smsprov/Provider1/SMS_BootImagePackage/LAB00001 \
        org.smsprov.Provider1.SMS_PackageBaseclass Put 'a{sv}' 1 ReferencedDrivers 'a(us)' 1 1 "$copy" >/dev/null

mode=--check
[ -n "${UPDATE:-}" ] && mode=--update
python3 "$SOURCE_ROOT/tools/interface-xml.py" --address "$SMSPROV_BUS" --docs "$INTERFACE_DOCS" \
        $mode "$SOURCE_ROOT/dbus"
status=$?
trap - EXIT
world_stop
[ "$FAILED" -eq 0 ] && exit $status || exit 1
