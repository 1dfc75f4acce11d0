// The authgate decision dashboard: plain JS, no build step (docs/observability.md).
//
// Data: GET /dashboard/api/series and /summary once, then one server-sent `tick` a
// second from /dashboard/events (the newest seconds of the series and the summary),
// and the recent-decisions table from /dashboard/api/decisions with the filters.
// Every value from a record (paths, users, reasons...) is untrusted text: it goes into
// the page through textContent only, never as HTML. The page's state is kept on
// `window.dashboard` (series, summary, rows, charts) so it can be inspected.
"use strict";

(function () {
  const OUTCOMES = ["allow", "deny", "login", "step_up", "rate_limited", "error"];
  const COLOURS = {
    allow: "#2e7d32", deny: "#c62828", login: "#1565c0", step_up: "#6a1b9a",
    rate_limited: "#ef6c00", error: "#424242", limit_refusals: "#ef6c00", bans: "#ad1457",
    sheds: "#5d4037",
  };
  const LIMITS = ["limit_refusals", "bans", "sheds"];
  const TOPS = ["deny_reasons", "error_reasons", "routes", "refused_users", "refused_ips",
    "countries", "signals"];
  const state = { series: null, summary: null, rows: [], charts: {}, ticks: 0, filters: {} };
  window.dashboard = state;

  const $ = (id) => document.getElementById(id);

  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }

  async function getJSON(url) {
    const response = await fetch(url, { headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(url + ": " + response.status);
    return response.json();
  }

  // --- charts -----------------------------------------------------------------

  function chartWidth(node) {
    return Math.max(320, node.clientWidth || node.parentNode.clientWidth - 20);
  }

  function seriesChart(node, names, height) {
    const opts = {
      width: chartWidth(node), height: height,
      scales: { x: { time: true } },
      series: [{}].concat(names.map((name) => ({
        label: name, stroke: COLOURS[name], width: 1.5, points: { show: false },
      }))),
      axes: [{}, { label: "per second" }],
      legend: { live: true },
    };
    return new uPlot(opts, [[]].concat(names.map(() => [])), node);
  }

  function riskChart(node) {
    const opts = {
      width: chartWidth(node), height: 150,
      scales: { x: { time: false } },
      series: [{ label: "risk band" }, {
        label: "requests", stroke: "#6a1b9a", fill: "rgba(106,27,154,.25)",
        paths: uPlot.paths.bars({ size: [0.8, 40] }), points: { show: false },
      }],
      axes: [{ values: (u, ticks) => ticks.map((t) => t * 10 + "–" + (t * 10 + 9)) }, {}],
    };
    return new uPlot(opts, [[], []], node);
  }

  function chartData(names) {
    const s = state.series;
    return [s.time].concat(names.map((name) => s[name]));
  }

  function drawCharts() {
    if (!state.series) return;
    state.charts.outcomes.setData(chartData(OUTCOMES));
    state.charts.limits.setData(chartData(LIMITS));
    if (state.summary) {
      const bands = state.summary.risk;
      state.charts.risk.setData([bands.map((_, i) => i), bands]);
    }
  }

  // A tick carries the newest seconds: replace those we have, append the new ones and
  // keep the window at its length (15 minutes).
  function mergeSeries(tail) {
    const s = state.series;
    const length = s.time.length;
    tail.time.forEach((second, i) => {
      let at = s.time.lastIndexOf(second);
      if (at < 0) {
        if (second < s.time[length - 1]) return;
        for (const key of Object.keys(s)) s[key].push(key === "time" ? second : 0);
        at = s.time.length - 1;
      }
      for (const key of Object.keys(tail)) if (key !== "time") s[key][at] = tail[key][i];
    });
    const extra = s.time.length - length;
    if (extra > 0) for (const key of Object.keys(s)) s[key].splice(0, extra);
  }

  // --- tables -----------------------------------------------------------------

  function fillTop(table, rows) {
    table.replaceChildren();
    if (!rows.length) {
      const tr = el("tr");
      tr.append(el("td", "none", "empty"));
      table.append(tr);
      return;
    }
    for (const [key, count] of rows) {
      const tr = el("tr");
      tr.append(el("td", key === "" ? "(no route)" : key), el("td", count, "n"));
      table.append(tr);
    }
  }

  function fmt(ms) { return ms === null || ms === undefined ? "–" : ms.toFixed(3); }

  function drawSummary() {
    const summary = state.summary;
    if (!summary) return;
    const cards = $("totals");
    cards.replaceChildren();
    for (const name of OUTCOMES.concat(LIMITS)) {
      const card = el("div", null, "card " + name);
      card.id = "total-" + name;
      card.append(el("span", summary.totals[name] || 0, "n"), el("span", name.replace("_", " ")));
      cards.append(card);
    }
    for (const name of TOPS) {
      const rows = name === "signals" ? summary.signals : summary.top[name];
      fillTop($("top-" + name), rows);
    }
    const body = $("latency").tBodies[0];
    body.replaceChildren();
    const list = $("routes-list");
    list.replaceChildren();
    for (const [route, lat] of Object.entries(summary.latency)) {
      const tr = el("tr");
      tr.dataset.route = route;
      tr.append(el("td", route || "(no route)"), el("td", lat.count));
      for (const side of ["gateway_ms", "upstream_ms"]) {
        for (const p of ["p50", "p90", "p99"]) tr.append(el("td", fmt(lat[side][p])));
      }
      body.append(tr);
      const option = el("option");
      option.value = route || "-";
      list.append(option);
    }
  }

  function filterQuery() {
    const query = new URLSearchParams();
    for (const name of ["route", "user", "decision", "reason"]) {
      const value = $("f-" + name).value.trim();
      if (value) query.set(name, value);
    }
    for (const name of ["since", "until"]) {
      const value = $("f-" + name).value;
      // The fields have whole seconds: "to" takes in the whole of its second.
      const end = name === "until" ? 0.999 : 0;
      if (value) query.set(name, String(new Date(value).getTime() / 1000 + end));
    }
    query.set("limit", "200");
    return query;
  }

  let rowsAsked = 0;

  async function loadRows() {
    const query = filterQuery();
    const asked = ++rowsAsked;
    const answer = await getJSON("/dashboard/api/decisions?" + query);
    if (asked !== rowsAsked) return; // a newer query (other filters) is on its way
    state.rows = answer.rows;
    state.filters = Object.fromEntries(query);
    const body = $("decisions").tBodies[0];
    body.replaceChildren();
    for (const row of answer.rows) {
      const tr = el("tr");
      tr.dataset.requestId = row.request_id;
      tr.append(
        el("td", row.at), el("td", row.decision, "decision " + row.decision), el("td", row.status),
        el("td", row.route), el("td", row.method), el("td", row.host), el("td", row.path),
        el("td", row.user), el("td", row.client_ip), el("td", row.country), el("td", row.reason),
        el("td", row.rule),
      );
      tr.addEventListener("click", () => openRecord(row.request_id));
      body.append(tr);
    }
    $("rows-count").textContent = answer.rows.length + " shown";
  }

  function fillList(dl, pairs) {
    dl.replaceChildren();
    for (const [name, value] of pairs) {
      const text = Array.isArray(value) ? (value.length ? value.join(", ") : "—")
        : value === null || value === undefined ? "—" : typeof value === "object"
          ? JSON.stringify(value) : value;
      const dd = el("dd", text);
      dd.dataset.field = name;
      dl.append(el("dt", name), dd);
    }
  }

  async function openRecord(requestId) {
    const record = await getJSON("/dashboard/api/decisions/" + encodeURIComponent(requestId));
    state.record = record;
    $("d-request-id").textContent = record.request_id;
    fillList($("d-fields"), [
      ["at", record.at], ["decision", record.decision], ["status", record.status],
      ["route", record.route], ["rule", record.rule], ["reasons", record.reasons],
      ["method", record.method], ["host", record.host], ["path", record.path],
      ["user", record.user], ["provider", record.provider], ["client_ip", record.client_ip],
      ["country", record.country], ["device", record.device], ["risk", record.risk],
      ["signals", record.signals], ["upstream_status", record.upstream_status],
      ["durations_ms", record.durations_ms], ["stripped", record.stripped],
      ["trace_id", record.trace_id],
    ]);
    const e = record.explain;
    fillList($("d-explain"), e ? [
      ["config generation", e.config_generation], ["identity", e.identity],
      ["route", e.route], ["decision", e.decision], ["rule", e.rule],
      ["reasons", e.reasons], ["status", e.status], ["normalized path", e.path],
      ["same as recorded", e.same_as_recorded ? "yes" : "no"],
    ] : [["explain", "not available"]]);
    $("detail").hidden = false;
    $("detail").scrollIntoView({ block: "nearest" });
  }

  // --- live -------------------------------------------------------------------

  function about(answer) {
    $("scope").textContent = "showing " + answer.scope + (answer.ready ? "" : " (loading…)");
  }

  function connect() {
    const source = new EventSource("/dashboard/events");
    source.addEventListener("open", () => {
      $("live").textContent = "live";
      $("live").className = "live on";
    });
    source.addEventListener("error", () => {
      $("live").textContent = "reconnecting…";
      $("live").className = "live off";
    });
    source.addEventListener("tick", (event) => {
      const tick = JSON.parse(event.data);
      state.ticks += 1;
      about(tick);
      mergeSeries(tick.series);
      state.summary = tick.summary;
      drawSummary();
      drawCharts();
      if (state.ticks % 2 === 0 && $("detail").hidden) loadRows().catch(() => {});
    });
  }

  async function start() {
    state.charts.outcomes = seriesChart($("chart-outcomes"), OUTCOMES, 220);
    state.charts.limits = seriesChart($("chart-limits"), LIMITS, 150);
    state.charts.risk = riskChart($("chart-risk"));
    const [series, summary] = await Promise.all([
      getJSON("/dashboard/api/series"), getJSON("/dashboard/api/summary"),
    ]);
    about(summary);
    state.series = series.series;
    state.summary = summary.summary;
    drawSummary();
    drawCharts();
    await loadRows();
    $("filters").addEventListener("submit", (event) => {
      event.preventDefault();
      loadRows();
    });
    $("filters").addEventListener("reset", () => setTimeout(loadRows, 0));
    $("d-close").addEventListener("click", () => { $("detail").hidden = true; });
    connect();
    state.loaded = true;
  }

  window.addEventListener("DOMContentLoaded", () => {
    start().catch((error) => {
      $("live").textContent = "failed: " + error.message;
      state.error = String(error);
    });
  });
})();
