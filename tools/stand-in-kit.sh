#!/usr/bin/env bash
# A stand-in Windows deployment kit and OSD binaries, for tools/run.sh and the tests: the layout
# smsprovd reads (--adk-root: <arch>/WinPE_OCs/<Name>/, <arch>/winpe.wim; --osd-bin-root:
# i386/ x64/) holding placeholder files, so that boot image builds can run where no Windows ADK
# or Configuration Manager binaries exist. Point smsprovd at the real ones in production.
#   make_stand_in_kit ADK-DIR OSD-BIN-DIR
make_stand_in_kit() {
        local adk=$1 osd=$2 arch name f
        for arch in x86 amd64; do
                for name in WinPE-WMI WinPE-Scripting WinPE-WDS-Tools WinPE-SecureStartup WinPE-NetFx WinPE-PowerShell; do
                        mkdir -p "$adk/$arch/WinPE_OCs/$name/Windows/System32"
                        echo "$name $arch" > "$adk/$arch/WinPE_OCs/$name/Windows/System32/$name.txt"
                done
        done
        echo "10.1.22621.1" > "$adk/version"
        for arch in i386 x64; do
                mkdir -p "$osd/$arch/00000409"
                for f in TsBootShell.exe TsmBootstrap.exe TsProgressUI.exe 00000409/tsres.dll; do
                        echo "$f for $arch" > "$osd/$arch/$f"
                done
        done
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
        make_stand_in_kit "$@"
fi
