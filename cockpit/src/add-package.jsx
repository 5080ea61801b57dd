// SPDX-License-Identifier: MIT
// Add Boot Image / Add Operating System Image / Add Operating System Upgrade Package: the source
// path, the images the WIM holds (GetImageProperties, before anything is imported), the index
// to use, and Name, Version, Comment. One Create; a boot image's build shows in the jobs panel.
import React, { useState } from "react";
import { Button, Form, FormGroup, FormHelperText, HelperText, HelperTextItem, Modal, ModalBody, ModalFooter,
    ModalHeader, Radio, TextInput, Alert } from "@patternfly/react-core";
import { ROOT, IFACE, call, errorText } from "./bus.js";
import { architecture, parseImageProperty } from "./format.js";

// What each kind asks for (CONSOLE.md's checklist). An upgrade package is a folder with
// sources/install.wim; its images are read from there.
export const ADD_KINDS = {
    SMS_BootImagePackage: {
        title: "Add Boot Image", pathLabel: "Path of the boot image WIM",
        create: (path, index) => ({ ImagePath: { t: "s", v: path }, ImageIndex: { t: "u", v: index } }),
        wim: path => path,
    },
    SMS_ImagePackage: {
        title: "Add Operating System Image", pathLabel: "Path of the image WIM",
        create: (path) => ({ PkgSourceFlag: { t: "u", v: 2 }, PkgSourcePath: { t: "s", v: path } }),
        wim: path => path,
    },
    SMS_OperatingSystemInstallPackage: {
        title: "Add Operating System Upgrade Package", pathLabel: "Folder of the upgrade package (with sources/install.wim)",
        create: (path) => ({ PkgSourceFlag: { t: "u", v: 2 }, PkgSourcePath: { t: "s", v: path } }),
        wim: path => path.replace(/\/+$/, "") + "/sources/install.wim",
    },
};

// An error shown at the field it concerns.
export function ErrorAt({ error }) {
    if (!error) return null;
    return (
        <FormHelperText>
            <HelperText><HelperTextItem variant="error" className="smsprov-field-error">{errorText(error)}</HelperTextItem></HelperText>
        </FormHelperText>
    );
}

export function AddPackageDialog({ cls, onClose }) {
    const kind = ADD_KINDS[cls];
    const [path, setPath] = useState("");
    const [images, setImages] = useState(null);
    const [index, setIndex] = useState(1);
    const [name, setName] = useState("");
    const [version, setVersion] = useState("");
    const [comment, setComment] = useState("");
    const [pathError, setPathError] = useState(null);
    const [error, setError] = useState(null);
    const [busy, setBusy] = useState(false);

    const readImages = () => {
        setBusy(true);
        setPathError(null);
        call(ROOT + "/class/" + cls, IFACE + cls + ".Static", "GetImageProperties", [kind.wim(path)], "s")
                .then(([xml]) => {
                    const list = parseImageProperty(xml);
                    setImages(list);
                    if (list.length) {
                        setIndex(list[0].index);
                        if (!name) setName(list[0].props["Image name"] || "");
                    }
                })
                .catch(e => { setImages(null); setPathError(e) })
                .finally(() => setBusy(false));
    };

    const create = () => {
        setBusy(true);
        setError(null);
        const props = { ...kind.create(path, index), Name: { t: "s", v: name } };
        if (version) props.Version = { t: "s", v: version };
        if (comment) props.Description = { t: "s", v: comment };
        call(ROOT + "/class/" + cls, IFACE + "Class", "Create", [props], "a{sv}")
                .then(([instance, job]) => onClose({ instance, job }))
                .catch(e => {
                    // Errors about the source belong at the path field.
                    if (/PathNotAllowed|ImageError|NotFound/.test(e.name || "")) setPathError(e); else setError(e);
                })
                .finally(() => setBusy(false));
    };

    return (
        <Modal isOpen variant="medium" onClose={() => onClose(null)} id="add-package-dialog" aria-labelledby="add-package-title">
            <ModalHeader title={kind.title} labelId="add-package-title" />
            <ModalBody>
                <Form onSubmit={e => e.preventDefault()}>
                    <FormGroup label={kind.pathLabel} fieldId="add-path" isRequired>
                        <TextInput id="add-path" value={path} validated={pathError ? "error" : "default"}
                                   onChange={(_e, v) => { setPath(v); setImages(null) }} />
                        <ErrorAt error={pathError} />
                        <Button variant="secondary" id="add-read-images" isDisabled={!path || busy} onClick={readImages}>
                            Show the images
                        </Button>
                    </FormGroup>
                    {images &&
                        <FormGroup label="Image index" fieldId="add-images" role="radiogroup" isStack>
                            {images.map(img => (
                                <Radio key={img.index} id={"add-image-" + img.index} name="add-image" isChecked={index === img.index}
                                       onChange={() => setIndex(img.index)}
                                       label={img.index + ": " + (img.props["Image name"] || "(no name)")}
                                       description={[architecture(img.props.Architecture), img.props["OS version"],
                                           img.props.Language, img.props.Size && (img.props.Size + " bytes")].filter(Boolean).join(" · ")} />
                            ))}
                        </FormGroup>}
                    <FormGroup label="Name" fieldId="add-name" isRequired>
                        <TextInput id="add-name" value={name} onChange={(_e, v) => setName(v)} />
                    </FormGroup>
                    <FormGroup label="Version" fieldId="add-version">
                        <TextInput id="add-version" value={version} onChange={(_e, v) => setVersion(v)} />
                    </FormGroup>
                    <FormGroup label="Comment" fieldId="add-comment">
                        <TextInput id="add-comment" value={comment} onChange={(_e, v) => setComment(v)} />
                    </FormGroup>
                    {error && <Alert variant="danger" isInline title={errorText(error)} className="smsprov-dialog-error" />}
                </Form>
            </ModalBody>
            <ModalFooter>
                <Button variant="primary" id="add-create" isDisabled={!images || !name || busy} onClick={create}>Add</Button>
                <Button variant="link" onClick={() => onClose(null)}>Cancel</Button>
            </ModalFooter>
        </Modal>
    );
}
