// SPDX-License-Identifier: MIT
// Content Status's chart: a donut of Success / In progress / Error / Unknown, drawn as SVG by
// the page (PatternFly's charts would bring victory into the bundle for four arcs). Each segment
// is a <path> with its count in data-count, and the chart is an image whose label reads the
// counts, for screen readers.
import React from "react";

const R = 40;       // radius of the ring's centre line, in the 100 × 100 viewBox
const WIDTH = 16;   // its thickness

// The point at fraction f of the circle, clockwise from 12 o'clock.
function at(f) {
    const a = 2 * Math.PI * f - Math.PI / 2;
    return [50 + R * Math.cos(a), 50 + R * Math.sin(a)];
}

// An arc from fraction f0 to f1 (a whole circle as two halves: one arc cannot close itself).
function arc(f0, f1) {
    if (f1 - f0 >= 1)
        return arc(0, 0.5) + " " + arc(0.5, 1);
    const [x0, y0] = at(f0);
    const [x1, y1] = at(f1);
    return `M ${x0.toFixed(3)} ${y0.toFixed(3)} A ${R} ${R} 0 ${f1 - f0 > 0.5 ? 1 : 0} 1 ${x1.toFixed(3)} ${y1.toFixed(3)}`;
}

// segments: [{key, label, count, color}]
export function Donut({ id, title, segments }) {
    const total = segments.reduce((s, x) => s + x.count, 0);
    const label = title + ": " + segments.map(s => s.label + " " + s.count).join(", ");
    let start = 0;
    return (
        <figure className="smsprov-donut" id={id} data-total={total}>
            <svg viewBox="0 0 100 100" width="140" height="140" role="img" aria-label={label}>
                <title>{label}</title>
                <circle cx="50" cy="50" r={R} fill="none" stroke="var(--pf-t--global--border--color--default, #d2d2d2)"
                        strokeWidth={WIDTH} />
                {segments.map(s => {
                    const f0 = start;
                    start += total ? s.count / total : 0;
                    return s.count > 0 &&
                        <path key={s.key} className="smsprov-donut-segment" data-segment={s.key} data-count={s.count}
                              d={arc(f0, start)} fill="none" stroke={s.color} strokeWidth={WIDTH} />;
                })}
                <text x="50" y="50" textAnchor="middle" dominantBaseline="central" fontSize="18"
                      fill="var(--pf-t--global--text--color--regular, #151515)">{total}</text>
            </svg>
            <figcaption className="pf-v6-screen-reader">{label}</figcaption>
        </figure>
    );
}
