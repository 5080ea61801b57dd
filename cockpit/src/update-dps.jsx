// SPDX-License-Identifier: MIT
// Update Distribution Points (RefreshPkgSource): the package again from its source to every DP
// that has it. For a boot image the wizard first shows the Windows PE version of the deployment
// kit (the catalog's DeploymentKitVersion for the image's architecture) beside the image's own
// (ImageOSVersion), as the Configuration Manager console does, and offers "Reload this boot image
// with the current Windows PE version" where the kit has Windows PE for that architecture: the
// kit's image exported beside the boot image's WIM (named for the kit's version, never over an
// existing file), ImagePath pointed at it (a Put with the SedoObjectVersion read here), then
// RefreshPkgSource (reload-winpe.js). Changes made to the old WIM outside the site are left
// behind with it; what the boot image's properties hold is applied again by the rebuild.
import React, { useEffect, useState } from "react";
import { Alert, Button, Checkbox, Modal, ModalBody, ModalFooter, ModalHeader } from "@patternfly/react-core";
import { BASE, IFACE, call, get, queryPage, wqlString, errorText, isAccessDenied } from "./bus.js";
import { architecture } from "./format.js";
import { reloadWinPE } from "./reload-winpe.js";

// SMS_BootImagePackage.Architecture (a WIM code) as the kit catalog names it.
export const KIT_ARCH = { 0: "X86", 9: "X64", 12: "ARM64" };

async function winpeVersions(path) {
    const cls = IFACE + "SMS_BootImagePackage";
    const [arch, image, imagePath, sedo] = await Promise.all([get(path, cls, "Architecture"), get(path, cls, "ImageOSVersion"),
        get(path, cls, "ImagePath"), get(path, BASE, "SedoObjectVersion")]);
    // No row for an architecture the kit has no Windows PE for (nor for one the catalog does not name).
    const page = KIT_ARCH[arch] === undefined
        ? { rows: [] }
        : await queryPage("SELECT DeploymentKitVersion FROM SMS_OSDeploymentKitWinPEOptionalComponent WHERE Architecture = " +
                          wqlString(KIT_ARCH[arch]), "", 1);
    return {
        arch, image, kit: page.rows.length ? page.rows[0].props.DeploymentKitVersion : null,
        boot: { path, Architecture: arch, ImagePath: imagePath, SedoObjectVersion: sedo },
    };
}

// What each step of the reload is called where its error is shown.
const STEPS = {
    export: "Exporting the kit's Windows PE image",
    put: "Pointing the boot image at the exported image",
    refresh: "Rebuilding the boot image and updating the distribution points",
};

export function UpdateDpsDialog({ path, packageId, isBootImage, onClose, onRefused }) {
    const [versions, setVersions] = useState(null);
    const [error, setError] = useState(null);
    const [busy, setBusy] = useState(false);
    useEffect(() => {
        if (isBootImage)
            winpeVersions(path).then(setVersions).catch(setError);
    }, [path]);
    const [reload, setReload] = useState(false);
    const [step, setStep] = useState(null); // {name, target} of the reload's current step
    const failed = e => { setError(e); if (isAccessDenied(e)) onRefused(e) };
    const go = () => {
        setBusy(true);
        setError(null);
        const done = reload
            ? reloadWinPE(versions.boot, versions.kit, (name, target) => setStep({ name, target }))
                    .catch(f => { throw f.step ? { name: f.error.name, message: f.error.message, step: f.step } : f })
            : call(path, BASE, "RefreshPkgSource", [], "");
        done.then(() => onClose()).catch(failed).finally(() => setBusy(false));
    };
    return (
        <Modal isOpen variant="medium" onClose={onClose} id="update-dps-dialog" aria-labelledby="update-dps-title">
            <ModalHeader title={"Update Distribution Points: " + packageId} labelId="update-dps-title"
                         description="Every distribution point that has this package gets it again from its source." />
            <ModalBody>
                {versions &&
                    <dl className="smsprov-versions">
                        <dt>Windows PE version of the deployment kit ({architecture(versions.arch)})</dt>
                        <dd id="update-kit-version">{versions.kit ?? "no Windows PE for this architecture in the kit"}</dd>
                        <dt>Windows PE version of this boot image</dt>
                        <dd id="update-image-version">{versions.image || "not known"}</dd>
                    </dl>}
                {isBootImage &&
                    <p id="update-rebuild-note" className="smsprov-help">
                        The boot image is rebuilt first from its image path, with the kit's current optional
                        components and Configuration Manager binaries, then sent to every distribution point.
                    </p>}
                {versions && versions.kit &&
                    <Checkbox id="update-reload-winpe" isChecked={reload} isDisabled={busy} onChange={(_e, v) => setReload(v)}
                              label="Reload this boot image with the current Windows PE version from the deployment kit"
                              description={"The kit's Windows PE is exported beside " + versions.boot.ImagePath +
                                           " and becomes the boot image's source; changes made to the old image outside " +
                                           "this site are not carried over, the drivers, components and customization " +
                                           "in its properties are applied again."} />}
                {busy && step &&
                    <p id="update-step" data-step={step.name} className="smsprov-help">
                        {STEPS[step.name]}{step.target ? ": " + step.target : ""}…</p>}
                {versions && versions.kit && versions.image && versions.kit !== versions.image &&
                    <Alert variant="info" isInline className="smsprov-version-differs"
                           title="The boot image's Windows PE version differs from the deployment kit's" />}
                {error && <Alert variant="danger" isInline className="smsprov-dialog-error" data-step={error.step || ""}
                                 title={(error.step ? STEPS[error.step] + ": " : "") + errorText(error)} />}
            </ModalBody>
            <ModalFooter>
                <Button id="update-go" variant="primary" isDisabled={busy || (isBootImage && !versions && !error)} onClick={go}>
                    Update</Button>
                <Button variant="link" onClick={onClose}>Cancel</Button>
            </ModalFooter>
        </Modal>
    );
}
