// SPDX-License-Identifier: MIT
// "Reload this boot image with the current Windows PE version" (reference item 24): the boot
// image rebuilt from the deployment kit's Windows PE, so that changes made to its WIM outside
// the site are gone and only what its properties hold (drivers, components, customization) is
// applied again. Composed of the API's methods, each step's error the admin's to read:
//   1. ExportDefaultBootImage(architecture, 1, NEW) writes the kit's image to NEW, beside the
//      image's ImagePath and named for the kit's version; never over an existing file (the
//      admin's source least of all): a name taken gets -2, -3, ….
//   2. Put {ImagePath: NEW, ImageIndex: 1, SedoObjectVersion}: the boot image points at it.
//   3. RefreshPkgSource: the rebuild from NEW, then every DP that has the image gets it.
// A failed step ends the reload: nothing after it is done.
import { ROOT, IFACE, BASE, call, put, waitJob } from "./bus.js";
import { architecture } from "./format.js";

const BOOT = "SMS_BootImagePackage";

// IMAGE-DIR/STEM-winpe-VERSION[-N].wim, STEM the image's own name without an earlier reload's suffix.
export function exportPathFor(imagePath, kitVersion, n) {
    const slash = imagePath.lastIndexOf("/");
    const dir = imagePath.slice(0, slash);
    const stem = imagePath.slice(slash + 1).replace(/\.wim$/i, "").replace(/-winpe-[^/]*$/, "") || "boot";
    const version = String(kitVersion).replace(/[^A-Za-z0-9._-]/g, "_");
    return dir + "/" + stem + "-winpe-" + version + (n > 1 ? "-" + n : "") + ".wim";
}

// Whether a file is at path, asked the daemon (the page reads no files itself): GetImageProperties
// reads a WIM there, or fails to read a file that is no WIM; nothing there is InvalidParameter.
async function taken(path) {
    try {
        await call(ROOT + "/class/" + BOOT, IFACE + BOOT + ".Static", "GetImageProperties", [path], "s");
        return true;
    } catch (e) {
        // Something there that is no WIM; any other error the export reports better.
        return /Error\.(Failed|ImageError)$/.test(e.name || "");
    }
}

export async function freeExportPath(imagePath, kitVersion) {
    for (let n = 1; n < 100; n++) {
        const candidate = exportPathFor(imagePath, kitVersion, n);
        if (candidate !== imagePath && !(await taken(candidate)))
            return candidate;
    }
    throw { name: "Failed", message: "no free name like " + exportPathFor(imagePath, kitVersion, 1) + " in its folder" };
}

// image: {path, Architecture, ImagePath, SedoObjectVersion}; onStep(name, detail) before each
// step. Resolves to the refresh's job; rejects with {step, error}.
export async function reloadWinPE(image, kitVersion, onStep) {
    // cockpit.dbus's promises do not turn a throw in a handler into a rejection: each step is
    // awaited in a try of its own.
    const step = async (name, fn) => {
        try {
            return await fn();
        } catch (error) {
            throw { step: name, error };
        }
    };
    onStep("export");
    const target = await step("export", () => freeExportPath(image.ImagePath, kitVersion));
    onStep("export", target);
    await step("export", async () => {
        const [job] = await call(ROOT + "/class/" + BOOT, IFACE + BOOT + ".Static", "ExportDefaultBootImage",
                                 [architecture(image.Architecture).toLowerCase(), 1, target], "sus");
        await waitJob(job);
    });
    onStep("put", target);
    await step("put", () => put(image.path, BASE, {
        ImagePath: { t: "s", v: target },
        ImageIndex: { t: "u", v: 1 },
        SedoObjectVersion: { t: "s", v: image.SedoObjectVersion },
    }));
    onStep("refresh", target);
    const [refresh] = await step("refresh", () => call(image.path, BASE, "RefreshPkgSource", [], ""));
    return refresh;
}
