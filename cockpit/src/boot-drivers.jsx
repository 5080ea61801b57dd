// SPDX-License-Identifier: MIT
// A boot image's Drivers tab: the drivers its ReferencedDrivers names (ID = SMS_Driver.CI_ID,
// SourcePath = the driver's ContentSourcePath), Add from the catalog through a chooser with the
// Configuration Manager console's filters (other architectures, not storage or network, unsigned;
// WQL, so the daemon filters), Remove, and Save: one Put of the whole list with the
// SedoObjectVersion the sheet was loaded with. The daemon refuses a list with an entry that
// cannot be (disabled, another architecture, gone), naming it: shown at that entry.
import React, { useEffect, useState } from "react";
import { Alert, Button, Checkbox, Title } from "@patternfly/react-core";
import { Table, Thead, Tr, Th, Tbody, Td } from "@patternfly/react-table";
import { ROOT, BASE, put, queryAll, errorText, isAccessDenied } from "./bus.js";
import { architecture } from "./format.js";
import { QueryTable } from "./query-table.jsx";
import { DRIVER_CHOICE_COLUMNS, driverFilters } from "./driver-catalog.js";
import { SaveAlerts } from "./save-alerts.jsx";

const CATALOG_PROPS = ["CI_ID", "LocalizedDisplayName", "DriverClass", "DriverVersion", "Architectures", "DriverSigned", "IsEnabled"];

// The catalog rows of the drivers a list names, by CI_ID.
function useCatalog(ids) {
    const [rows, setRows] = useState({});
    const key = [...ids].sort((a, b) => a - b).join(",");
    useEffect(() => {
        let live = true;
        if (!key) { setRows({}); return }
        queryAll("SELECT " + CATALOG_PROPS.join(", ") + " FROM SMS_Driver WHERE CI_ID IN (" + key + ")")
                .then(found => { if (live) setRows(Object.fromEntries(found.map(r => [r.props.CI_ID, r.props]))) })
                .catch(() => { if (live) setRows({}) });
        return () => { live = false };
    }, [key]);
    return rows;
}

// "ReferencedDrivers entry 1 (ID 3): …": the ID of the entry the daemon names.
function entryOf(error) {
    const m = /entry \d+ \(ID (\d+)\)/.exec((error && error.message) || "");
    return m ? Number(m[1]) : null;
}

const FILTERS = [
    ["architecture", "Hide drivers for other architectures"],
    ["storageNetwork", "Hide drivers that are not in a storage or network class"],
    ["signed", "Hide drivers that are not signed"],
];

function DriverChooser({ arch, taken, onAdd, onClose }) {
    const [filters, setFilters] = useState({ architecture: true, storageNetwork: true, signed: false });
    const where = driverFilters({ ...filters, architecture: filters.architecture && arch }) +
        (taken.length ? " AND NOT CI_ID IN (" + taken.join(", ") + ")" : "");
    return (
        <div id="driver-chooser" className="smsprov-chooser">
            <Title headingLevel="h4">Select drivers to add</Title>
            {FILTERS.map(([key, label]) => (
                <Checkbox key={key} id={"driver-filter-" + key} label={label} isChecked={filters[key]}
                          onChange={(_e, v) => setFilters(f => ({ ...f, [key]: v }))} />
            ))}
            <QueryTable id="list-driver-choice" cls="SMS_Driver" columns={DRIVER_CHOICE_COLUMNS} select={["CI_ID", "ContentSourcePath"]}
                        where={where} filterProp="LocalizedDisplayName" filterLabel="name" watch={[ROOT + "/SMS_Driver"]}
                        actions={row => <Button size="sm" variant="secondary" className="smsprov-driver-add"
                                                onClick={() => onAdd(row.props)}>Add</Button>} />
            <Button id="driver-chooser-done" variant="link" onClick={onClose}>Done</Button>
        </div>
    );
}

export function BootDriversTab({ path, values, readOnly, onSaved, onRefused }) {
    const stored = values.ReferencedDrivers || [];
    const [refs, setRefs] = useState(stored);
    const [choosing, setChoosing] = useState(false);
    const [error, setError] = useState(null);
    const [busy, setBusy] = useState(false);
    useEffect(() => { setRefs(values.ReferencedDrivers || []); setError(null) }, [values]);
    const catalog = useCatalog(refs.map(([id]) => id));
    const changed = JSON.stringify(refs) !== JSON.stringify(stored);
    const badEntry = entryOf(error);

    const save = () => {
        setBusy(true);
        setError(null);
        put(path, BASE, { ReferencedDrivers: { t: "a(us)", v: refs }, SedoObjectVersion: { t: "s", v: values.SedoObjectVersion } })
                .then(() => onSaved())
                .catch(e => { setError(e); if (isAccessDenied(e)) onRefused(e) })
                .finally(() => setBusy(false));
    };

    return (
        <div className="smsprov-tab-drivers" data-refs={refs.map(([id]) => id).join(",")}>
            <Table variant="compact" aria-label="Referenced drivers">
                <Thead><Tr>
                    <Th>Name</Th><Th>Class</Th><Th>Version</Th><Th>Architectures</Th><Th>Signed</Th><Th>Source path</Th>
                    <Th screenReaderText="Actions" />
                </Tr></Thead>
                <Tbody>
                    {refs.map(([id, source]) => {
                        const d = catalog[id] || {};
                        return (
                            <Tr key={id} data-driver={id} data-error={badEntry === id ? "1" : undefined}>
                                <Td>{d.LocalizedDisplayName || "driver " + id}
                                    {badEntry === id && <div className="smsprov-field-error pf-v6-u-danger-color-100">{errorText(error)}</div>}
                                </Td>
                                <Td>{d.DriverClass}</Td>
                                <Td>{d.DriverVersion}</Td>
                                <Td>{(d.Architectures || []).join(", ")}</Td>
                                <Td>{d.DriverSigned ? "Yes" : d.CI_ID ? "No" : ""}</Td>
                                <Td className="smsprov-path">{source}</Td>
                                <Td isActionCell>
                                    {!readOnly &&
                                        <Button size="sm" variant="secondary" className="smsprov-driver-remove"
                                                onClick={() => setRefs(r => r.filter(([i]) => i !== id))}>Remove</Button>}
                                </Td>
                            </Tr>
                        );
                    })}
                </Tbody>
            </Table>
            {refs.length === 0 && <p className="smsprov-empty">This boot image has no drivers.</p>}
            {!readOnly && !choosing &&
                <Button id="drivers-add" variant="secondary" onClick={() => setChoosing(true)}>Add drivers</Button>}
            {!readOnly && choosing &&
                <DriverChooser arch={architecture(values.Architecture)} taken={refs.map(([id]) => id)}
                               onAdd={d => setRefs(r => [...r, [d.CI_ID, d.ContentSourcePath]])}
                               onClose={() => setChoosing(false)} />}
            {badEntry === null && <SaveAlerts error={error} onReload={() => { setError(null); onSaved() }} />}
            {badEntry !== null &&
                <Alert variant="danger" isInline className="smsprov-dialog-error" title="The daemon refused an entry of the list">
                    {errorText(error)}</Alert>}
            {!readOnly &&
                <div><Button id="save-drivers" variant="primary" isDisabled={busy || !changed} onClick={save}>Save</Button></div>}
        </div>
    );
}
