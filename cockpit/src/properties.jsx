// SPDX-License-Identifier: MIT
// A package's property sheet: tabs as in the Configuration Manager console, each saved with one
// Put carrying the SedoObjectVersion read when the sheet was (re)loaded. A VersionMismatch says
// the object changed and offers to reload.
import React, { useEffect, useState } from "react";
import { Alert, Button, Checkbox, Form, FormGroup, FormHelperText, FormSelect, FormSelectOption,
    HelperText, HelperTextItem, Modal, ModalBody, ModalHeader, Tab, Tabs, TextInput } from "@patternfly/react-core";
import { BASE, IFACE, call, get, getAll, put, queryAll, wqlString, errorText, isAccessDenied, subscribe } from "./bus.js";
import { architecture, parseImageProperty } from "./format.js";
import { ContentLocations } from "./content.jsx";
import { KIT_ARCH } from "./update-dps.jsx";
import { DRIVER_SHEET } from "./driver-catalog.js";
import { BootDriversTab } from "./boot-drivers.jsx";
import { SaveAlerts } from "./save-alerts.jsx";

const SCRATCH = [32, 64, 128, 256, 512];
const PRIORITY = { 1: "High", 2: "Medium", 3: "Low" };

// Field kinds: text (s), number (u) select, check (b), flag (a bit of PkgFlags).
const GENERAL = [
    { prop: "Name", label: "Name", kind: "text" },
    { prop: "Version", label: "Version", kind: "text" },
    { prop: "Description", label: "Comment", kind: "text" },
];
const CUSTOMIZATION = [
    { prop: "PreExecCommandLine", label: "Prestart command", kind: "text" },
    { prop: "PreExecSourceDirectory", label: "Prestart command files folder", kind: "text" },
    { prop: "BackgroundBitmapPath", label: "Windows PE background image", kind: "text" },
    { prop: "ScratchSpace", label: "Windows PE scratch space (MB)", kind: "select", options: SCRATCH.map(v => [v, String(v)]) },
    { prop: "EnableLabShell", label: "Enable command support (testing only)", kind: "check" },
    { prop: "InputLocale", label: "Windows PE input locale", kind: "text" },
];
const DISTRIBUTION = [
    { prop: "Priority", label: "Distribution priority", kind: "select", options: Object.entries(PRIORITY).map(([k, v]) => [Number(k), v]) },
];
const MULTICAST = [
    { prop: "PkgFlags", bit: 0x100, label: "Allow this package to be transferred via multicast", kind: "flag" },
    { prop: "PkgFlags", bit: 0x200, label: "Encrypt multicast packages", kind: "flag" },
    { prop: "PkgFlags", bit: 0x400, label: "Transfer this package only via multicast", kind: "flag" },
];
const BOOT_SOURCE = [
    { prop: "ImagePath", label: "Image path", kind: "text", readOnly: true },
    { prop: "ImageIndex", label: "Image index", kind: "text", readOnly: true },
    { prop: "PkgFlags", bit: 0x800, label: "Deploy this boot image from the PXE-enabled distribution point", kind: "flag" },
];
const PKG_SOURCE = [
    { prop: "PkgSourcePath", label: "Data source path", kind: "text", readOnly: true },
];

// The tabs of each class; "images" and "content" are views, the others field sets.
const SHEETS = {
    SMS_BootImagePackage: [["general", "General", GENERAL], ["images", "Images"], ["drivers", "Drivers"], ["customization", "Customization", CUSTOMIZATION],
        ["source", "Data Source", BOOT_SOURCE], ["components", "Optional Components"], ["distribution", "Distribution Settings", DISTRIBUTION],
        ["content", "Content Locations"]],
    SMS_ImagePackage: [["general", "General", GENERAL], ["images", "Images"], ["source", "Data Source", PKG_SOURCE],
        ["distribution", "Distribution Settings", [...DISTRIBUTION, ...MULTICAST]], ["content", "Content Locations"]],
    SMS_OperatingSystemInstallPackage: [["general", "General", GENERAL], ["images", "Images"], ["source", "Data Source", PKG_SOURCE],
        ["distribution", "Distribution Settings", [...DISTRIBUTION, ...MULTICAST]], ["content", "Content Locations"]],
    SMS_Driver: DRIVER_SHEET,
};

// Lazy properties are not in GetAll: asked for one by one.
const LAZY = ["ImageProperty", "ImageIndex", "OptionalComponents", "ReferencedDrivers", "ScratchSpace", "EnableLabShell", "PreExecCommandLine", "BackgroundBitmapPath", "ContextID"];

export function classOfPath(path) {
    return path.split("/").slice(-2)[0];
}

// The interface Put lives on (API.md §4): the topmost class of the instance's hierarchy.
export function putInterface(cls) {
    return cls === "SMS_Driver" ? IFACE + cls : BASE;
}

async function loadObject(path) {
    const cls = classOfPath(path);
    if (cls === "SMS_Driver")
        return getAll(path, IFACE + cls);
    const values = { ...(await getAll(path, BASE)), ...(await getAll(path, IFACE + cls)) };
    for (const name of LAZY)
        await get(path, IFACE + cls, name).then(v => { values[name] = v }).catch(() => {});
    return values;
}

function FieldTab({ tab, fields, values, path, readOnly, onSaved, onReload, onRefused }) {
    const iface = putInterface(classOfPath(path));
    const [edits, setEdits] = useState({});
    const [error, setError] = useState(null);
    const [busy, setBusy] = useState(false);
    useEffect(() => setEdits({}), [values]);

    const value = f => {
        const v = f.prop in edits ? edits[f.prop] : values[f.prop];
        return f.kind === "flag" ? !!((v || 0) & f.bit) : v;
    };
    const set = (f, v) => setEdits(old => {
        if (f.kind !== "flag") return { ...old, [f.prop]: v };
        const flags = (f.prop in old ? old[f.prop] : values[f.prop]) || 0;
        return { ...old, [f.prop]: v ? (flags | f.bit) : (flags & ~f.bit) };
    });
    const type = f => (f.kind === "check" ? "b" : f.kind === "text" ? "s" : "u");

    const save = () => {
        const props = { SedoObjectVersion: { t: "s", v: values.SedoObjectVersion } };
        for (const f of fields)
            if (f.prop in edits) props[f.prop] = { t: type(f), v: edits[f.prop] };
        setBusy(true);
        setError(null);
        put(path, iface, props)
                .then(() => onSaved())
                .catch(e => { setError(e); if (isAccessDenied(e)) onRefused(e) })
                .finally(() => setBusy(false));
    };

    const conflict = error && /VersionMismatch/.test(error.name || "");
    // An error names the property it concerns where it can: shown at that field.
    const fieldOf = e => e && fields.find(f => (e.message || "").includes(f.prop));
    const errField = conflict ? null : fieldOf(error);

    return (
        <Form className={"smsprov-tab-" + tab} onSubmit={e => e.preventDefault()}>
            {fields.map(f => {
                const id = "prop-" + f.prop + (f.bit ? "-" + f.bit.toString(16) : "");
                const disabled = readOnly || f.readOnly;
                let input;
                if (f.kind === "check" || f.kind === "flag")
                    input = <Checkbox id={id} label={f.label} isChecked={!!value(f)} isDisabled={disabled} onChange={(_e, v) => set(f, v)} />;
                else if (f.kind === "select")
                    input = (
                        <FormSelect id={id} value={value(f)} isDisabled={disabled} onChange={(_e, v) => set(f, Number(v))} aria-label={f.label}>
                            {f.options.map(([v, l]) => <FormSelectOption key={v} value={v} label={l} />)}
                        </FormSelect>);
                else
                    input = <TextInput id={id} value={f.format ? f.format(value(f)) : String(value(f) ?? "")} isDisabled={disabled} readOnlyVariant={f.readOnly ? "default" : undefined}
                                       validated={errField === f ? "error" : "default"} onChange={(_e, v) => set(f, v)} />;
                return (
                    <FormGroup key={id} label={f.kind === "check" || f.kind === "flag" ? undefined : f.label} fieldId={id}>
                        {input}
                        {errField === f &&
                            <FormHelperText><HelperText><HelperTextItem variant="error" className="smsprov-field-error">
                                {errorText(error)}</HelperTextItem></HelperText></FormHelperText>}
                    </FormGroup>
                );
            })}
            <SaveAlerts error={errField ? null : error} onReload={() => { setError(null); onReload() }} />
            {!readOnly && fields.some(f => !f.readOnly) &&
                <div><Button id={"save-" + tab} variant="primary" isDisabled={busy || Object.keys(edits).length === 0} onClick={save}>Save</Button></div>}
        </Form>
    );
}

function ImagesTab({ path, cls, values, readOnly, onSaved, onRefused }) {
    const [error, setError] = useState(null);
    const images = parseImageProperty(values.ImageProperty);
    const reload = () => call(path, IFACE + cls, "ReloadImageProperties", [], "")
            .then(() => { setError(null); onSaved() })
            .catch(e => { setError(e); if (isAccessDenied(e)) onRefused(e) });
    return (
        <div className="smsprov-tab-images">
            {images.map(img => (
                <dl key={img.index} className="smsprov-image" data-index={img.index}>
                    <dt>Image {img.index}</dt>
                    {Object.entries(img.props).map(([k, v]) => (
                        <React.Fragment key={k}><dt>{k}</dt><dd>{k === "Architecture" ? architecture(v) : v}</dd></React.Fragment>))}
                </dl>
            ))}
            {images.length === 0 && <p className="smsprov-empty">No image properties.</p>}
            {!readOnly && <Button id="images-reload" variant="secondary" onClick={reload}>Reload</Button>}
            {error && <Alert variant="danger" isInline title={errorText(error)} />}
        </div>
    );
}

// The kit's components for the image's architecture; the four always included are shown as such.
// Saving is UpdateOptionalComponents, which rebuilds the image (a job).

function ComponentsTab({ path, values, readOnly, onSaved, onRefused }) {
    const [catalog, setCatalog] = useState(null);
    const [chosen, setChosen] = useState(new Set(values.OptionalComponents || []));
    const [error, setError] = useState(null);
    useEffect(() => setChosen(new Set(values.OptionalComponents || [])), [values]);
    useEffect(() => {
        queryAll("SELECT UniqueID, Name, IsRequired, Architecture FROM SMS_OSDeploymentKitWinPEOptionalComponent WHERE Architecture = " +
                 wqlString(KIT_ARCH[values.Architecture] || "X64") + " ORDER BY Name")
                .then(rows => setCatalog(rows.map(r => r.props))).catch(setError);
    }, [values.Architecture]);
    const save = () => call(path, IFACE + "SMS_BootImagePackage", "UpdateOptionalComponents", [[...chosen].map(String)], "as")
            .then(() => { setError(null); onSaved() })
            .catch(e => { setError(e); if (isAccessDenied(e)) onRefused(e) });
    const changed = JSON.stringify([...chosen].sort()) !== JSON.stringify([...(values.OptionalComponents || [])].sort());
    return (
        <Form className="smsprov-tab-components" onSubmit={e => e.preventDefault()}>
            {catalog && catalog.map(c => (
                <Checkbox key={c.UniqueID} id={"component-" + c.UniqueID} label={c.Name + (c.IsRequired ? " (always included)" : "")}
                          isChecked={c.IsRequired || chosen.has(c.UniqueID)} isDisabled={readOnly || c.IsRequired}
                          onChange={(_e, v) => setChosen(old => { const n = new Set(old); v ? n.add(c.UniqueID) : n.delete(c.UniqueID); return n })} />
            ))}
            {catalog && catalog.length === 0 && <p className="smsprov-empty">The deployment kit has no components for this architecture.</p>}
            {error && <Alert variant="danger" isInline className="smsprov-dialog-error" title={errorText(error)} />}
            {!readOnly && <div><Button id="save-components" variant="primary" isDisabled={!changed} onClick={save}>Save and rebuild</Button></div>}
        </Form>
    );
}

export function PropertySheet({ path, readOnly, onClose, onRefused, onJob }) {
    const cls = classOfPath(path);
    const [values, setValues] = useState(null);
    const [error, setError] = useState(null);
    const [active, setActive] = useState("general");
    const reload = () => loadObject(path).then(v => { setValues(v); setError(null) }).catch(setError);
    useEffect(() => { reload() }, [path]);
    // Deleted while open: the sheet says so rather than showing stale values.
    useEffect(() => {
        const s = subscribe({ interface: "org.freedesktop.DBus.ObjectManager", member: "InterfacesRemoved" }, (_p, _s, args) => {
            if (args[0] === path) setError({ name: "NotFound", message: "the package was deleted" });
        });
        return () => s.remove();
    }, [path]);

    return (
        <Modal isOpen variant="large" onClose={onClose} id="property-sheet" aria-labelledby="sheet-title">
            <ModalHeader title={(values ? values.Name || values.LocalizedDisplayName || values.PackageID : path.split("/").pop()) + " Properties"}
                         labelId="sheet-title" />
            <ModalBody>
                {error && <Alert variant="danger" isInline title={errorText(error)} />}
                {values &&
                    <Tabs activeKey={active} onSelect={(_e, k) => setActive(k)} data-sedo={values.SedoObjectVersion}>
                        {SHEETS[cls].map(([key, title, fields]) => (
                            <Tab key={key} eventKey={key} title={title} id={"tab-" + key}>
                                <div className="smsprov-tab-body">
                                    {fields && <FieldTab tab={key} fields={fields} values={values} path={path} readOnly={readOnly}
                                                         onSaved={reload} onReload={reload} onRefused={onRefused} />}
                                    {key === "images" && <ImagesTab path={path} cls={cls} values={values} readOnly={readOnly}
                                                                    onSaved={reload} onRefused={onRefused} />}
                                    {key === "drivers" && active === "drivers" &&
                                        <BootDriversTab path={path} values={values} readOnly={readOnly} onSaved={reload} onRefused={onRefused} />}
                                    {key === "components" && active === "components" &&
                                        <ComponentsTab path={path} values={values} readOnly={readOnly} onSaved={reload} onRefused={onRefused} />}
                                    {key === "content" && active === "content" &&
                                        <ContentLocations packageId={values.PackageID} readOnly={readOnly} onRefused={onRefused} onJob={onJob} />}
                                </div>
                            </Tab>
                        ))}
                    </Tabs>}
            </ModalBody>
        </Modal>
    );
}
