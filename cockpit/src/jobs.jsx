// SPDX-License-Identifier: MIT
// The jobs panel: every running and recent job of the site, live from JobNew, JobRemoved and
// the jobs' PropertiesChanged; progress, rate, time left, Cancel.
import React, { useEffect, useState } from "react";
import { Button, Card, CardBody, CardTitle, Progress, ProgressMeasureLocation } from "@patternfly/react-core";
import { ROOT, SITE, IFACE, call, getAll, subscribe, errorText } from "./bus.js";
import { bytes, duration, JOB_STATES } from "./format.js";

const JOB = IFACE + "Job";
const JOBS = ROOT + "/job";
const RESULTS = { done: 2, failed: 3, canceled: 4 };

async function listJobPaths() {
    const [xml] = await call(JOBS, "org.freedesktop.DBus.Introspectable", "Introspect", [], "");
    const doc = new DOMParser().parseFromString(xml, "application/xml");
    return Array.from(doc.documentElement.children)
            .filter(n => n.tagName === "node" && n.getAttribute("name"))
            .map(n => JOBS + "/" + n.getAttribute("name"));
}

function timeLeft(job) {
    if (job.State !== 1 || !job.Progress || !job.MaxProgress || !job.StartTime) return "";
    const elapsed = Date.now() / 1000 - job.StartTime / 1e6;
    if (elapsed <= 0) return "";
    return duration(elapsed * (job.MaxProgress - job.Progress) / job.Progress);
}

export function useJobs() {
    const [jobs, setJobs] = useState({});
    useEffect(() => {
        const update = (path, props) => setJobs(old => ({ ...old, [path]: { ...(old[path] || {}), ...props, path } }));
        const load = path => getAll(path, JOB).then(p => update(path, p)).catch(() => {});
        const subs = [
            subscribe({ path: ROOT, interface: SITE, member: "JobNew" }, (p, s, args) => load(args[1])),
            // JobRemoved says a job finished; it stays on the bus a while, until InterfacesRemoved.
            subscribe({ path: ROOT, interface: SITE, member: "JobRemoved" }, (p, s, args) =>
                update(args[1], { State: RESULTS[args[2]] })),
            subscribe({ path: ROOT, interface: "org.freedesktop.DBus.ObjectManager", member: "InterfacesRemoved" }, (p, s, args) => {
                if (args[1].includes(JOB))
                    setJobs(old => { const n = { ...old }; delete n[args[0]]; return n });
            }),
            subscribe({ path_namespace: JOBS, interface: "org.freedesktop.DBus.Properties", member: "PropertiesChanged" },
                      (path, s, args) => {
                          if (args[0] !== JOB) return;
                          const changed = {};
                          for (const k in args[1]) changed[k] = args[1][k].v;
                          update(path, changed);
                      }),
        ];
        listJobPaths().then(paths => paths.forEach(load)).catch(() => {});
        return () => subs.forEach(s => s.remove());
    }, []);
    return jobs;
}

export function JobsPanel({ jobs, readOnly, onError }) {
    const list = Object.values(jobs).filter(j => j.Id !== undefined).sort((a, b) => b.Id - a.Id);
    return (
        <Card id="jobs-panel" isCompact>
            <CardTitle>Jobs</CardTitle>
            <CardBody>
                {list.length === 0 && <p className="smsprov-empty">No running or recent jobs.</p>}
                {list.map(job => {
                    const running = job.State === 0 || job.State === 1;
                    const value = job.MaxProgress ? Math.round(100 * job.Progress / job.MaxProgress) : (job.State === 2 ? 100 : 0);
                    const variant = job.State === 3 ? "danger" : job.State === 2 ? "success" : undefined;
                    return (
                        <div key={job.path} className="smsprov-job" data-job-id={job.Id} data-state={job.State}>
                            <Progress value={value} title={job.Operation + " " + (job.Target || "").split("/").pop()}
                                      measureLocation={ProgressMeasureLocation.outside} variant={variant}
                                      helperText={[JOB_STATES[job.State],
                                          job.ProgressText,
                                          job.Rate ? bytes(job.Rate) + "/s" : "",
                                          timeLeft(job) ? timeLeft(job) + " left" : "",
                                          job.ErrorName ? job.ErrorName.replace("org.smsprov.Provider1.Error.", "") + ": " + job.ErrorMessage : ""]
                                              .filter(Boolean).join(" · ")} />
                            {running && job.Cancelable &&
                                <Button variant="secondary" size="sm" className="smsprov-job-cancel" isDisabled={readOnly}
                                        onClick={() => call(job.path, JOB, "Cancel", [], "").catch(e => onError(e, "Cancel job " + job.Id))}>
                                    Cancel
                                </Button>}
                        </div>
                    );
                })}
            </CardBody>
        </Card>
    );
}

export { errorText };
