// SPDX-License-Identifier: MIT
import React from "react";
import { Alert, AlertActionLink } from "@patternfly/react-core";
import { errorText } from "./bus.js";

// What a refused save says: a VersionMismatch is a conflict that offers to reload the sheet;
// anything else is shown as it came.
export function SaveAlerts({ error, onReload }) {
    if (!error) return null;
    if (/VersionMismatch/.test(error.name || ""))
        return (
            <Alert variant="warning" isInline className="smsprov-conflict" title="The object changed since this sheet was loaded"
                   actionLinks={<AlertActionLink id="sheet-reload" onClick={onReload}>Reload</AlertActionLink>}>
                {errorText(error)}
            </Alert>);
    return <Alert variant="danger" isInline className="smsprov-dialog-error" title={errorText(error)} />;
}
