// SPDX-License-Identifier: MIT
// Content: where a package is (Content Locations, per DP: Validate = VerifyPackage, Redistribute =
// Put RefreshNow on its SMS_DistributionPoint, Remove = Delete), its Content Status (counts and
// per-DP detail) and Distribute Content (choose DPs that do not have it yet).
import React, { useEffect, useState } from "react";
import { Alert, Button, Checkbox, Label, LabelGroup, Modal, ModalBody, ModalFooter, ModalHeader } from "@patternfly/react-core";
import { Table, Thead, Tr, Th, Tbody, Td } from "@patternfly/react-table";
import { ROOT, IFACE, BASE, call, put, queryAll, wqlString, subscribe, errorText, isAccessDenied } from "./bus.js";
import { DP_STATES, dpStateGroup, dateTime } from "./format.js";
import { Donut } from "./donut.jsx";

const DP = IFACE + "SMS_DistributionPoint";
const SUMMARIZER = ROOT + "/SMS_PackageStatusDistPointsSummarizer";

// The state rows and assignments of one package (packageId) or one DP (nalPath), live.
function useLocations(packageId, nalPath) {
    const [rows, setRows] = useState(null);
    const [generation, setGeneration] = useState(0);
    const where = packageId ? "PackageID = " + wqlString(packageId) : "ServerNALPath = " + wqlString(nalPath);
    useEffect(() => {
        let live = true;
        Promise.all([
            queryAll("SELECT PackageID, ServerNALPath, SiteCode, State, RetryCount, SourceVersion, SummaryDate " +
                     "FROM SMS_PackageStatusDistPointsSummarizer WHERE " + where),
            queryAll("SELECT PackageID, ServerNALPath, SiteCode FROM SMS_DistributionPoint WHERE " + where),
        ]).then(([states, assigned]) => {
            if (!live) return;
            const byKey = {};
            for (const a of assigned) byKey[a.props.PackageID + "|" + a.props.ServerNALPath] = a.path;
            setRows(states.map(s => ({ ...s.props, statePath: s.path, dpPath: byKey[s.props.PackageID + "|" + s.props.ServerNALPath] })));
        }).catch(e => live && setRows({ error: e }));
        return () => { live = false };
    }, [where, generation]);
    useEffect(() => {
        const bump = () => setGeneration(g => g + 1);
        const subs = [
            subscribe({ path_namespace: SUMMARIZER, interface: "org.freedesktop.DBus.Properties", member: "PropertiesChanged" }, bump),
            subscribe({ path_namespace: ROOT + "/SMS_DistributionPoint", interface: "org.freedesktop.DBus.Properties" }, bump),
            // A job that starts changes states too (Remove: Removal pending), not only one that ends.
            subscribe({ path: ROOT, interface: IFACE + "Site", member: "JobNew" }, bump),
            subscribe({ path: ROOT, interface: IFACE + "Site", member: "JobRemoved" }, bump),
        ];
        return () => subs.forEach(s => s.remove());
    }, []);
    return rows;
}

export function serverOf(nal) {
    const m = /\\\\([^\\]+)\\?$/.exec(nal || "");
    return m ? m[1] : nal;
}

const GROUPS = [
    ["success", "Success", "green", "var(--pf-t--global--color--status--success--default, #3e8635)"],
    ["inProgress", "In progress", "blue", "var(--pf-t--global--color--status--info--default, #2b9af3)"],
    ["error", "Error", "red", "var(--pf-t--global--color--status--danger--default, #c9190b)"],
    ["unknown", "Unknown", "grey", "var(--pf-t--global--color--nonstatus--gray--default, #8a8d90)"],
];

// The counts of View Status, as labels and as the chart.
export function Counts({ rows }) {
    const counts = { success: 0, inProgress: 0, error: 0, unknown: 0 };
    for (const r of rows) counts[dpStateGroup(r.State)]++;
    return (
        <div className="smsprov-status-summary">
            <Donut id="content-status-chart" title="Distribution points"
                   segments={GROUPS.map(([key, label, , color]) => ({ key, label, color, count: counts[key] }))} />
            <LabelGroup className="smsprov-counts" numLabels={4}>
                {GROUPS.map(([key, label, color]) =>
                    <Label key={key} color={color} data-count={key}>{label}: {counts[key]}</Label>)}
            </LabelGroup>
        </div>
    );
}

export function ContentLocations({ packageId, nalPath, readOnly, onRefused, onJob }) {
    const rows = useLocations(packageId, nalPath);
    const [error, setError] = useState(null);
    const [done, setDone] = useState(null); // the last action the daemon accepted, for the test
    if (!rows) return <p>Loading…</p>;
    if (rows.error) return <Alert variant="danger" isInline title={errorText(rows.error)} />;

    const act = (what, promise) => promise
            .then(r => { setError(null); setDone(what); if (r && r[0] && onJob) onJob(r[0]) })
            .catch(e => { setError({ what, e }); if (isAccessDenied(e)) onRefused(e) });
    const validate = r => act("Validate", call(ROOT + "/class/SMS_DistributionPoint", DP + ".Static", "VerifyPackage",
                                                 [r.PackageID, r.ServerNALPath], "ss"));
    const redistribute = r => act("Redistribute", put(r.dpPath, DP, { RefreshNow: { t: "b", v: true } }));
    const remove = r => act("Remove", call(r.dpPath, DP, "Delete", [], ""));
    const cancel = r => act("Cancel", call(ROOT + "/class/SMS_DistributionPoint", DP + ".Static", "CancelDistribution",
                                             [r.PackageID, r.ServerNALPath], "ss"));

    return (
        <div className="smsprov-locations" data-rows={rows.length} data-done={done || ""}>
            <Counts rows={rows} />
            {error && <Alert variant="danger" isInline className="smsprov-action-error" title={error.what + ": " + errorText(error.e)} />}
            <Table variant="compact" aria-label="Content locations">
                <Thead><Tr>
                    <Th>{packageId ? "Distribution point" : "Package"}</Th><Th>State</Th><Th>Retries</Th><Th>Version</Th><Th>Changed</Th>
                    <Th screenReaderText="Actions" />
                </Tr></Thead>
                <Tbody>
                    {rows.map(r => {
                        const group = dpStateGroup(r.State);
                        return (
                            <Tr key={r.statePath} data-dp={serverOf(r.ServerNALPath)} data-package={r.PackageID} data-state={r.State}>
                                <Td>{packageId ? serverOf(r.ServerNALPath) : r.PackageID}</Td>
                                <Td className="smsprov-state">{DP_STATES[r.State] ?? r.State}</Td>
                                <Td>{r.RetryCount}</Td>
                                <Td>{r.SourceVersion}</Td>
                                <Td>{dateTime(r.SummaryDate)}</Td>
                                <Td isActionCell>
                                    {!readOnly && <span className="smsprov-actions">
                                        <Button size="sm" variant="secondary" className="smsprov-validate" onClick={() => validate(r)}>Validate</Button>{" "}
                                        <Button size="sm" variant="secondary" className="smsprov-redistribute" isDisabled={!r.dpPath} onClick={() => redistribute(r)}>Redistribute</Button>{" "}
                                        {group === "inProgress" && <><Button size="sm" variant="secondary" className="smsprov-cancel-dist" onClick={() => cancel(r)}>Cancel</Button>{" "}</>}
                                        <Button size="sm" variant="danger" className="smsprov-remove" isDisabled={!r.dpPath} onClick={() => remove(r)}>Remove</Button>
                                    </span>}
                                </Td>
                            </Tr>
                        );
                    })}
                </Tbody>
            </Table>
            {rows.length === 0 && <p className="smsprov-empty">Not on any distribution point.</p>}
        </div>
    );
}

export function DistributeDialog({ path, packageId, onClose, onRefused }) {
    const [dps, setDps] = useState(null);
    const [chosen, setChosen] = useState({});
    const [error, setError] = useState(null);
    const [busy, setBusy] = useState(false);
    useEffect(() => {
        Promise.all([
            queryAll("SELECT NALPath, ServerName, SiteCode, Description FROM SMS_DistributionPointInfo ORDER BY ServerName"),
            queryAll("SELECT ServerNALPath FROM SMS_DistributionPoint WHERE PackageID = " + wqlString(packageId)),
        ]).then(([all, has]) => {
            const taken = new Set(has.map(r => r.props.ServerNALPath));
            setDps(all.map(r => r.props).filter(d => !taken.has(d.NALPath))); // those that have it are hidden
        }).catch(setError);
    }, [packageId]);
    const list = Object.keys(chosen).filter(k => chosen[k]);
    const go = () => {
        const picked = dps.filter(d => chosen[d.NALPath]);
        setBusy(true);
        call(path, BASE, "AddDistributionPoints", [picked.map(d => d.SiteCode), picked.map(d => d.NALPath)], "asas")
                .then(([job]) => onClose(job))
                .catch(e => { setError(e); if (isAccessDenied(e)) onRefused(e) })
                .finally(() => setBusy(false));
    };
    return (
        <Modal isOpen variant="medium" onClose={() => onClose(null)} id="distribute-dialog" aria-labelledby="distribute-title">
            <ModalHeader title={"Distribute Content: " + packageId} labelId="distribute-title"
                         description="Distribution points that already have the content are not listed." />
            <ModalBody>
                {dps && dps.length === 0 && <p className="smsprov-empty">Every distribution point has this content.</p>}
                {dps && dps.map(d => (
                    <Checkbox key={d.NALPath} id={"dist-" + d.ServerName} label={d.ServerName + " (" + d.SiteCode + ")"}
                              description={d.Description} isChecked={!!chosen[d.NALPath]}
                              onChange={(_e, v) => setChosen(c => ({ ...c, [d.NALPath]: v }))} />
                ))}
                {list.length > 0 && <p className="smsprov-summary">{list.length} distribution point(s) will receive {packageId}.</p>}
                {error && <Alert variant="danger" isInline className="smsprov-dialog-error" title={errorText(error)} />}
            </ModalBody>
            <ModalFooter>
                <Button id="distribute-go" variant="primary" isDisabled={!list.length || busy} onClick={go}>Distribute</Button>
                <Button variant="link" onClick={() => onClose(null)}>Cancel</Button>
            </ModalFooter>
        </Modal>
    );
}
