// SPDX-License-Identifier: MIT
// The page's only way to the site: smsprovd's D-Bus API (API.md), through cockpit.dbus.
/* global cockpit */

export const NAME = "org.smsprov.Provider1";
export const ROOT = "/org/smsprov/Provider1";
export const IFACE = "org.smsprov.Provider1.";
export const SITE = IFACE + "Site";
export const BASE = IFACE + "SMS_PackageBaseclass";

let client = null;

// Installed, the page talks to the system bus. tools/console.sh and the browser test put a
// bus.json beside the page naming a private bus.
export async function connect() {
    let options = { bus: "system" };
    try {
        const reply = await fetch("bus.json");
        if (reply.ok) {
            const conf = await reply.json();
            if (conf.address)
                options = { bus: "none", address: conf.address };
        }
    } catch (e) { /* no bus.json: the system bus */ }
    client = cockpit.dbus(NAME, options);
    return client;
}

export function bus() { return client; }

// Plain values from D-Bus variants ({t, v}).
export function unvariant(dict) {
    const out = {};
    for (const k in dict)
        out[k] = dict[k] && dict[k].v !== undefined ? dict[k].v : dict[k];
    return out;
}

export function call(path, iface, method, args, type) {
    return client.call(path, iface, method, args, type !== undefined ? { type } : undefined);
}

// An error as an admin reads it: the short D-Bus error name and its message.
export function errorText(e) {
    if (!e) return "";
    const name = (e.name || "").replace("org.smsprov.Provider1.Error.", "")
            .replace("org.freedesktop.DBus.Error.", "");
    return name ? name + ": " + (e.message || "") : String(e.message || e);
}

export function isAccessDenied(e) {
    return e && (e.name === "org.freedesktop.DBus.Error.AccessDenied" ||
                 e.name === "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired");
}

// A WQL string literal: single quotes, a quote written doubled.
export function wqlString(s) {
    return "'" + String(s).replace(/\\/g, "\\\\").replace(/'/g, "''") + "'";
}

// A LIKE pattern that matches s literally anywhere ([%] [_] [[] escape the wildcards).
export function wqlContains(s) {
    return wqlString("%" + String(s).replace(/[[%_]/g, c => "[" + c + "]") + "%");
}

let pageMethod = true; // ExecQueryPage until the daemon says it does not know it

// One page of a query: {rows: [{path, props}], next}. Falls back to ExecQuery (all rows at
// once, no next page) on a daemon without ExecQueryPage.
export async function queryPage(wql, cursor, maxRows) {
    if (pageMethod) {
        try {
            const [rows, next] = await call(ROOT, SITE, "ExecQueryPage", [wql, cursor || "", maxRows], "ssu");
            return { rows: rows.map(([path, props]) => ({ path, props: unvariant(props) })), next };
        } catch (e) {
            if (e.name !== "org.freedesktop.DBus.Error.UnknownMethod")
                throw e;
            pageMethod = false;
        }
    }
    // Without ExecQueryPage the whole result comes back; the page still shows maxRows of it,
    // the cursor being an offset of the page's own making.
    const [rows] = await call(ROOT, SITE, "ExecQuery", [wql], "s");
    const offset = Number((cursor || "").replace(/^offset:/, "")) || 0;
    const end = offset + (maxRows || 1000);
    return {
        rows: rows.slice(offset, end).map(([path, props]) => ({ path, props: unvariant(props) })),
        next: end < rows.length ? "offset:" + end : "",
    };
}

export async function queryAll(wql) {
    let out = [];
    let cursor = "";
    do {
        const page = await queryPage(wql, cursor, 1000);
        out = out.concat(page.rows);
        cursor = page.next;
    } while (cursor);
    return out;
}

export async function getAll(path, iface) {
    const [props] = await call(path, "org.freedesktop.DBus.Properties", "GetAll", [iface], "s");
    return unvariant(props);
}

export async function get(path, iface, name) {
    const [v] = await call(path, "org.freedesktop.DBus.Properties", "Get", [iface, name], "ss");
    return v.v;
}

// Put(a{sv}): values given as {name: {t: "s", v: ...}}.
export function put(path, iface, props) {
    return call(path, iface, "Put", [props], "a{sv}");
}

// Calls fn(path, signal, args) for every signal matching the rule; returns the subscription.
export function subscribe(rule, fn) {
    return client.subscribe(rule, (path, iface, signal, args) => fn(path, signal, args, iface));
}

// The end of a job the caller started: resolves when it completed, rejects with its error
// ({name, message}) when it failed or was canceled. Its Completed signal is listened for before
// its State is read, so that an end between the reply and the subscription is not missed.
const JOB_STATE_DONE = 2;
export function waitJob(jobPath) {
    return new Promise((resolve, reject) => {
        let sub = null;
        const end = (ok, name, message) => {
            if (!sub) return;
            sub.remove();
            sub = null;
            if (ok) resolve(); else reject({ name: name || "Failed", message: message || "the job did not complete" });
        };
        sub = subscribe({ path: jobPath, interface: IFACE + "Job", member: "Completed" },
                        (_p, _s, [success, name, message]) => end(success, name, message));
        getAll(jobPath, IFACE + "Job").then(job => {
            if (job.State >= JOB_STATE_DONE)
                end(job.State === JOB_STATE_DONE, job.ErrorName || (job.State === 4 ? "Canceled" : ""), job.ErrorMessage);
        }).catch(() => { /* gone already: its Completed has come or comes */ });
    });
}

export const PACKAGE_CLASSES = ["SMS_BootImagePackage", "SMS_ImagePackage", "SMS_OperatingSystemInstallPackage"];

// Whether this page may write, asked before any write is refused: null when it cannot tell.
// Where polkit is on the page's bus the daemon lets root pass and asks polkit for everyone
// else (API.md §8), so the page asks polkit the same question for its own connection (the
// subject the daemon names), without interaction: allowed, or allowed after authentication,
// for any of the daemon's actions means the page stays writable. Without polkit on the bus
// (the user bus, a development bus) the first refused write tells.
const POLKIT = "org.freedesktop.PolicyKit1";
export const ACTIONS = ["manage-packages", "distribute-content", "build-images", "cancel-job"]
        .map(a => "org.smsprov.provider1." + a);

export async function mayWrite() {
    const side = name => cockpit.dbus(name, client.options);
    await client.wait();
    const self = client.unique_name;
    if (!self)
        return null;
    const dbus = side("org.freedesktop.DBus");
    try {
        const [owned] = await dbus.call("/org/freedesktop/DBus", "org.freedesktop.DBus", "NameHasOwner", [POLKIT], { type: "s" });
        if (!owned)
            return null;
        const [uid] = await dbus.call("/org/freedesktop/DBus", "org.freedesktop.DBus", "GetConnectionUnixUser", [self], { type: "s" });
        if (uid === 0)
            return true;
    } finally {
        dbus.close();
    }
    const polkit = side(POLKIT);
    try {
        for (const action of ACTIONS) {
            const [[authorized, challenge]] = await polkit.call(
                "/org/freedesktop/PolicyKit1/Authority", POLKIT + ".Authority", "CheckAuthorization",
                [["system-bus-name", { name: { t: "s", v: self } }], action, {}, 0, ""], { type: "(sa{sv})sa{ss}us" });
            if (authorized || challenge)
                return true;
        }
        return false;
    } finally {
        polkit.close();
    }
}
