# SPDX-License-Identifier: MIT
"""Walks the console as an admin would, against the real daemon (see run.sh)."""

import os
import subprocess
import concurrent.futures
import glob
import json
import sys
import time
import traceback

import dbus

from cdp import Browser, Failure

BUS = os.environ["SMSPROV_BUS"]
WORLD = os.environ["WORLD"]
CONTENT = os.environ["WORLD_CONTENT"]
HOLDS = os.environ["WORLD_HOLDS"]
URL = os.environ["COCKPIT_URL"]
LOG_DIR = os.environ["LOG_DIR"]
NAME = "org.smsprov.Provider1"
IFACE = "org.smsprov.Provider1."

passed = 0
failed = 0


def busctl(*args):
    r = subprocess.run(["busctl", "--address=" + BUS, *args], capture_output=True, text=True)
    if r.returncode != 0:
        raise Failure("busctl %s: %s" % (" ".join(args), r.stderr.strip()))
    return r.stdout.strip()


def prop(path, iface, name):
    return busctl("get-property", NAME, path, IFACE + iface, name)


def query(wql):
    """The rows of a WQL query through busctl, as [{property: value}] (strings and numbers)."""
    out = subprocess.run(["busctl", "--address=" + BUS, "--json=short", "call", NAME, "/org/smsprov/Provider1",
                          IFACE + "Site", "ExecQuery", "s", wql], capture_output=True, text=True)
    if out.returncode != 0:
        raise Failure("ExecQuery %s: %s" % (wql, out.stderr.strip()))
    rows = json.loads(out.stdout)["data"][0]
    return [{k: v["data"] for k, v in props.items()} for _path, props in rows]


def hold(op):
    open(os.path.join(HOLDS, op), "w").close()


def release(op):
    if os.path.exists(os.path.join(HOLDS, op)):
        os.unlink(os.path.join(HOLDS, op))


def wait_held(op):
    """Waits (under the one deadline) until a job waits at the test point op."""
    end = time.monotonic() + float(os.environ.get("WAIT_SECONDS", "300"))
    while not glob.glob(os.path.join(HOLDS, op + ".*.held")):
        if time.monotonic() > end:
            raise Failure("timed out waiting for a job held at %s" % op)
        time.sleep(0.02)


def polkit_mock(method, *args):
    return busctl("call", "org.freedesktop.PolicyKit1", "/org/freedesktop/PolicyKit1/Authority",
                  "org.freedesktop.DBus.Mock", method, *args)


GROUPS = {0: "success", 1: "inProgress", 2: "inProgress", 4: "inProgress", 5: "inProgress", 7: "inProgress",
          3: "error", 6: "error"}


def chart_matches_daemon(b, package):
    """The Content Status chart's segments against the states the daemon reports for package."""
    want = {}
    for r in query("SELECT State FROM SMS_PackageStatusDistPointsSummarizer WHERE PackageID = '%s'" % package):
        g = GROUPS.get(r["State"], "unknown")
        want[g] = want.get(g, 0) + 1
    got = b.js("Object.fromEntries(Array.from(document.querySelectorAll('#content-status-chart .smsprov-donut-segment'))"
               ".map(e => [e.dataset.segment, Number(e.dataset.count)]))")
    check("the chart of %s matches the daemon's states %r" % (package, want), want, got)


def check(what, expected, got):
    global passed, failed
    if expected == got:
        passed += 1
        print("ok - %s" % what)
    else:
        failed += 1
        print("not ok - %s: expected %r, got %r" % (what, expected, got))


def step(name):
    """Runs a step; a failure says where and what, with the screenshot of that moment."""
    def wrap(fn):
        def run(b, *a):
            global passed, failed
            try:
                fn(b, *a)
                passed += 1
                print("ok - %s" % name)
                return True
            except Exception as e:
                failed += 1
                shot = b.screenshot("failed-" + fn.__name__)
                print("not ok - %s: %s\n#   screenshot %s; daemon log %s/smsprovd.log" % (name, e, shot, LOG_DIR))
                traceback.print_exc()
                return False
        return run
    return wrap


def open_view(b, key):
    b.click("#nav-" + key + " , #nav-" + key + " button, #nav-" + key + " a")


@step("the console opens in the Cockpit shell with the Boot Images list")
def opens(b):
    b.navigate(URL + "smsprovd")
    b.wait("#list-SMS_BootImagePackage[data-loaded='1']", "the Boot Images list to load")
    b.wait("#smsprov-console[data-authz='allowed'][data-read-only='0']", "root to be allowed to write (it passes without polkit)")
    b.screenshot("01-boot-images-empty")


@step("Add Boot Image refuses a path outside the content roots, at the path field")
def add_refused(b):
    b.click("#add-package")
    b.type("#add-path", "/etc/passwd")
    b.click("#add-read-images")
    b.wait_text(".smsprov-field-error", "PathNotAllowed")
    b.screenshot("02-add-boot-image-refused")


@step("Add Boot Image shows the WIM's images, imports one and its build job runs to the end")
def add_boot(b):
    b.type("#add-path", CONTENT + "/boot.wim")
    b.click("#add-read-images")
    b.wait("#add-image-1", "the WIM's image 1 in the wizard")
    b.wait_js("the image name taken from the WIM", "document.querySelector('#add-name').value === 'Microsoft Windows PE (x64)'")
    b.type("#add-name", "Boot image (x64)")
    b.type("#add-version", "1.0")
    b.type("#add-comment", "made by the browser test")
    b.screenshot("03-add-boot-image")
    b.click("#add-create")
    b.wait_js("the dialog to close", "!document.querySelector('#add-package-dialog')")
    b.wait_text("#list-SMS_BootImagePackage td[data-prop='Name']", "Boot image (x64)")
    b.wait(".smsprov-job[data-state='2']", "the build job to complete in the jobs panel")
    b.wait_text("#list-SMS_BootImagePackage td[data-prop='Architecture']", "x64")
    b.screenshot("04-boot-images")


def open_sheet(b, name):
    b.click_text("#list-SMS_BootImagePackage td[data-prop='Name']", name)
    b.wait("#property-sheet .pf-v6-c-tabs", "the property sheet")


def tab(b, title):
    b.click_text("#property-sheet button[role='tab']", title)


def close_sheet(b):
    b.js("document.querySelector('#property-sheet button[aria-label=\"Close\"]').click()")
    b.wait_js("the sheet to close", "!document.querySelector('#property-sheet')")


def sedo_of(path, iface):
    return prop(path, iface, "SedoObjectVersion").split('"')[1]


def save_and_reload(b, button, path, iface):
    """Saves with button, and waits until the sheet holds the version the save made."""
    before = sedo_of(path, iface)
    b.click(button)
    b.wait_js("the save to be made (or refused)", "document.querySelector('#property-sheet [data-sedo]').dataset.sedo !== %r || "
              "!!document.querySelector('#property-sheet .smsprov-dialog-error, #property-sheet .smsprov-conflict')" % before)
    b.wait_js("the sheet to hold the saved version",
              "document.querySelector('#property-sheet [data-sedo]').dataset.sedo === %r" % sedo_of(path, iface))


def changed_meanwhile(b, path, iface, change, edit, save, shot):
    """Puts change (name, type, value) from busctl while the sheet is open, makes the sheet's own
    edit and saves: the sheet must report the conflict."""
    busctl("call", NAME, path, IFACE + iface, "Put", "a{sv}", "1", *change)
    edit()
    b.click(save)
    b.wait("#property-sheet .smsprov-conflict", "the conflict alert")
    b.screenshot(shot)


@step("the Customization tab saves with one Put, read back through busctl")
def customization(b):
    open_sheet(b, "Boot image (x64)")
    tab(b, "Customization")
    b.wait("#prop-ScratchSpace")
    b.select("#prop-ScratchSpace", 256)
    b.click("#prop-EnableLabShell")
    b.type("#prop-PreExecCommandLine", "cmd /c echo hello")
    b.screenshot("05-customization")
    path = "/org/smsprov/Provider1/SMS_BootImagePackage/LAB00001"
    save_and_reload(b, "#save-customization", path, "SMS_PackageBaseclass")
    check("ScratchSpace read back", "u 256", prop(path, "SMS_BootImagePackage", "ScratchSpace"))
    check("EnableLabShell read back", "b true", prop(path, "SMS_BootImagePackage", "EnableLabShell"))
    check("PreExecCommandLine read back", 's "cmd /c echo hello"', prop(path, "SMS_BootImagePackage", "PreExecCommandLine"))


@step("a change from busctl while the sheet is open is a conflict that offers to reload")
def conflict(b):
    path = "/org/smsprov/Provider1/SMS_BootImagePackage/LAB00001"
    sedo = prop(path, "SMS_PackageBaseclass", "SedoObjectVersion").split('"')[1]
    b.wait_js("the sheet to hold the current version",
              "document.querySelector('#property-sheet [data-sedo]').dataset.sedo === %r" % sedo)
    changed_meanwhile(b, path, "SMS_PackageBaseclass", ["Version", "s", "from-busctl"],
                      lambda: (tab(b, "General"), b.type("#prop-Name", "Renamed in the console")), "#save-general", "06-conflict")
    check("the refused save changed nothing", 's "Boot image (x64)"', prop(path, "SMS_PackageBaseclass", "Name"))
    b.click("#sheet-reload")
    b.wait_js("the reloaded Version", "document.querySelector('#prop-Version').value === 'from-busctl'")
    close_sheet(b)


@step("Optional Components: the always-included four are shown as such; adding one rebuilds the image")
def components(b):
    open_sheet(b, "Boot image (x64)")
    tab(b, "Optional Components")
    b.wait_text("#property-sheet .smsprov-tab-components label", "WinPE-WMI (always included)")
    pid = b.wait_js("WinPE-PowerShell offered",
                    "(Array.from(document.querySelectorAll('#property-sheet .smsprov-tab-components input[type=checkbox]'))"
                    ".find(e => e.parentNode.textContent.includes('WinPE-PowerShell')) || {}).id")
    b.click("#" + pid)
    b.screenshot("06b-optional-components")
    b.click("#save-components")
    b.wait_text(".smsprov-job[data-state='2']", "UpdateOptionalComponents", "the rebuild to complete")
    check("OptionalComponents read back", "au 1 " + pid.split("-")[1],
          prop("/org/smsprov/Provider1/SMS_BootImagePackage/LAB00001", "SMS_BootImagePackage", "OptionalComponents"))
    close_sheet(b)


def nav(b, title):
    b.click_text("#smsprov-console > .pf-v6-c-page__main-container button[role='tab'], #smsprov-console button[role='tab']", title)


BOOT = BOOT_PATH = "/org/smsprov/Provider1/SMS_BootImagePackage/LAB00001"


@step("Distribute Content to two DPs; Content Status reaches success on both")
def distribute(b):
    b.click("#list-SMS_BootImagePackage tr[data-path='%s'] .smsprov-distribute" % BOOT)
    b.wait("#dist-dp1")
    b.click("#dist-dp1")
    b.click("#dist-dp2")
    b.wait(".smsprov-summary", "the summary of the chosen DPs")
    b.screenshot("07-distribute")
    b.click("#distribute-go")
    b.wait_js("the dialog to close", "!document.querySelector('#distribute-dialog')")
    nav(b, "Content Status")
    b.click_text("#list-status td[data-prop='PackageID']", "LAB00001")
    b.wait_text("#content-status-detail [data-count='success']", "Success: 2", "both DPs to reach success")
    chart_matches_daemon(b, "LAB00001")
    b.screenshot("08-content-status")
    b.screenshot("readme-console", scale=0.6)  # the README's picture (cockpit/console.png)
    # Distribute Content hides the DPs that already have it.
    nav(b, "Boot Images")
    b.click("#list-SMS_BootImagePackage tr[data-path='%s'] .smsprov-distribute" % BOOT)
    b.wait(".smsprov-empty", "no DP left to offer")
    b.js("document.querySelector('#distribute-dialog button[aria-label=\"Close\"]').click()")
    b.wait_js("the dialog to close", "!document.querySelector('#distribute-dialog')")


def dp_file(dp):
    root = os.path.join(WORLD, dp, "SCCMContentLib", "DataLib", "LAB00001")
    for d, _, files in os.walk(root):
        for f in files:
            return os.path.join(d, f)
    raise Failure("no content of LAB00001 under %s" % root)


@step("a damaged copy: Validate finds it (Install failed), Redistribute repairs it (Installed)")
def validate_redistribute(b):
    path = dp_file("dp1")
    with open(path, "r+b") as f:
        f.write(b"corrupted")
    nav(b, "Content Status")
    b.click_text("#list-status td[data-prop='PackageID']", "LAB00001")
    row = "#content-status-detail tr[data-dp='dp1']"
    b.wait(row + "[data-state='0']")
    b.click(row + " .smsprov-validate")
    b.wait(row + "[data-state='3']", "Validate to mark dp1's copy failed")
    b.wait_text("#content-status-detail [data-count='error']", "Error: 1")
    chart_matches_daemon(b, "LAB00001")
    b.screenshot("09-validate-failed")
    b.click(row + " .smsprov-redistribute")
    b.wait(row + "[data-state='0']", "Redistribute to bring dp1 back to installed")
    with open(dp_file("dp1"), "rb") as f:
        check("dp1's copy repaired", False, f.read(9) == b"corrupted")


@step("a running job shows in the jobs panel and Cancel cancels it")
def cancel(b):
    open(os.path.join(HOLDS, "RefreshPkgSource"), "w").close()
    try:
        nav(b, "Boot Images")
        b.click("#list-SMS_BootImagePackage tr[data-path='%s'] .smsprov-update" % BOOT)
        b.wait("#update-kit-version", "the kit's Windows PE version in Update Distribution Points")
        kit = query("SELECT DeploymentKitVersion FROM SMS_OSDeploymentKitWinPEOptionalComponent WHERE Architecture = 'X64'")
        check("the kit's Windows PE version as the daemon has it", kit[0]["DeploymentKitVersion"], b.text("#update-kit-version"))
        image = prop(BOOT, "SMS_BootImagePackage", "ImageOSVersion")
        check("the image has a Windows PE version", True, image not in ('s ""', ""))
        check("the image's Windows PE version as the daemon has it", image, 's "%s"' % b.text("#update-image-version"))
        check("the dialog says what the update does to a boot image", True,
              "rebuilt first from its image path" in b.text("#update-rebuild-note"))
        check("the kit has Windows PE for x64: the reload is offered", True, bool(b.js("!!document.querySelector('#update-reload-winpe')")))
        b.screenshot("10a-update-distribution-points")
        b.click("#update-go")
        b.wait(".smsprov-job[data-state='1'] .smsprov-job-cancel", "the held job running with Cancel")
        b.screenshot("10-job-running")
        b.click(".smsprov-job[data-state='1'] .smsprov-job-cancel")
        b.wait(".smsprov-job[data-state='4']", "the job canceled")
        b.wait_text(".smsprov-job[data-state='4']", "Canceled")
    finally:
        os.unlink(os.path.join(HOLDS, "RefreshPkgSource"))


def newest_job(b):
    return b.js("Math.max(0, ...Array.from(document.querySelectorAll('.smsprov-job')).map(e => Number(e.dataset.jobId)))")


def wait_job_after(b, first, operation, state):
    """Waits for a job newer than first doing operation to reach state in the jobs panel."""
    b.wait_js("%s (a job after %d) in state %d" % (operation, first, state),
              "Array.from(document.querySelectorAll('.smsprov-job')).some(e => Number(e.dataset.jobId) > %d && "
              "e.dataset.state === '%d' && e.textContent.includes(%s))" % (first, state, json.dumps(operation)))


@step("Update Distribution Points: reload the boot image with the kit's Windows PE (export, ImagePath, rebuild); a failed export does nothing else")
def reload_winpe(b):
    kit = query("SELECT DeploymentKitVersion FROM SMS_OSDeploymentKitWinPEOptionalComponent WHERE Architecture = 'X64'")[0]["DeploymentKitVersion"]
    source = prop(BOOT, "SMS_BootImagePackage", "ImagePath")
    with open(CONTENT + "/boot.wim", "rb") as f:
        original = f.read()
    # The admin's own file under the name the export would take first: it must stay as it is.
    taken = os.path.join(CONTENT, "boot-winpe-%s.wim" % kit)
    with open(taken, "w") as f:
        f.write("the admin's file\n")
    nav(b, "Boot Images")
    b.click("#list-SMS_BootImagePackage tr[data-path='%s'] .smsprov-update" % BOOT)
    b.click("#update-reload-winpe")
    first = newest_job(b)
    # The stand-in kit has no winpe.wim yet: the export fails, and nothing else is done.
    b.click("#update-go")
    b.wait_text("#update-dps-dialog .smsprov-dialog-error[data-step='export']", "winpe.wim", "the export's error")
    shown = b.text("#update-dps-dialog .smsprov-dialog-error .pf-v6-c-alert__title")
    check("the export's error as the daemon says it, named for its step", True,
          "Exporting the kit's Windows PE image: InvalidParameter: " in shown and "the deployment kit has no" in shown)
    b.screenshot("26-reload-winpe-export-failed")
    check("after the failed export ImagePath is unchanged", source, prop(BOOT, "SMS_BootImagePackage", "ImagePath"))
    check("and no RefreshPkgSource started", False,
          b.js("Array.from(document.querySelectorAll('.smsprov-job')).some(e => Number(e.dataset.jobId) > %d && "
               "e.textContent.includes('RefreshPkgSource'))" % first))
    # The kit gets its Windows PE (a WIM of another build than the boot image's).
    winpe = os.path.join(WORLD, "adk", "amd64", "winpe.wim")
    with open(winpe, "wb") as f:
        f.write(original)
    subprocess.run(["wimlib-imagex", "info", winpe, "1", "--image-property", "WINDOWS/VERSION/BUILD=26100",
                    "--image-property", "WINDOWS/VERSION/SPBUILD=2"], check=True, capture_output=True)
    b.click("#update-go")
    b.wait_js("the dialog to close", "!document.querySelector('#update-dps-dialog')")
    wait_job_after(b, first, "ExportDefaultBootImage", 2)
    wait_job_after(b, first, "RefreshPkgSource", 2)
    b.screenshot("27-reload-winpe-done")
    exported = os.path.join(CONTENT, "boot-winpe-%s-2.wim" % kit)
    check("ImagePath names the exported image, beside the old one, under a free name", 's "%s"' % exported,
          prop(BOOT, "SMS_BootImagePackage", "ImagePath"))
    check("the rebuilt image has the kit's Windows PE version", 's "10.0.26100.2"', prop(BOOT, "SMS_BootImagePackage", "ImageOSVersion"))
    with open(taken) as f:
        check("the admin's file under the first name is untouched", "the admin's file\n", f.read())
    with open(CONTENT + "/boot.wim", "rb") as f:
        check("the old source WIM is untouched", True, f.read() == original)


@step("Add Operating System Image and Add Operating System Upgrade Package")
def os_images(b):
    for view, path, name in [("Operating System Images", CONTENT + "/boot.wim", "Windows 11 Enterprise"),
                             ("Operating System Upgrade Packages", CONTENT + "/win11-setup", "Windows 11 upgrade")]:
        nav(b, view)
        b.click("#add-package")
        b.type("#add-path", path)
        b.click("#add-read-images")
        b.wait("#add-image-1", "the images of %s" % path)
        b.type("#add-name", name)
        b.click("#add-create")
        b.wait_js("the dialog to close", "!document.querySelector('#add-package-dialog')")
        b.wait_text(".smsprov-list td[data-prop='Name']", name)
    b.screenshot("11-os-upgrade-packages")
    check("the upgrade package's type", "u 259",
          prop("/org/smsprov/Provider1/SMS_OperatingSystemInstallPackage/LAB00003", "SMS_PackageBaseclass", "PackageType"))


# --- drivers ---------------------------------------------------------------------------------

DRIVERS = os.path.join(CONTENT, "drivers")

# INF files of the shapes an admin brings (tests/bus/test-drivers.sh has more), written here with
# the files they name: name -> (INF file name, INF lines, {file: text}).
INFS = {
    "nic": ("contoso-nic.inf", [
        "; Contoso Gigabit Adapter", "[Version]", 'Signature = "$WINDOWS NT$"', "Class = Net",
        "ClassGuid = {4d36e972-e325-11ce-bfc1-08002be10318}", "Provider = %Contoso%", "DriverVer = 03/15/2023,12.18.9.10",
        "CatalogFile = contoso-nic.cat", "[SourceDisksNames]", "1 = %Disk%,,,\\x64", "[SourceDisksFiles]", "contoso-nic.sys = 1",
        "[Manufacturer]", "%Contoso% = Contoso, NTamd64", "[Contoso.NTamd64]",
        "%NicDesc% = NicInstall, PCI\\VEN_8086&DEV_15B8, PCI\\VEN_8086&CC_0200", "[NicInstall]", "CopyFiles = NicFiles",
        "[Strings]", 'Contoso = "Contoso Ltd."', 'NicDesc = "Contoso Gigabit Adapter"', 'Disk = "Contoso driver disk"'],
        {"contoso-nic.cat": "catalog", "x64/contoso-nic.sys": "nic driver"}),
    # Storage for x86 and x64, unsigned (no catalog).
    "storage": ("fabrikam-raid.inf", [
        "[Version]", 'Signature = "$Windows NT$"', "Class = SCSIAdapter", "Provider = %Fab%", "DriverVer = 11/02/2021,6.2.0.1",
        "[SourceDisksNames]", "1 = %Disk%", "[SourceDisksFiles]", "fabraid.sys = 1",
        "[Manufacturer]", "%Fab% = Fab, NTx86, NTamd64", "[Fab.NTx86]", "%RaidDesc% = RaidInstall, PCI\\VEN_1000&DEV_0079",
        "[Fab.NTamd64]", "%RaidDesc% = RaidInstall, PCI\\VEN_1000&DEV_0079",
        "[Strings]", 'Fab = "Fabrikam"', 'RaidDesc = "Fabrikam RAID Controller"', 'Disk = "Fabrikam disk"'],
        {"fabraid.sys": "raid"}),
    # USB for ARM64 only, signed.
    "usb": ("tailspin-usb.inf", [
        "[Version]", 'Signature = "$Windows NT$"', "Class = USB", "Provider = Tailspin", "DriverVer = 05/01/2022,2.0.0.0",
        "CatalogFile = tailspin.cat", "[Manufacturer]", "Tailspin = Tail, NTarm64", "[Tail.NTarm64]",
        '"Tailspin USB Hub" = UsbInstall, USB\\VID_1234&PID_5678'],
        {"tailspin.cat": "catalog"}),
    # Display for x64, signed: neither storage nor network.
    "display": ("litware.inf", [
        "[Version]", 'Signature = "$Windows NT$"', "Class = Display", "Provider = Litware", "DriverVer = 01/02/2024,31.0.101.5186",
        "CatalogFile = litware.cat", "[Manufacturer]", "Litware = Lit, NTamd64", "[Lit.NTamd64]",
        '"Litware Graphics" = GpuInstall, PCI\\VEN_8086&DEV_A780'],
        {"litware.cat": "catalog"}),
    # Malformed: the section name on line 1 is not closed.
    "bad": ("bad.inf", ["[Version", 'Signature = "$Windows NT$"'], {}),
}
DRIVER_NAMES = {"nic": "Contoso Gigabit Adapter", "storage": "Fabrikam RAID Controller", "usb": "Tailspin USB Hub",
                "display": "Litware Graphics"}


def write_driver(name):
    inf, lines, files = INFS[name]
    folder = os.path.join(DRIVERS, name)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, inf), "w", newline="") as f:
        f.write("".join(line + "\r\n" for line in lines))
    for rel, text in files.items():
        os.makedirs(os.path.dirname(os.path.join(folder, rel)), exist_ok=True)
        with open(os.path.join(folder, rel), "w") as f:
            f.write(text + "\n")
    return folder, inf


def driver_id(name):
    rows = query("SELECT CI_ID FROM SMS_Driver WHERE LocalizedDisplayName = '%s'" % DRIVER_NAMES[name])
    if len(rows) != 1:
        raise Failure("no one driver named %s: %r" % (DRIVER_NAMES[name], rows))
    return rows[0]["CI_ID"]


def driver_path(name):
    return "/org/smsprov/Provider1/SMS_Driver/%d" % driver_id(name)


def wait_column(b, what, table, prop, want, any_order=False):
    """Waits until the loaded list table shows want in its column prop (in that order, or in any)."""
    cells = "Array.from(document.querySelectorAll('%s tbody td[data-prop=\"%s\"]')).map(e => e.textContent)" % (table, prop)
    if any_order:
        cells, want = cells + ".sort()", sorted(want)
    b.wait_js(what, "!!document.querySelector('%s[data-loaded=\"1\"]') && JSON.stringify(%s) === %s"
              % (table, cells, json.dumps(json.dumps(want, separators=(",", ":")))))


def field_error_at(b, field):
    """The error text shown in the form group of the input #field."""
    return b.js("(document.querySelector('#%s').closest('.pf-v6-c-form__group').querySelector('.smsprov-field-error') || {})"
                ".textContent" % field)


@step("Drivers: Import Driver shows the daemon's errors at their field, imports an INF, and the list sorts and filters through the daemon")
def drivers_import(b):
    # What the site has already: three drivers imported with busctl.
    for name in ["storage", "usb", "display"]:
        folder, inf = write_driver(name)
        busctl("call", NAME, "/org/smsprov/Provider1/class/SMS_Driver", IFACE + "SMS_Driver.Static", "CreateFromINF", "ss", folder, inf)
    nic_folder, nic_inf = write_driver("nic")
    bad_folder, bad_inf = write_driver("bad")
    nav(b, "Drivers")
    b.wait("#list-SMS_Driver[data-loaded='1'][data-rows='3']", "the three drivers")
    b.click("#import-driver")
    b.type("#import-driver-path", "/etc")
    b.type("#import-driver-inf", "passwd.inf")
    b.click("#import-driver-go")
    b.wait_js("PathNotAllowed at the folder", "(document.querySelector('#import-driver-path').closest('.pf-v6-c-form__group')"
                                              ".querySelector('.smsprov-field-error') || {}).textContent")
    check("a folder outside the content roots: the error at the folder", True, "PathNotAllowed" in field_error_at(b, "import-driver-path"))
    b.type("#import-driver-path", bad_folder)
    b.type("#import-driver-inf", bad_inf)
    b.click("#import-driver-go")
    b.wait_js("the INF's error at the INF field", "((document.querySelector('#import-driver-inf').closest('.pf-v6-c-form__group')"
                                                  ".querySelector('.smsprov-field-error') || {}).textContent || '').includes('line 1')")
    check("a bad INF: InvalidParameter naming the line, at the INF field", True,
          field_error_at(b, "import-driver-inf").startswith("InvalidParameter"))
    b.screenshot("20-import-driver-bad-inf")
    b.type("#import-driver-path", nic_folder)
    b.type("#import-driver-inf", nic_inf)
    b.click("#import-driver-go")
    b.wait_js("the dialog to close", "!document.querySelector('#import-driver-dialog')")
    b.wait("#list-SMS_Driver[data-loaded='1'][data-rows='4']", "the imported driver in the list")
    check("the imported driver, through busctl", 's "Net"', prop(driver_path("nic"), "SMS_Driver", "DriverClass"))
    row = "#list-SMS_Driver tr[data-path='%s']" % driver_path("nic")
    check("its row: name, class, provider, version, date, enabled, signed, architectures",
          ["Contoso Gigabit Adapter", "Net", "Contoso Ltd.", "12.18.9.10", "2023-03-15", "Yes", "Yes", "x64"],
          b.js("Array.from(document.querySelectorAll(\"%s td[data-prop]\")).map(e => e.textContent)" % row))
    # Sorting is the daemon's ORDER BY: each order as busctl's query has it.
    def names(order):
        return [r["LocalizedDisplayName"] for r in query("SELECT LocalizedDisplayName FROM SMS_Driver ORDER BY " + order)]
    wait_column(b, "sorted by name", "#list-SMS_Driver", "LocalizedDisplayName", names("LocalizedDisplayName"))
    b.click_text("#list-SMS_Driver th button", "Version")
    wait_column(b, "sorted by version", "#list-SMS_Driver", "LocalizedDisplayName", names("DriverVersion"))
    b.click_text("#list-SMS_Driver th button", "Version")
    wait_column(b, "sorted by version, descending", "#list-SMS_Driver", "LocalizedDisplayName", names("DriverVersion DESC"))
    b.click_text("#list-SMS_Driver th button", "Date")
    wait_column(b, "sorted by date", "#list-SMS_Driver", "LocalizedDisplayName", names("DriverDate"))
    check("Architectures (an array) offers no sorting", False,
          b.js("Array.from(document.querySelectorAll('#list-SMS_Driver th')).some(e => e.textContent === 'Architectures' && e.querySelector('button'))"))
    b.type("#list-SMS_Driver .smsprov-filter input, #list-SMS_Driver input.smsprov-filter", "fabrikam")
    wait_column(b, "the filter to leave the RAID controller", "#list-SMS_Driver", "LocalizedDisplayName", ["Fabrikam RAID Controller"])
    b.type("#list-SMS_Driver .smsprov-filter input, #list-SMS_Driver input.smsprov-filter", "")
    b.wait("#list-SMS_Driver[data-loaded='1'][data-rows='4']", "the four drivers back")
    b.screenshot("21-drivers")


@step("a driver's properties: Disable is a Put read back through busctl; a change from busctl meanwhile is a conflict")
def driver_sheet(b):
    raid = driver_path("storage")
    b.click("#list-SMS_Driver tr[data-path='%s'] td[data-prop='LocalizedDisplayName']" % raid)
    b.wait("#property-sheet #prop-IsEnabled:checked", "the sheet with the driver enabled")
    check("the sheet shows the INF's data", "SCSIAdapter", b.js("document.querySelector('#prop-DriverClass').value"))
    b.click("#prop-IsEnabled")
    save_and_reload(b, "#save-general", raid, "SMS_Driver")
    check("IsEnabled read back", "b false", prop(raid, "SMS_Driver", "IsEnabled"))
    b.wait_text("#list-SMS_Driver tr[data-path='%s'] td[data-prop='IsEnabled']" % raid, "No", "the list to show it disabled")
    changed_meanwhile(b, raid, "SMS_Driver", ["IsEnabled", "b", "true"], lambda: b.click("#prop-IsEnabled"), "#save-general",
                      "22-driver-conflict")
    b.click("#sheet-reload")
    b.wait("#property-sheet #prop-IsEnabled:checked", "the reloaded sheet: enabled, as busctl left it")
    check("no active control on what the INF says", True, b.js("document.querySelector('#prop-DriverClass').disabled"))
    close_sheet(b)


def referenced(path=BOOT_PATH):
    return prop(path, "SMS_BootImagePackage", "ReferencedDrivers")


def wait_chooser(b, what, want):
    wait_column(b, what, "#list-driver-choice", "LocalizedDisplayName", want, any_order=True)


@step("the boot image's Drivers tab: the chooser's filters, Add, Save as one Put, the daemon's refusal at its entry, Remove")
def boot_drivers(b):
    nav(b, "Boot Images")
    open_sheet(b, "Boot image (x64)")
    tab(b, "Drivers")
    b.wait("#property-sheet .smsprov-tab-drivers .smsprov-empty", "no drivers yet")
    b.click("#drivers-add")
    nic, raid, usb, gpu = (DRIVER_NAMES[k] for k in ["nic", "storage", "usb", "display"])
    wait_chooser(b, "x64 storage and network drivers", [nic, raid])
    b.click("#driver-filter-signed")
    wait_chooser(b, "signed ones only", [nic])
    b.click("#driver-filter-storageNetwork")
    wait_chooser(b, "the display driver too", [nic, gpu])
    b.click("#driver-filter-architecture")
    wait_chooser(b, "the ARM64 driver too", [nic, gpu, usb])
    b.click("#driver-filter-signed")
    wait_chooser(b, "every driver", [nic, raid, gpu, usb])
    b.screenshot("23-driver-chooser")
    for name in ["nic", "storage"]:
        b.click("#list-driver-choice tr[data-path='%s'] .smsprov-driver-add" % driver_path(name))
        b.wait("#property-sheet .smsprov-tab-drivers tr[data-driver='%d']" % driver_id(name))
    wait_chooser(b, "the added drivers left out of the chooser", [gpu, usb])
    b.click("#driver-chooser-done")
    save_and_reload(b, "#save-drivers", BOOT_PATH, "SMS_PackageBaseclass")
    copy = {k: prop(driver_path(k), "SMS_Driver", "ContentSourcePath") for k in ["nic", "storage", "display"]}
    check("ReferencedDrivers read back", "a(us) 2 %d %s %d %s" % (driver_id("nic"), copy["nic"][2:], driver_id("storage"), copy["storage"][2:]),
          referenced())
    check("SMS_BootImagePackage_DriverRef lists both", sorted([driver_id("nic"), driver_id("storage")]),
          sorted(r["CI_ID"] for r in query("SELECT CI_ID FROM SMS_BootImagePackage_DriverRef WHERE PkgID = 'LAB00001'")))
    # The RAID controller disabled from busctl while the display driver is added: the daemon
    # refuses the list naming the RAID controller's entry, shown there.
    b.click("#drivers-add")
    b.click("#driver-filter-storageNetwork")
    b.click("#list-driver-choice tr[data-path='%s'] .smsprov-driver-add" % driver_path("display"))
    b.click("#driver-chooser-done")
    busctl("call", NAME, driver_path("storage"), IFACE + "SMS_Driver", "Put", "a{sv}", "1", "IsEnabled", "b", "false")
    before = referenced()
    b.click("#save-drivers")
    row = "#property-sheet .smsprov-tab-drivers tr[data-driver='%d'][data-error='1']" % driver_id("storage")
    b.wait_text(row + " .smsprov-field-error", "is disabled", "the refusal at the RAID controller's entry")
    check("the refusal is InvalidParameter", True, b.text(row + " .smsprov-field-error").startswith("InvalidParameter"))
    b.screenshot("24-boot-drivers-refused")
    check("the refused Put changed nothing", before, referenced())
    busctl("call", NAME, driver_path("storage"), IFACE + "SMS_Driver", "Put", "a{sv}", "1", "IsEnabled", "b", "true")
    for name in ["storage", "display"]:
        b.click("#property-sheet .smsprov-tab-drivers tr[data-driver='%d'] .smsprov-driver-remove" % driver_id(name))
    b.wait_js("one driver left", "document.querySelector('#property-sheet .smsprov-tab-drivers').dataset.refs === '%d'" % driver_id("nic"))
    save_and_reload(b, "#save-drivers", BOOT_PATH, "SMS_PackageBaseclass")
    check("ReferencedDrivers after Remove", "a(us) 1 %d %s" % (driver_id("nic"), copy["nic"][2:]), referenced())
    b.screenshot("25-boot-drivers")
    close_sheet(b)


@step("the reload with the kit's Windows PE is not offered for an architecture the kit has no Windows PE for")
def reload_not_offered(b):
    wim = os.path.join(CONTENT, "boot-arm64.wim")
    with open(CONTENT + "/boot.wim", "rb") as src, open(wim, "wb") as dst:
        dst.write(src.read())
    subprocess.run(["wimlib-imagex", "info", wim, "1", "--image-property", "WINDOWS/ARCH=12"], check=True, capture_output=True)
    out = busctl("call", NAME, "/org/smsprov/Provider1/class/SMS_BootImagePackage", IFACE + "Class", "Create", "a{sv}", "2",
                 "Name", "s", "Boot image (ARM64)", "ImagePath", "s", wim)
    path = out.split('"')[1]
    nav(b, "Boot Images")
    b.click("#list-SMS_BootImagePackage tr[data-path='%s'] .smsprov-update" % path)
    b.wait_text("#update-kit-version", "no Windows PE for this architecture", "the kit's answer for ARM64")
    check("no reload offered for ARM64 (the stand-in kit has x86 and amd64)", False,
          b.js("!!document.querySelector('#update-reload-winpe')"))
    b.screenshot("27b-reload-not-offered")
    b.js("document.querySelector('#update-dps-dialog button[aria-label=\"Close\"]').click()")
    b.wait_js("the dialog to close", "!document.querySelector('#update-dps-dialog')")


IMAGE = "/org/smsprov/Provider1/SMS_ImagePackage/LAB00002"


def dp1_state(package):
    return [r["State"] for r in query("SELECT State, ServerNALPath FROM SMS_PackageStatusDistPointsSummarizer "
                                      "WHERE PackageID = '%s'" % package) if "dp1" in r["ServerNALPath"]]


@step("per DP: Cancel stops a held distribution (Install failed), Remove takes the content off")
def cancel_remove(b):
    row = "#content-status-detail tr[data-dp='dp1']"
    hold("Distribute")
    try:
        nav(b, "Operating System Images")
        b.click("#list-SMS_ImagePackage tr[data-path='%s'] .smsprov-distribute" % IMAGE)
        b.click("#dist-dp1")
        b.click("#distribute-go")
        b.wait_js("the dialog to close", "!document.querySelector('#distribute-dialog')")
        wait_held("Distribute")
        nav(b, "Content Status")
        b.click_text("#list-status td[data-prop='PackageID']", "LAB00002")
        b.click(row + " .smsprov-cancel-dist")
        b.wait("#content-status-detail .smsprov-locations[data-done='Cancel']", "the daemon to accept Cancel")
        b.screenshot("11a-cancel-distribution")
    finally:
        release("Distribute")
    b.wait(row + "[data-state='3']", "the canceled distribution to be Install failed")
    check("dp1's state after Cancel, through busctl", [3], dp1_state("LAB00002"))
    chart_matches_daemon(b, "LAB00002")
    hold("RemoveContent")
    try:
        b.click(row + " .smsprov-remove")
        b.wait(row + "[data-state='4']", "Remove to mark dp1 Removal pending")
        check("dp1's state while the removal is held, through busctl", [4], dp1_state("LAB00002"))
    finally:
        release("RemoveContent")
    b.wait("#content-status-detail .smsprov-locations[data-rows='0']", "the removed assignment to go")
    check("no assignment of LAB00002 left, through busctl", [],
          query("SELECT ServerNALPath FROM SMS_DistributionPoint WHERE PackageID = 'LAB00002'"))
    check("dp1 holds no LAB00002", False,
          os.path.exists(os.path.join(WORLD, "dp1", "SCCMContentLib", "DataLib", "LAB00002")))


@step("Distribution Points lists the DPs and each DP's content")
def dps(b):
    nav(b, "Distribution Points")
    b.wait("#list-dps[data-rows='2']", "two DPs")
    b.click_text("#list-dps td[data-prop='ServerName']", "dp2")
    b.wait("#dp-content tr[data-package='LAB00001'][data-state='0']", "LAB00001 installed on dp2")
    b.screenshot("12-distribution-points")


@step("Status Messages shows the audit trail, newest first, filtered by the daemon")
def messages(b):
    nav(b, "Status Messages")
    b.wait("#list-messages[data-loaded='1'] td[data-prop='Description']", "status messages")
    first = int(b.text("#list-messages tbody tr td[data-prop='RecordID']"))
    last = int(b.js("Array.from(document.querySelectorAll('#list-messages tbody td[data-prop=\"RecordID\"]')).pop().textContent"))
    check("newest first", True, first > last)
    b.type("#list-messages .smsprov-filter input, #list-messages input.smsprov-filter", "no such message text")
    b.wait("#list-messages[data-loaded='1'][data-rows='0']", "the filter to leave nothing")
    b.type("#list-messages .smsprov-filter input, #list-messages input.smsprov-filter", "")
    b.wait_js("the rows back", "Number(document.querySelector('#list-messages').dataset.rows) > 0")
    b.screenshot("13-status-messages")


@step("a user polkit refuses sees the page read-only at once; allowed one action, a refused write turns it read-only")
def reader(b):
    polkit_mock("ClearCalls")
    b.navigate(os.environ["COCKPIT_READER_URL"] + "smsprovd")
    b.wait_text("#list-SMS_BootImagePackage td[data-prop='Name']", "Boot image (x64)", "the reader to see the boot image")
    b.wait("#smsprov-console[data-authz='denied'][data-read-only='1'] #read-only", "the read-only banner before any write")
    b.wait_js("no write controls", "!document.querySelector('#add-package, .smsprov-delete, .smsprov-distribute')")
    b.screenshot("14-read-only")
    # The page asked about itself: the subject of its questions is a connection of nobody's.
    calls = busctl("--json=short", "call", "org.freedesktop.PolicyKit1", "/org/freedesktop/PolicyKit1/Authority",
                   "org.freedesktop.DBus.Mock", "GetMethodCalls", "s", "CheckAuthorization")
    # a(tav): each call its time and its arguments as variants, the first the subject (sa{sv}).
    subjects = {c[1][0]["data"][1]["name"]["data"] for c in json.loads(calls)["data"][0]}
    uids = {busctl("call", "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                   "GetConnectionUnixUser", "s", name) for name in subjects}
    check("the page asked polkit for its own connection (nobody's)", {"u 65534"}, uids)
    # Allowed to cancel jobs only: the page is writable, and a delete (manage-packages) is refused.
    polkit_mock("SetAllowed", "as", "1", "org.smsprov.provider1.cancel-job")
    b.navigate(os.environ["COCKPIT_READER_URL"] + "smsprovd")
    b.wait("#smsprov-console[data-authz='allowed'][data-read-only='0']", "the page writable once polkit allows an action")
    b.click("#list-SMS_BootImagePackage tr[data-path='%s'] .smsprov-delete" % BOOT)
    b.wait_text("#action-error", "AccessDenied", "the refusal, named")
    b.wait("#smsprov-console[data-read-only='1'] #read-only", "the read-only banner after the refusal")
    b.wait_js("no write controls left", "!document.querySelector('#add-package, .smsprov-delete, .smsprov-distribute')")
    b.screenshot("14b-refused")
    check("the refused delete changed nothing", 's "Boot image (x64)"', prop(BOOT, "SMS_PackageBaseclass", "Name"))


def fresh(b, url):
    """Opens url in a new document (none of the old one's DOM left to match)."""
    b.navigate("about:blank")
    b.wait_js("the old page gone", "!document.querySelector('#smsprov-console')")
    b.navigate(url)


@step("a user polkit refuses sees the drivers and a boot image's Drivers tab without active controls")
def reader_drivers(b):
    polkit_mock("SetAllowed", "as", "0")
    fresh(b, os.environ["COCKPIT_READER_URL"] + "smsprovd")
    b.wait("#smsprov-console[data-authz='denied'][data-read-only='1']", "the page read-only")
    nav(b, "Drivers")
    b.wait("#list-SMS_Driver[data-loaded='1'][data-rows='4']", "the four drivers")
    check("no Import Driver", False, b.js("!!document.querySelector('#import-driver')"))
    b.click("#list-SMS_Driver tr[data-path='%s'] td[data-prop='LocalizedDisplayName']" % driver_path("nic"))
    b.wait("#property-sheet #prop-IsEnabled:checked")
    check("a driver's sheet: Enabled shown, not changeable, no Save", [True, False],
          b.js("[document.querySelector('#prop-IsEnabled').disabled, !!document.querySelector('#property-sheet button[id^=\"save-\"]')]"))
    close_sheet(b)
    nav(b, "Boot Images")
    open_sheet(b, "Boot image (x64)")
    tab(b, "Drivers")
    b.wait("#property-sheet .smsprov-tab-drivers tr[data-driver='%d']" % driver_id("nic"), "the referenced NIC")
    b.wait_text("#property-sheet .smsprov-tab-drivers td", DRIVER_NAMES["nic"], "its catalog name")
    check("no Add, Remove or Save in the Drivers tab", False,
          b.js("!!document.querySelector('#drivers-add, .smsprov-driver-remove, #save-drivers, #driver-chooser')"))
    b.screenshot("28-read-only-drivers")
    close_sheet(b)


SCALE_PACKAGES = int(os.environ.get("CONSOLE_SCALE_PACKAGES", "5000"))
SCALE_DPS = 50
SCALE_CLIENTS = 4


def populate():
    """SCALE_PACKAGES OS images and DPs up to SCALE_DPS, through the API (one Create each), from
    a few connections at once so that the round trips overlap."""
    def create(conn, cls, props):
        obj = conn.get_object(NAME, "/org/smsprov/Provider1/class/" + cls)
        return obj.Create(dbus.Dictionary(props, signature="sv"), dbus_interface=IFACE + "Class", timeout=300)

    def packages(first):
        conn = dbus.bus.BusConnection(BUS)
        for i in range(first, SCALE_PACKAGES, SCALE_CLIENTS):
            create(conn, "SMS_ImagePackage", {"Name": "Scale image %04d" % i, "Version": str(i % 7)})
        conn.close()

    with concurrent.futures.ThreadPoolExecutor(SCALE_CLIENTS) as pool:
        for f in [pool.submit(packages, n) for n in range(SCALE_CLIENTS)]:
            f.result()
    conn = dbus.bus.BusConnection(BUS)
    for i in range(3, SCALE_DPS + 1):
        root = os.path.join(WORLD, "dp%d" % i)
        os.makedirs(root, exist_ok=True)
        nal = '["Display=\\\\dp%d\\"]MSWNET:["SMS_SITE=LAB"]\\\\dp%d\\' % (i, i)
        create(conn, "SMS_DistributionPointInfo", {"NALPath": nal, "ContentRoot": root})
    conn.close()


def timed(b, what, fn):
    start = time.monotonic()
    fn()
    print("# figure: %s: %.2f s" % (what, time.monotonic() - start))


@step("with 5,000 packages and 50 DPs the lists page, sort and filter through the daemon")
def scale(b):
    start = time.monotonic()
    populate()
    print("# figure: %d packages and %d DPs created through the API in %.1f s"
          % (SCALE_PACKAGES, SCALE_DPS, time.monotonic() - start))
    b.navigate(URL + "smsprovd")
    b.wait("#list-SMS_BootImagePackage[data-loaded='1']")
    timed(b, "Operating System Images, first page", lambda: (
        nav(b, "Operating System Images"),
        b.wait("#list-SMS_ImagePackage[data-loaded='1'][data-rows='100']", "a full first page")))
    first = b.text("#list-SMS_ImagePackage tbody td[data-prop='Name']")
    timed(b, "next page", lambda: (
        b.click("#list-SMS_ImagePackage .smsprov-next"),
        b.wait_text("#list-SMS_ImagePackage .smsprov-pageno", "Page 2"),
        b.wait_js("page 2's rows", "document.querySelector('#list-SMS_ImagePackage tbody td[data-prop=\"Name\"]').textContent !== %r" % first)))
    timed(b, "sort by Name, descending", lambda: (
        b.click_text("#list-SMS_ImagePackage th button", "Name"),  # it was ascending: now descending
        b.wait_text("#list-SMS_ImagePackage tbody tr:first-child td[data-prop='Name']", "Windows 11 Enterprise")))
    timed(b, "filter to one name", lambda: (
        b.type("#list-SMS_ImagePackage .smsprov-filter input", "Scale image 4321" if SCALE_PACKAGES > 4321 else "Scale image 0001"),
        b.wait("#list-SMS_ImagePackage[data-loaded='1'][data-rows='1']", "one row")))
    b.screenshot("15-scale-os-images")
    timed(b, "Distribution Points list", lambda: (
        nav(b, "Distribution Points"),
        b.wait("#list-dps[data-rows='%d']" % SCALE_DPS, "%d DPs" % SCALE_DPS)))
    timed(b, "Distribute Content offers the 48 DPs without the content", lambda: (
        nav(b, "Boot Images"),
        b.click("#list-SMS_BootImagePackage tr[data-path='%s'] .smsprov-distribute" % BOOT),
        b.wait_js("48 DPs offered", "document.querySelectorAll('#distribute-dialog input[type=checkbox]').length === %d" % (SCALE_DPS - 2))))
    b.js("document.querySelector('#distribute-dialog button[aria-label=\"Close\"]').click()")


def main():
    b = Browser(LOG_DIR)
    try:
        for s in [opens, add_refused, add_boot, customization, conflict, components, drivers_import, driver_sheet, boot_drivers,
                  distribute, validate_redistribute, cancel, reload_winpe, os_images, reload_not_offered, cancel_remove, dps,
                  messages, scale, reader, reader_drivers]:
            if not s(b):
                break
    finally:
        if b.console:
            with open(os.path.join(LOG_DIR, "browser-console.log"), "w") as f:
                f.write("\n".join(b.console))
        b.close()
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
