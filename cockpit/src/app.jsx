// SPDX-License-Identifier: MIT
// The OS Deployment console: the lists of the Software Library's Operating Systems node and
// the Monitoring views, a jobs panel, all through smsprovd's D-Bus API.
import React, { useEffect, useState } from "react";
import { Alert, AlertActionCloseButton, Button, Page, PageSection, Tab, Tabs, TabTitleText, Title } from "@patternfly/react-core";
import { ROOT, IFACE, BASE, call, errorText, isAccessDenied, mayWrite, PACKAGE_CLASSES } from "./bus.js";
import { architecture, dateTime } from "./format.js";
import { QueryTable } from "./query-table.jsx";
import { useJobs, JobsPanel } from "./jobs.jsx";
import { AddPackageDialog } from "./add-package.jsx";
import { PropertySheet } from "./properties.jsx";
import { ContentLocations, DistributeDialog } from "./content.jsx";
import { UpdateDpsDialog } from "./update-dps.jsx";
import { DriversView } from "./drivers.jsx";

const PACKAGE_COMMON = [
    { prop: "Name", title: "Name" },
    { prop: "Version", title: "Version" },
    { prop: "Description", title: "Comment" },
];
const PACKAGE_VIEWS = {
    SMS_BootImagePackage: {
        title: "Boot Images", add: "Add Boot Image",
        columns: [...PACKAGE_COMMON,
            { prop: "Architecture", title: "Architecture", render: architecture },
            { prop: "ImageOSVersion", title: "OS Version" },
            { prop: "PackageSize", title: "Size (KB)" },
            { prop: "ProductionClientVersion", title: "Client Version" },
            { prop: "PackageID", title: "Package ID" },
            { prop: "DefaultImage", title: "Default Image", render: v => (v ? "Yes" : "No") }],
    },
    SMS_ImagePackage: {
        title: "Operating System Images", add: "Add Operating System Image",
        columns: [...PACKAGE_COMMON,
            { prop: "Architecture", title: "Architecture", render: architecture },
            { prop: "ImageOSVersion", title: "OS Version" },
            { prop: "PackageSize", title: "Size (KB)" },
            { prop: "PackageID", title: "Package ID" }],
    },
    SMS_OperatingSystemInstallPackage: {
        title: "Operating System Upgrade Packages", add: "Add Operating System Upgrade Package",
        columns: [...PACKAGE_COMMON,
            { prop: "Architecture", title: "Architecture", render: architecture },
            { prop: "ImageOSVersion", title: "OS Version" },
            { prop: "PackageSize", title: "Size (KB)" },
            { prop: "PackageID", title: "Package ID" }],
    },
};

const VIEWS = [
    ...PACKAGE_CLASSES.map(c => [c, PACKAGE_VIEWS[c].title]),
    ["drivers", "Drivers"],
    ["status", "Content Status"],
    ["dps", "Distribution Points"],
    ["messages", "Status Messages"],
];

const SEVERITY = { 0x40000000: "Informational", 0x80000000: "Warning", 0xC0000000: "Error" };

function PackageView({ cls, readOnly, onError, onRefused }) {
    const view = PACKAGE_VIEWS[cls];
    const [adding, setAdding] = useState(false);
    const [sheet, setSheet] = useState(null);
    const [distribute, setDistribute] = useState(null);
    const [updating, setUpdating] = useState(null);
    const run = (what, promise) => promise.catch(e => onError(e, what));
    const actions = row => !readOnly && (
        <>
            <Button size="sm" variant="secondary" className="smsprov-distribute"
                    onClick={() => setDistribute(row)}>Distribute Content</Button>{" "}
            <Button size="sm" variant="secondary" className="smsprov-update"
                    onClick={() => setUpdating(row)}>
                Update Distribution Points</Button>{" "}
            <Button size="sm" variant="danger" className="smsprov-delete"
                    onClick={() => run("Delete " + row.props.PackageID, call(row.path, BASE, "Delete", [], ""))}>Delete</Button>
        </>
    );
    return (
        <>
            <QueryTable id={"list-" + cls} cls={cls} columns={view.columns} filterProp="Name" watch={[ROOT + "/" + cls]}
                        onRowClick={row => setSheet(row.path)} actions={actions}
                        toolbar={!readOnly && <Button id="add-package" variant="primary" onClick={() => setAdding(true)}>{view.add}</Button>} />
            {adding && <AddPackageDialog cls={cls} onClose={() => setAdding(false)} />}
            {sheet && <PropertySheet path={sheet} readOnly={readOnly} onClose={() => setSheet(null)} onRefused={onRefused} />}
            {distribute && <DistributeDialog path={distribute.path} packageId={distribute.props.PackageID}
                                             onRefused={onRefused} onClose={() => setDistribute(null)} />}
            {updating && <UpdateDpsDialog path={updating.path} packageId={updating.props.PackageID} isBootImage={cls === "SMS_BootImagePackage"}
                                          onRefused={onRefused} onClose={() => setUpdating(null)} />}
        </>
    );
}

function ContentStatusView({ readOnly, onRefused }) {
    const [selected, setSelected] = useState(null);
    return (
        <>
            <QueryTable id="list-status" cls="SMS_PackageBaseclass" filterProp="Name" watch={[]}
                        columns={[{ prop: "Name", title: "Name" }, { prop: "PackageID", title: "Package ID" },
                            { prop: "PackageType", title: "Type", render: t => ({ 257: "OS image", 258: "Boot image", 259: "OS upgrade" }[t] || t) },
                            { prop: "SourceVersion", title: "Source Version" }]}
                        onRowClick={row => setSelected(row.props.PackageID)} />
            {selected &&
                <PageSection id="content-status-detail">
                    <Title headingLevel="h3">View Status: {selected}</Title>
                    <ContentLocations packageId={selected} readOnly={readOnly} onRefused={onRefused} />
                </PageSection>}
        </>
    );
}

function DistributionPointsView({ readOnly, onRefused }) {
    const [selected, setSelected] = useState(null);
    return (
        <>
            <QueryTable id="list-dps" cls="SMS_DistributionPointInfo" filterProp="ServerName" watch={[]} select={["NALPath"]}
                        columns={[{ prop: "ServerName", title: "Name" }, { prop: "SiteCode", title: "Site" },
                            { prop: "Description", title: "Description" },
                            { prop: "IsPXE", title: "PXE", render: v => (v ? "Yes" : "No") },
                            { prop: "IsMulticast", title: "Multicast", render: v => (v ? "Yes" : "No") },
                            { prop: "ContentRoot", title: "Content root" }]}
                        onRowClick={row => setSelected(row.props.NALPath)} />
            {selected &&
                <PageSection id="dp-content">
                    <Title headingLevel="h3">Content of {selected}</Title>
                    <ContentLocations nalPath={selected} readOnly={readOnly} onRefused={onRefused} />
                </PageSection>}
        </>
    );
}

function MessagesView() {
    return (
        <QueryTable id="list-messages" cls="SMS_StatusMessage" filterProp="Description" watch={[]}
                    defaultSort={{ index: 0, dir: "desc" }}
                    columns={[{ prop: "RecordID", title: "Record" }, { prop: "Time", title: "Time", render: dateTime },
                        { prop: "Severity", title: "Severity", render: s => SEVERITY[s] || s },
                        { prop: "MessageID", title: "Message ID" }, { prop: "Component", title: "Component" },
                        { prop: "Description", title: "Description" }]} />
    );
}

export function App() {
    const [view, setView] = useState(PACKAGE_CLASSES[0]);
    const [readOnly, setReadOnly] = useState(false);
    const [error, setError] = useState(null);
    const jobs = useJobs();
    // A write polkit refused: the page turns read-only and says why.
    const onRefused = () => setReadOnly(true);
    // Where polkit can answer, read-only from the start; otherwise from the first refusal.
    const [authz, setAuthz] = useState("asking");
    useEffect(() => {
        mayWrite().then(may => { setAuthz(may === null ? "unknown" : may ? "allowed" : "denied"); if (may === false) onRefused() })
                .catch(e => { console.warn("could not ask polkit:", e.message || e); setAuthz("unknown") });
    }, []);
    const onError = (e, what) => { setError({ what, e }); if (isAccessDenied(e)) onRefused(e) };

    return (
        <Page id="smsprov-console" data-read-only={readOnly ? "1" : "0"} data-authz={authz}>
            <PageSection variant="secondary" padding={{ default: "noPadding" }}>
                <Tabs activeKey={view} onSelect={(_e, k) => setView(k)} aria-label="OS Deployment" inset={{ default: "insetMd" }}>
                    {VIEWS.map(([key, title]) => <Tab key={key} eventKey={key} id={"nav-" + key} title={<TabTitleText>{title}</TabTitleText>} />)}
                </Tabs>
            </PageSection>
            {readOnly &&
                <PageSection><Alert id="read-only" variant="info" isInline
                                    title="Read-only: you are not authorized to change this site." /></PageSection>}
            {error &&
                <PageSection><Alert id="action-error" variant="danger" isInline title={error.what + ": " + errorText(error.e)}
                                    actionClose={<AlertActionCloseButton onClose={() => setError(null)} />} /></PageSection>}
            <PageSection>
                <Title headingLevel="h1">{VIEWS.find(v => v[0] === view)[1]}</Title>
                {PACKAGE_VIEWS[view] && <PackageView key={view} cls={view} readOnly={readOnly} onError={onError} onRefused={onRefused} />}
                {view === "drivers" && <DriversView readOnly={readOnly} onRefused={onRefused} />}
                {view === "status" && <ContentStatusView readOnly={readOnly} onRefused={onRefused} />}
                {view === "dps" && <DistributionPointsView readOnly={readOnly} onRefused={onRefused} />}
                {view === "messages" && <MessagesView />}
            </PageSection>
            <PageSection>
                <JobsPanel jobs={jobs} readOnly={readOnly} onError={onError} />
            </PageSection>
        </Page>
    );
}

export { IFACE };
