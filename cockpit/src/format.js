// SPDX-License-Identifier: MIT
// How numbers, times and states read on the page.

export function bytes(n) {
    if (!n) return "0 B";
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++ }
    return (i ? n.toFixed(1) : n) + " " + units[i];
}

export function duration(seconds) {
    if (!isFinite(seconds) || seconds < 0) return "";
    seconds = Math.round(seconds);
    if (seconds < 60) return seconds + " s";
    const m = Math.floor(seconds / 60);
    if (m < 60) return m + " min " + (seconds % 60) + " s";
    return Math.floor(m / 60) + " h " + (m % 60) + " min";
}

// DateTime properties are microseconds since the epoch, UTC; 0 is not set.
export function dateTime(us) {
    if (!us) return "";
    return new Date(us / 1000).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
}

export const ARCHITECTURES = { 0: "x86", 5: "ARM", 6: "ia64", 9: "x64", 12: "ARM64" };
export function architecture(code) {
    return ARCHITECTURES[code] || code || "";
}

export const JOB_STATES = ["Queued", "Running", "Completed", "Failed", "Canceled"];

// SMS_PackageStatusDistPointsSummarizer.State as the console groups it (CONSOLE.md).
export const DP_STATES = ["Installed", "Install pending", "Install retrying", "Install failed",
    "Removal pending", "Removal retrying", "Removal failed", "Content updating", "Content monitoring"];
export function dpStateGroup(state) {
    if (state === 0) return "success";
    if ([1, 2, 4, 5, 7].includes(state)) return "inProgress";
    if (state === 3 || state === 6) return "error";
    return "unknown";
}

// The images of ImageProperty / GetImageProperties: <WIM><IMAGE Index="n"><Property Name="…">
export function parseImageProperty(xml) {
    if (!xml) return [];
    const doc = new DOMParser().parseFromString(xml, "application/xml");
    return Array.from(doc.getElementsByTagName("IMAGE")).map(img => {
        const props = {};
        for (const p of img.getElementsByTagName("Property"))
            props[p.getAttribute("Name")] = p.textContent;
        return { index: Number(img.getAttribute("Index")), props };
    });
}
