// SPDX-License-Identifier: MIT
// The driver catalog (SMS_Driver) as the page shows it: the list's columns, the property sheet's
// fields, and the WQL of the filters the boot image's driver chooser offers.
import { dateTime } from "./format.js";
import { wqlString } from "./bus.js";

const yesNo = v => (v ? "Yes" : "No");
const list = v => (v || []).join(", ");

export const DRIVER_COLUMNS = [
    { prop: "LocalizedDisplayName", title: "Name" },
    { prop: "DriverClass", title: "Class" },
    { prop: "DriverProvider", title: "Provider" },
    { prop: "DriverVersion", title: "Version" },
    { prop: "DriverDate", title: "Date", render: v => dateTime(v).slice(0, 10) },
    { prop: "IsEnabled", title: "Enabled", render: yesNo },
    { prop: "DriverSigned", title: "Signed", render: yesNo },
    { prop: "Architectures", title: "Architectures", render: list, sortable: false }, // WQL orders no arrays
];

// The boot image's driver chooser lists enabled drivers only, by what its filters are about.
export const DRIVER_CHOICE_COLUMNS = DRIVER_COLUMNS.filter(c => !["DriverProvider", "IsEnabled"].includes(c.prop));

// The property sheet (properties.jsx): everything is the INF's but whether the driver is enabled.
const ro = (prop, label, format) => ({ prop, label, kind: "text", readOnly: true, format });
export const DRIVER_SHEET = [
    ["general", "General", [
        ro("LocalizedDisplayName", "Name"), ro("DriverClass", "Class"), ro("DriverProvider", "Provider"),
        ro("DriverVersion", "Version"), ro("DriverDate", "Date", dateTime), ro("Architectures", "Architectures", list),
        ro("DriverSigned", "Signed (the INF's catalog was imported with it; its signature is not verified)", yesNo),
        { prop: "IsEnabled", label: "Enable this driver and allow computers to install it", kind: "check" },
    ]],
    ["details", "Details", [
        ro("DriverINFFile", "INF file"), ro("ContentSourcePath", "Content source path"),
        ro("HardwareIDs", "Hardware IDs", list), ro("CompatibleIDs", "Compatible IDs", list),
        ro("CI_ID", "CI ID"), ro("CI_UniqueID", "CI unique ID"),
        ro("DateCreated", "Imported", dateTime), ro("CreatedBy", "Imported by"),
    ]],
];

// The classes Windows PE loads at start for storage and network (the daemon notes others).
export const STORAGE_NETWORK_CLASSES = ["Net", "SCSIAdapter", "HDC"];

// The chooser's filters as WQL conditions; Architectures = 'x64' matches a driver any of whose
// platforms is x64.
export function driverFilters({ architecture, storageNetwork, signed }) {
    const conds = ["IsEnabled = TRUE"];
    if (architecture)
        conds.push("Architectures = " + wqlString(architecture));
    if (storageNetwork)
        conds.push("DriverClass IN (" + STORAGE_NETWORK_CLASSES.map(wqlString).join(", ") + ")");
    if (signed)
        conds.push("DriverSigned = TRUE");
    return conds.join(" AND ");
}
