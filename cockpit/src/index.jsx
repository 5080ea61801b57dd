// SPDX-License-Identifier: MIT
import React from "react";
import { createRoot } from "react-dom/client";
import "@patternfly/react-core/dist/styles/base.css";
import "./console.css";
import { connect } from "./bus.js";
import { App } from "./app.jsx";

// The bundle loads in <head>: render once the document is there.
document.addEventListener("DOMContentLoaded", () => {
    connect().then(() => createRoot(document.getElementById("app")).render(<App />));
});
