// SPDX-License-Identifier: MIT
// The Drivers node: the driver catalog (SMS_Driver) listed, sorted and filtered by the daemon;
// Import Driver (SMS_Driver.CreateFromINF: a folder inside a content root and the INF in it), its
// errors at the field they concern (the daemon names the INF's line); a driver's properties,
// where Enable/Disable is a Put with the SedoObjectVersion the sheet was loaded with.
import React, { useState } from "react";
import { Alert, Button, Form, FormGroup, Modal, ModalBody, ModalFooter, ModalHeader, TextInput } from "@patternfly/react-core";
import { ROOT, IFACE, call, errorText, isAccessDenied } from "./bus.js";
import { QueryTable } from "./query-table.jsx";
import { PropertySheet } from "./properties.jsx";
import { DRIVER_COLUMNS } from "./driver-catalog.js";
import { ErrorAt } from "./add-package.jsx";

// Which field an import error concerns: a path outside the content roots is the folder's; what
// the daemon says of the INF (a line, a file it names, no such INF) is the INF's.
function fieldOf(e) {
    if (/PathNotAllowed/.test(e.name || "")) return "path";
    if (/InvalidParameter/.test(e.name || "")) return "inf";
    return null;
}

export function ImportDriverDialog({ onClose, onRefused }) {
    const [path, setPath] = useState("");
    const [inf, setInf] = useState("");
    const [error, setError] = useState(null);
    const [busy, setBusy] = useState(false);
    const at = error ? fieldOf(error) : null;
    const go = () => {
        setBusy(true);
        setError(null);
        call(ROOT + "/class/SMS_Driver", IFACE + "SMS_Driver.Static", "CreateFromINF", [path, inf], "ss")
                .then(([driver]) => onClose(driver))
                .catch(e => { setError(e); if (isAccessDenied(e)) onRefused(e) })
                .finally(() => setBusy(false));
    };
    return (
        <Modal isOpen variant="medium" onClose={() => onClose(null)} id="import-driver-dialog" aria-labelledby="import-driver-title">
            <ModalHeader title="Import Driver" labelId="import-driver-title"
                         description="The INF, its catalog and the files it names are copied into the site's content library." />
            <ModalBody>
                <Form onSubmit={e => e.preventDefault()}>
                    <FormGroup label="Folder of the driver (inside a content root)" fieldId="import-driver-path" isRequired>
                        <TextInput id="import-driver-path" value={path} validated={at === "path" ? "error" : "default"}
                                   onChange={(_e, v) => setPath(v)} />
                        {at === "path" && <ErrorAt error={error} />}
                    </FormGroup>
                    <FormGroup label="INF file (relative to the folder)" fieldId="import-driver-inf" isRequired>
                        <TextInput id="import-driver-inf" value={inf} validated={at === "inf" ? "error" : "default"}
                                   onChange={(_e, v) => setInf(v)} />
                        {at === "inf" && <ErrorAt error={error} />}
                    </FormGroup>
                    {error && !at && <Alert variant="danger" isInline className="smsprov-dialog-error" title={errorText(error)} />}
                </Form>
            </ModalBody>
            <ModalFooter>
                <Button id="import-driver-go" variant="primary" isDisabled={!path || !inf || busy} onClick={go}>Import</Button>
                <Button variant="link" onClick={() => onClose(null)}>Cancel</Button>
            </ModalFooter>
        </Modal>
    );
}

export function DriversView({ readOnly, onRefused }) {
    const [importing, setImporting] = useState(false);
    const [sheet, setSheet] = useState(null);
    const [imported, setImported] = useState(0); // a new driver is announced by no signal the list hears
    return (
        <>
            <QueryTable id="list-SMS_Driver" cls="SMS_Driver" columns={DRIVER_COLUMNS} filterProp="LocalizedDisplayName" filterLabel="name"
                        watch={[ROOT + "/SMS_Driver"]} refreshKey={imported} onRowClick={row => setSheet(row.path)}
                        toolbar={!readOnly && <Button id="import-driver" variant="primary" onClick={() => setImporting(true)}>Import Driver</Button>} />
            {importing &&
                <ImportDriverDialog onRefused={onRefused}
                                    onClose={driver => { setImporting(false); if (driver) setImported(n => n + 1) }} />}
            {sheet && <PropertySheet path={sheet} readOnly={readOnly} onClose={() => setSheet(null)}
                                     onRefused={onRefused} />}
        </>
    );
}
