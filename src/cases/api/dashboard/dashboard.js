// The compliance dashboard: reads the API's reports with the signed-in token and
// draws them as tables and inline SVG bar charts. No library, no request leaves
// this server. Every figure shown carries data-figure="<section>.<group>.<name>".
"use strict";

(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const form = document.getElementById("sign-in");
  const main = document.getElementById("figures");
  const status = document.getElementById("status");
  const scope = document.getElementById("scope");
  const TOKEN_KEY = "cases-dashboard-token";

  function el(tag, attributes, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, value);
    for (const child of children) node.append(child);
    return node;
  }

  function svg(tag, attributes, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function percent(share) {
    return share === null || share === undefined ? "–" : (share * 100).toFixed(1) + " %";
  }

  async function get(path, token) {
    const response = await fetch(path, {
      headers: { Authorization: "Bearer " + token, Accept: "application/json" },
    });
    if (response.status === 404) return null;
    if (!response.ok) {
      let detail = response.statusText;
      try { detail = (await response.json()).detail || detail; } catch (e) { /* not JSON */ }
      const error = new Error(path.split("?")[0] + " answered " + response.status + ": " + detail);
      error.refused = response.status === 401 || response.status === 403;
      throw error;
    }
    return response.json();
  }

  // A horizontal bar chart: one bar per row, `value` scaled to `max`.
  function barChart(title, rows, max, format) {
    const rowHeight = 22, labelWidth = 220, barWidth = 420, width = labelWidth + barWidth + 120;
    const height = Math.max(rows.length, 1) * rowHeight + 8;
    const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img" });
    chart.append(svg("title", {}, title));
    rows.forEach((row, i) => {
      const y = i * rowHeight + 4;
      const length = max > 0 ? Math.max(0, (row.value / max) * barWidth) : 0;
      chart.append(svg("text", { x: 0, y: y + 14, "font-size": 12 }, row.label));
      chart.append(svg("rect", { x: labelWidth, y, width: length, height: rowHeight - 6, fill: row.colour || "#3465a4" }));
      const text = row.text === undefined ? format(row.value) : row.text;
      chart.append(svg("text", { x: labelWidth + length + 6, y: y + 14, "font-size": 12 }, text));
    });
    if (rows.length === 0) chart.append(svg("text", { x: 0, y: 16, "font-size": 12 }, "nothing in the period"));
    return el("div", { class: "chart" }, chart);
  }

  function links(token, entries) {
    const paragraph = el("p", { class: "links" });
    for (const [text, path, file] of entries) {
      const a = el("a", { href: path, "data-download": file }, text);
      a.addEventListener("click", async (event) => {
        event.preventDefault();
        const accept = file.endsWith(".csv") ? "text/csv" : "application/json";
        const response = await fetch(path, { headers: { Authorization: "Bearer " + token, Accept: accept } });
        const url = URL.createObjectURL(await response.blob());
        const save = el("a", { href: url, download: file });
        document.body.append(save);
        save.click();
        save.remove();
        setTimeout(() => URL.revokeObjectURL(url), 1000);
      });
      paragraph.append(a);
    }
    return paragraph;
  }

  function table(head, rows) {
    const t = el("table", {}, el("thead", {}, el("tr", {}, ...head.map((h) => el("th", {}, h)))));
    const body = el("tbody");
    for (const cells of rows) {
      body.append(el("tr", {}, ...cells.map(([text, figure]) =>
        figure ? el("td", { "data-figure": figure }, String(text)) : el("td", {}, String(text)))));
    }
    t.append(body);
    return t;
  }

  function section(id, title, ...children) {
    return el("section", { id }, el("h2", {}, title), ...children);
  }

  const SEVERITY_COLOUR = { critical: "#a40000", high: "#ce5c00", moderate: "#3465a4", low: "#4e9a06" };

  function serviceLevels(report, token, query) {
    const rows = report.groups.map((g) => {
      const key = `service-levels.${g.group.month}.${g.group.severity}`;
      return [
        [g.group.month], [g.group.severity],
        [g.cases, key + ".cases"],
        [percent(g.first_response.share_within_target), key + ".first-response"],
        [percent(g.resolution.share_within_target), key + ".resolution"],
        [percent(g.next_update.share_within_target), key + ".next-update"],
        [g.breaches.total, key + ".breaches"],
      ];
    });
    const bars = report.groups.map((g) => ({
      label: `${g.group.month} ${g.group.severity}`,
      value: g.first_response.share_within_target || 0,
      text: percent(g.first_response.share_within_target),
      colour: SEVERITY_COLOUR[g.group.severity],
    }));
    const path = "/reports/compliance?" + query + "&group_by=month&group_by=severity";
    return section("service-levels", "Service-level attainment by month and severity",
      links(token, [["JSON", path, "service-levels.json"], ["CSV", path + "&format=csv", "service-levels.csv"]]),
      barChart("First responses within target, by month and severity", bars, 1, percent),
      table(["Month", "Severity", "Cases", "First response", "Resolution", "Next update", "Breaches"], rows));
  }

  function breaches(report, dimension, id, title, token, query) {
    const rows = report.groups.map((g) => {
      const key = `${id}.${g.group[dimension]}`;
      const b = g.breaches;
      return [[g.group[dimension]], [g.cases, key + ".cases"], [b.total, key + ".total"],
        [b.first_response, key + ".first-response"], [b.next_update, key + ".next-update"],
        [b.resolution, key + ".resolution"], [b.vendor, key + ".vendor"]];
    });
    const bars = report.groups.map((g) => ({ label: g.group[dimension], value: g.breaches.total, colour: "#a40000" }));
    const max = Math.max(0, ...bars.map((b) => b.value));
    const path = `/reports/compliance?${query}&group_by=${dimension}`;
    return section(id, title,
      links(token, [["JSON", path, id + ".json"], ["CSV", path + "&format=csv", id + ".csv"]]),
      barChart(title, bars, max, String),
      table([dimension[0].toUpperCase() + dimension.slice(1), "Cases", "Breaches", "First response",
        "Next update", "Resolution", "Vendor"], rows));
  }

  function escalations(counts, token, period) {
    const byVehicle = new Map();
    for (const c of counts.counts) {
      const vehicle = c.vehicle || "none";
      byVehicle.set(vehicle, (byVehicle.get(vehicle) || 0) + c.count);
    }
    const vehicles = [...byVehicle.entries()].sort();
    const bars = vehicles.map(([vehicle, n]) => ({ label: vehicle, value: n }));
    const rows = vehicles.map(([vehicle, n]) => [[vehicle], [n, `escalations.${vehicle}.count`]]);
    rows.push([["all vehicles"], [counts.total, "escalations.total.count"]]);
    const path = "/escalations/counts?" + period;
    return section("escalations", "Escalations by vehicle",
      links(token, [["JSON", path, "escalations.json"]]),
      barChart("Escalations by vehicle", bars, Math.max(0, ...bars.map((b) => b.value)), String),
      table(["Vehicle", "Escalations"], rows));
  }

  const BUCKETS = [["current", "current"], ["days_1_30", "1–30 days"], ["days_31_60", "31–60 days"],
    ["days_61_90", "61–90 days"], ["days_over_90", "over 90 days"], ["disputed", "disputed"], ["total", "total"]];

  function aging(report, token) {
    const path = "/receivables/aging";
    if (report === null) {
      return section("aging", "Receivables aging", el("p", { class: "empty" }, "Not visible to this role."));
    }
    const children = [links(token, [["JSON", path, "receivables-aging.json"]])];
    for (const row of report.currencies) {
      const bars = BUCKETS.slice(0, 6).map(([key, label]) => ({ label, value: Number(row[key].amount) }));
      children.push(el("h3", {}, row.currency),
        barChart("Open receivables in " + row.currency, bars, Math.max(0, ...bars.map((b) => b.value)),
          (v) => v.toFixed(2) + " " + row.currency),
        table(["Bucket", "Amount"], BUCKETS.map(([key, label]) =>
          [[label], [row[key].amount, `aging.${row.currency}.${key}`]])));
    }
    if (report.currencies.length === 0) children.push(el("p", { class: "empty" }, "No open receivables."));
    return section("aging", `Receivables aging on ${report.as_of}`, ...children);
  }

  function checkpoint(kept) {
    if (kept === null) {
      return section("audit-log", "The audit log", el("p", { class: "empty", "data-figure": "audit-log.size" },
        "No checkpoint kept yet."));
    }
    return section("audit-log", "The audit log's latest checkpoint",
      el("dl", {},
        el("dt", {}, "Events covered"), el("dd", { "data-figure": "audit-log.size" }, String(kept.size)),
        el("dt", {}, "Issued at"), el("dd", { "data-figure": "audit-log.issued-at" }, kept.issued_at),
        el("dt", {}, "Root hash"), el("dd", {}, el("code", { class: "hash", "data-figure": "audit-log.root-hash" }, kept.root_hash))),
      el("p", {}, "Check it with ", el("code", {}, "cases audit verify"), " (docs/audit-log.md)."));
  }

  async function show(token, from, to) {
    status.textContent = "Loading…";
    status.className = "";
    delete document.body.dataset.state;
    const asOf = new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
    const period = `from=${from}&to=${to}`;
    const query = `${period}&as_of=${encodeURIComponent(asOf)}`;
    // Each section is drawn as soon as its own request answers: a slow report
    // (by vehicle, from the rows at scale) holds up only its own chart.
    const parts = [
      ["service-levels", "/reports/compliance?" + query + "&group_by=month&group_by=severity",
        (d) => serviceLevels(d, token, query)],
      ["breaches-by-category", "/reports/compliance?" + query + "&group_by=category",
        (d) => breaches(d, "category", "breaches-by-category", "Breaches by problem category", token, query)],
      ["breaches-by-vehicle", "/reports/compliance?" + query + "&group_by=vehicle",
        (d) => breaches(d, "vehicle", "breaches-by-vehicle", "Breaches by escalation vehicle", token, query)],
      ["escalations", "/escalations/counts?" + period, (d) => escalations(d, token, period)],
      ["aging", "/receivables/aging", (d) => aging(d, token)],
      ["audit-log", "/audit-log/checkpoint", (d) => checkpoint(d)],
    ];
    main.replaceChildren(...parts.map(([id]) => el("section", { id }, el("p", { class: "empty" }, "Loading…"))));
    main.hidden = false;
    main.dataset.asOf = asOf;
    scope.replaceChildren("Cases received from ", el("strong", { id: "period-from" }, from), " to ",
      el("strong", { id: "period-to" }, to), " (not included), as recorded by ",
      el("strong", { id: "as-of" }, asOf), ".");
    // A section whose request fails says so in its place and the others stay:
    // at scale one report may time out (503) while the rest answer. A refused
    // token (401, 403) fails the whole page: no section would draw for it.
    const failures = [];
    const outcomes = await Promise.allSettled(parts.map(async ([id, path, draw]) => {
      let drawn;
      try {
        drawn = draw(await get(path, token));
      } catch (error) {
        failures.push(error);
        drawn = el("section", { id, class: "error", "data-error": "true" }, el("p", {}, error.message));
        if (error.refused) throw error;
      }
      const slot = document.getElementById(id);
      if (slot) slot.replaceWith(drawn);
    }));
    const refused = outcomes.find((outcome) => outcome.status === "rejected");
    if (refused || failures.length === parts.length) {
      main.replaceChildren();
      main.hidden = true;
      status.textContent = (refused ? refused.reason : failures[0]).message;
      status.className = "error";
      document.body.dataset.state = "failed";
    } else if (failures.length) {
      status.textContent = failures.length + " of " + parts.length +
        " charts could not be drawn: " + failures.map((e) => e.message).join("; ");
      status.className = "error";
      document.body.dataset.state = "partial";
    } else {
      status.textContent = "";
      document.body.dataset.state = "shown";
    }
  }

  function monthStart(date) {
    return new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), 1)).toISOString().slice(0, 10);
  }

  const now = new Date();
  const params = new URLSearchParams(location.search);
  form.from.value = params.get("from") || monthStart(new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 11, 1)));
  form.to.value = params.get("to") || monthStart(new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1)));
  form.token.value = sessionStorage.getItem(TOKEN_KEY) || "";

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, form.token.value);
    show(form.token.value, form.from.value, form.to.value);
  });
  document.getElementById("sign-out").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    form.token.value = "";
    main.replaceChildren();
    main.hidden = true;
  });
  if (form.token.value) show(form.token.value, form.from.value, form.to.value);
})();
