// SPDX-License-Identifier: MIT
// A list backed by WQL: one page at a time through ExecQueryPage, sorted (ORDER BY) and filtered
// (WHERE … LIKE) by the daemon, refreshed when a signal says its rows changed.
import React, { useCallback, useEffect, useRef, useState } from "react";
import { Button, TextInput, Toolbar, ToolbarContent, ToolbarItem, Alert } from "@patternfly/react-core";
import { Table, Thead, Tr, Th, Tbody, Td } from "@patternfly/react-table";
import { queryPage, wqlContains, errorText, subscribe, ROOT } from "./bus.js";

export const PAGE_ROWS = 100;

// columns: [{prop, title, render?, sortable?}] (sortable: false for what WQL cannot ORDER BY, arrays);
// where: extra WQL condition; filterProp: what the search box matches (filterLabel: its name on
// the page, filterProp by default); select: properties fetched beyond the columns; watch: path namespaces whose signals refresh the list;
// refreshKey: a value whose change re-queries the page (a change no signal announces).
export function QueryTable({ id, cls, columns, select, where, filterProp, watch, actions, onRowClick, toolbar, defaultSort, refreshKey, filterLabel }) {
    const [sort, setSort] = useState(defaultSort || { index: 0, dir: "asc" });
    const [filter, setFilter] = useState("");
    const [cursors, setCursors] = useState([""]); // the cursor of each page walked so far
    const [page, setPage] = useState({ rows: [], next: "" });
    const [error, setError] = useState(null);
    const [loaded, setLoaded] = useState(false);
    const [generation, setGeneration] = useState(0);

    const conds = [];
    if (where) conds.push(where);
    if (filter && filterProp) conds.push(filterProp + " LIKE " + wqlContains(filter));
    const wql = "SELECT " + [...columns.map(c => c.prop), ...(select || [])].join(", ") + " FROM " + cls +
        (conds.length ? " WHERE " + conds.map(c => "(" + c + ")").join(" AND ") : "") +
        " ORDER BY " + columns[sort.index].prop + " " + sort.dir.toUpperCase();
    const cursor = cursors[cursors.length - 1];

    useEffect(() => {
        let live = true;
        queryPage(wql, cursor, PAGE_ROWS)
                .then(p => { if (live) { setPage(p); setError(null); setLoaded(true) } })
                .catch(e => { if (live) { setError(e); setLoaded(true) } });
        return () => { live = false };
    }, [wql, cursor, generation, refreshKey]);

    // Signals: coalesce a burst into one re-query of the page on screen.
    const pending = useRef(null);
    const refresh = useCallback(() => {
        if (pending.current) return;
        pending.current = window.setTimeout(() => { pending.current = null; setGeneration(g => g + 1) }, 200);
    }, []);
    useEffect(() => {
        const subs = [subscribe({ path: ROOT, interface: "org.freedesktop.DBus.ObjectManager" }, refresh)];
        for (const ns of watch || [])
            subs.push(subscribe({ path_namespace: ns, interface: "org.freedesktop.DBus.Properties", member: "PropertiesChanged" }, refresh));
        return () => { subs.forEach(s => s.remove()); if (pending.current) window.clearTimeout(pending.current) };
    }, [refresh, (watch || []).join(" ")]);

    const restart = () => setCursors([""]);
    const sortBy = index => ({
        sortBy: { index: sort.index, direction: sort.dir },
        onSort: (_e, i, dir) => { setSort({ index: i, dir }); restart() },
        columnIndex: index,
    });

    return (
        <div id={id} className="smsprov-list" data-loaded={loaded ? "1" : "0"} data-rows={page.rows.length}>
            <Toolbar>
                <ToolbarContent>
                    {filterProp &&
                        <ToolbarItem>
                            <TextInput className="smsprov-filter" aria-label="Filter" placeholder={"Filter by " + (filterLabel || filterProp)}
                                       value={filter} onChange={(_e, v) => { setFilter(v); restart() }} />
                        </ToolbarItem>}
                    {toolbar}
                    <ToolbarItem variant="pagination">
                        <Button variant="plain" className="smsprov-prev" isDisabled={cursors.length < 2}
                                onClick={() => setCursors(c => c.slice(0, -1))}>‹ Previous</Button>
                        <span className="smsprov-pageno">Page {cursors.length}</span>
                        <Button variant="plain" className="smsprov-next" isDisabled={!page.next}
                                onClick={() => setCursors(c => [...c, page.next])}>Next ›</Button>
                    </ToolbarItem>
                </ToolbarContent>
            </Toolbar>
            {error && <Alert variant="danger" isInline title={errorText(error)} />}
            <Table aria-label={cls} variant="compact">
                <Thead>
                    <Tr>
                        {columns.map((c, i) => <Th key={c.prop} sort={c.sortable === false ? undefined : sortBy(i)} modifier="wrap">{c.title}</Th>)}
                        {actions && <Th screenReaderText="Actions" />}
                    </Tr>
                </Thead>
                <Tbody>
                    {page.rows.map(row => (
                        <Tr key={row.path} data-path={row.path} isClickable={!!onRowClick}
                            onRowClick={onRowClick ? () => onRowClick(row) : undefined}>
                            {columns.map(c => <Td key={c.prop} dataLabel={c.title} data-prop={c.prop}>
                                {c.render ? c.render(row.props[c.prop], row.props) : String(row.props[c.prop] ?? "")}
                            </Td>)}
                            {actions && <Td isActionCell onClick={e => e.stopPropagation()}><span className="smsprov-actions">{actions(row)}</span></Td>}
                        </Tr>
                    ))}
                </Tbody>
            </Table>
            {loaded && page.rows.length === 0 && <p className="smsprov-empty">Nothing here.</p>}
        </div>
    );
}
