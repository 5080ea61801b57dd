// SPDX-License-Identifier: MIT
// Update Distribution Points (RefreshPkgSource): the package again from its source to every DP
// that has it. For a boot image the wizard first shows the Windows PE version of the deployment
// kit (the catalog's DeploymentKitVersion for the image's architecture) beside the image's own
// (ImageOSVersion), as the Configuration Manager console does. Its "reload with the current Windows
// PE version" has no method behind it here (RefreshPkgSource and UpdateDefaultImage rebuild from
// the image's own ImagePath): the dialog says how to get there instead of offering a dead choice.
import React, { useEffect, useState } from "react";
import { Alert, Button, Modal, ModalBody, ModalFooter, ModalHeader } from "@patternfly/react-core";
import { BASE, IFACE, call, get, queryPage, wqlString, errorText, isAccessDenied } from "./bus.js";
import { architecture } from "./format.js";

// SMS_BootImagePackage.Architecture (a WIM code) as the kit catalog names it.
export const KIT_ARCH = { 0: "X86", 9: "X64", 12: "ARM64" };

async function winpeVersions(path) {
    const cls = IFACE + "SMS_BootImagePackage";
    const [arch, image] = await Promise.all([get(path, cls, "Architecture"), get(path, cls, "ImageOSVersion")]);
    const page = await queryPage("SELECT DeploymentKitVersion FROM SMS_OSDeploymentKitWinPEOptionalComponent WHERE Architecture = " +
                                 wqlString(KIT_ARCH[arch] || "X64"), "", 1);
    return { arch, image, kit: page.rows.length ? page.rows[0].props.DeploymentKitVersion : null };
}

export function UpdateDpsDialog({ path, packageId, isBootImage, onClose, onRefused }) {
    const [versions, setVersions] = useState(null);
    const [error, setError] = useState(null);
    const [busy, setBusy] = useState(false);
    useEffect(() => {
        if (isBootImage)
            winpeVersions(path).then(setVersions).catch(setError);
    }, [path]);
    const go = () => {
        setBusy(true);
        call(path, BASE, "RefreshPkgSource", [], "")
                .then(() => onClose())
                .catch(e => { setError(e); if (isAccessDenied(e)) onRefused(e) })
                .finally(() => setBusy(false));
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
                        Its Windows PE version stays that of the WIM at its image path: to move this boot image to
                        the kit's Windows PE, change its ImagePath to the kit's winpe.wim (a Put, with smsctl or
                        busctl), then update.
                    </p>}
                {versions && versions.kit && versions.image && versions.kit !== versions.image &&
                    <Alert variant="info" isInline className="smsprov-version-differs"
                           title="The boot image's Windows PE version differs from the deployment kit's" />}
                {error && <Alert variant="danger" isInline className="smsprov-dialog-error" title={errorText(error)} />}
            </ModalBody>
            <ModalFooter>
                <Button id="update-go" variant="primary" isDisabled={busy || (isBootImage && !versions && !error)} onClick={go}>
                    Update</Button>
                <Button variant="link" onClick={onClose}>Cancel</Button>
            </ModalFooter>
        </Modal>
    );
}
