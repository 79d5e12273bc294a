// The MCP gateway console. Plain script, no dependencies: it reads the
// admin API under ./api/ (the same routes as Caddy's /mcp_proxy/ admin
// routes), follows held messages over ./api/held/events, and sends every
// change with the page's CSRF token. It never builds HTML from data: all
// text goes in through textContent.
"use strict";

(function () {
  const token = document.querySelector('meta[name="mcp-console-token"]').content;
  const refreshMs = 2000;
  const $ = (id) => document.getElementById(id);

  function setStatus(text, isError) {
    const s = $("status");
    s.textContent = text;
    s.classList.toggle("error", !!isError);
  }

  // setUpdated reports the periodic refresh apart from the actions' status,
  // so a refresh never hides what an action answered.
  function setUpdated(text, isError) {
    const u = $("updated");
    u.textContent = text;
    u.classList.toggle("error", !!isError);
  }

  async function getJSON(path) {
    const resp = await fetch(path, { headers: { Accept: "application/json" }, cache: "no-store" });
    if (!resp.ok) throw new Error(path + ": " + (await errorText(resp)));
    return resp.json();
  }

  async function errorText(resp) {
    try {
      const body = await resp.json();
      if (body && body.error) return body.error + " (" + resp.status + ")";
    } catch (_) { /* not JSON */ }
    return "HTTP " + resp.status;
  }

  // act sends a change; the answer is reported in the status line.
  async function act(method, path, body, done) {
    const headers = { "X-MCP-Console-Token": token };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    try {
      const resp = await fetch(path, { method, headers, body, cache: "no-store" });
      if (!resp.ok) {
        setStatus(done + " failed: " + (await errorText(resp)), true);
        return false;
      }
      setStatus(done + ".");
      return true;
    } catch (e) {
      setStatus(done + " failed: " + e.message, true);
      return false;
    }
  }

  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }

  function ago(iso) {
    const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
    if (s < 120) return s + "s";
    if (s < 7200) return Math.round(s / 60) + "m";
    return Math.round(s / 3600) + "h";
  }

  // fillRow sets the cells of a row, reusing them so a focused button
  // keeps its focus across refreshes.
  function fillRow(tr, cells) {
    cells.forEach((c, i) => {
      let td = tr.children[i];
      if (!td) { td = el("td"); tr.appendChild(td); }
      if (c instanceof Node) {
        if (td.firstChild !== c) td.replaceChildren(c);
        return;
      }
      const v = typeof c === "object" ? c : { text: c };
      if (td.textContent !== String(v.text)) td.textContent = String(v.text);
      td.className = v.cls || "";
    });
  }

  // syncRows keeps one row per key in tbody, in the order of items.
  function syncRows(tbody, items, key, cells) {
    const old = new Map();
    for (const tr of tbody.children) old.set(tr.dataset.key, tr);
    let prev = null;
    for (const item of items) {
      const k = key(item);
      let tr = old.get(k);
      if (tr) old.delete(k); else { tr = el("tr"); tr.dataset.key = k; }
      fillRow(tr, cells(item, tr));
      const want = prev ? prev.nextSibling : tbody.firstChild;
      if (want !== tr) tbody.insertBefore(tr, want);
      prev = tr;
    }
    for (const tr of old.values()) tr.remove();
  }

  // Sessions.
  function endButton(tr, s) {
    if (!tr.endButton) {
      const b = el("button", "End", "danger");
      b.type = "button";
      b.addEventListener("click", async () => {
        if (!window.confirm("End session " + s.id + "? Its client gets 404 on its next request.")) return;
        b.disabled = true;
        if (await act("DELETE", "api/sessions/" + encodeURIComponent(s.id), undefined, "Ended session " + s.id)) {
          tr.remove();
        } else {
          b.disabled = false;
        }
      });
      tr.endButton = b;
    }
    tr.endButton.setAttribute("aria-label", "End session " + s.id);
    return tr.endButton;
  }

  // served says what serves a session: its upstream, or on an endpoint of
  // several servers each server and the replica serving it there.
  function served(s) {
    const one = (u) => (u.name || u.kind || "…") + (u.pid ? " (pid " + u.pid + ")" : "");
    if (!s.servers) return one(s.upstream);
    return s.servers.map((v) => v.name + ": " + one(v.upstream) + (v.down ? " (down)" : "")).join(", ");
  }

  function renderSessions(list) {
    const sessions = list.sessions || [];
    $("sessions-count").textContent = sessions.length + (list.next_cursor ? "+" : "");
    $("sessions-empty").hidden = sessions.length > 0;
    syncRows($("sessions"), sessions, (s) => s.id, (s, tr) => [
      { text: s.id, cls: "id" }, s.endpoint, s.user || "—", s.client,
      served(s),
      s.protocol_version + (s.transport === "http_sse" ? " (HTTP+SSE)" : ""),
      ago(s.created), ago(s.last_active), s.in_flight, endButton(tr, s),
    ]);
  }

  // Upstreams.
  function processes(p) {
    if (!p) return "—";
    const parts = [p.live + " live", p.assigned + " assigned", p.spares + " spare"];
    if (p.warming) parts.push(p.warming + " warming");
    if (p.stopping) parts.push(p.stopping + " stopping");
    if (p.waiting) parts.push(p.waiting + " waiting");
    if (p.crashed) parts.push(p.crashed + " crashed");
    return parts.join(", ");
  }

  function renderUpstreams(list) {
    const ups = list.upstreams || [];
    $("upstreams-empty").hidden = ups.length > 0;
    syncRows($("upstreams"), ups, (u) => u.endpoint + "\u0000" + u.name + "\u0000" + u.address, (u) => [
      u.endpoint, u.name, u.kind, { text: u.address, cls: "mono" },
      u.health.healthy ? { text: "healthy", cls: "ok" } : { text: "unhealthy", cls: "bad" },
      { text: u.health.breaker.replace("_", "-"), cls: u.health.breaker === "closed" ? "" : "warn" },
      u.health.fails + " (" + u.health.total_fails + " total)", u.sessions, processes(u.processes),
    ]);
  }

  // Tool calls: the rate charts per endpoint and the recent calls.
  const callsShown = 50;
  const svgNS = "http://www.w3.org/2000/svg";

  function svgEl(tag, attrs) {
    const e = document.createElementNS(svgNS, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
    return e;
  }

  const sum = (xs) => xs.reduce((a, b) => a + b, 0);
  const perSecond = (n, seconds) => (seconds > 0 ? n / seconds : 0);
  const fmtRate = (r) => (r >= 10 ? r.toFixed(0) : r >= 1 ? r.toFixed(1) : r.toFixed(2));
  const plural = (n, one, many) => n + " " + (n === 1 ? one : many);

  // spark draws one tool's buckets as bars: its calls, and from the
  // bottom its errors (JSON-RPC errors and tool errors) in red. Each bar
  // has a title (a tooltip); the chart has a label that says it all.
  function spark(series, rates, label) {
    const n = series.calls.length;
    const w = 5, h = 36;
    const peak = Math.max(1, ...series.calls);
    const svg = svgEl("svg", { viewBox: "0 0 " + n * w + " " + (h + 2), preserveAspectRatio: "none", class: "spark", role: "img" });
    svg.setAttribute("aria-label", label);
    svg.appendChild(svgEl("line", { x1: 0, y1: h + 1, x2: n * w, y2: h + 1, class: "axis", "vector-effect": "non-scaling-stroke" }));
    const start = Date.parse(rates.start);
    series.calls.forEach((c, i) => {
      const errs = series.errors[i] + series.tool_errors[i];
      if (c === 0) return;
      const g = svgEl("g");
      const from = new Date(start + i * rates.bucket_seconds * 1000).toLocaleTimeString();
      g.appendChild(svgEl("title")).textContent = from + ": " + plural(c, "call", "calls") +
        (errs ? ", " + plural(errs, "error", "errors") : "");
      const ch = Math.max(1, Math.round((c / peak) * h));
      g.appendChild(svgEl("rect", { x: i * w, y: h + 1 - ch, width: w - 1, height: ch, class: "calls" }));
      if (errs) {
        const eh = Math.max(1, Math.round((errs / peak) * h));
        g.appendChild(svgEl("rect", { x: i * w, y: h + 1 - eh, width: w - 1, height: eh, class: "errors" }));
      }
      svg.appendChild(g);
    });
    return svg;
  }

  // rateRow is one tool's numbers: calls/s over the last minute (the
  // filling bucket counted for the time it has run), and the window's
  // calls, errors, tool errors, and calls the policy blocked or mocked.
  function rateRow(series, rates) {
    const n = series.calls.length, b = rates.bucket_seconds;
    const filling = Math.min(b, Math.max(0, (Date.now() - Date.parse(rates.start)) / 1000 - (n - 1) * b));
    const lastMinute = perSecond(sum(series.calls.slice(-6)), 5 * b + filling);
    const calls = sum(series.calls), errors = sum(series.errors), toolErrors = sum(series.tool_errors);
    const blocked = sum(series.blocked || []), mocked = sum(series.mocked || []);
    const window = Math.round((n * b) / 60) + " minutes";
    const label = series.tool + ": " + plural(calls, "call", "calls") + " in the last " + window + ", " +
      fmtRate(lastMinute) + " calls/s over the last minute, peak " + fmtRate(Math.max(...series.calls) / b) +
      " calls/s, " + plural(errors, "error", "errors") + ", " + plural(toolErrors, "tool error", "tool errors") +
      ", " + blocked + " blocked, " + mocked + " mocked";
    return [{ text: series.tool, cls: series.all ? "all" : "mono" }, spark(series, rates, label), fmtRate(lastMinute), calls,
      errors ? { text: errors, cls: "bad" } : 0, toolErrors ? { text: toolErrors, cls: "warn" } : 0,
      blocked ? { text: blocked, cls: "policy" } : 0, mocked ? { text: mocked, cls: "policy" } : 0];
  }

  // allTools is the endpoint's sum over its tools.
  function allTools(tools) {
    const add = (key) => tools[0][key].map((_, i) => sum(tools.map((t) => t[key][i])));
    return { tool: "all tools", all: true, calls: add("calls"), errors: add("errors"), tool_errors: add("tool_errors"),
      blocked: add("blocked"), mocked: add("mocked") };
  }

  function rateFigure(ep) {
    const fig = el("figure", undefined, "rates");
    fig.dataset.key = ep.endpoint;
    const cap = el("figcaption", ep.endpoint);
    const table = el("table");
    table.appendChild(el("caption", "Calls per tool at " + ep.endpoint + ", last 10 minutes", "sr"));
    const head = el("tr");
    for (const h of ["Tool", "Last 10 minutes (10 s bars, now at the right)", "Calls/s, last minute", "Calls", "Errors", "Tool errors", "Blocked", "Mocked"]) {
      const th = el("th", h);
      th.scope = "col";
      head.appendChild(th);
    }
    table.appendChild(el("thead")).appendChild(head);
    table.appendChild(el("tbody"));
    fig.append(cap, el("div", undefined, "scroll"));
    fig.lastChild.appendChild(table);
    return fig;
  }

  function renderRates(list) {
    const box = $("rates");
    const busy = (list.endpoints || []).filter((ep) => ep.rates.tools.length > 0);
    $("rates-empty").hidden = busy.length > 0;
    const old = new Map();
    for (const fig of box.children) old.set(fig.dataset.key, fig);
    for (const ep of busy) {
      let fig = old.get(ep.endpoint);
      if (fig) old.delete(ep.endpoint); else fig = rateFigure(ep);
      box.appendChild(fig); // in order
      const tools = ep.rates.tools;
      const rows = tools.length > 1 ? [allTools(tools), ...tools] : tools;
      syncRows(fig.querySelector("tbody"), rows, (t) => (t.all ? "\u0000all" : t.tool), (t) => rateRow(t, ep.rates));
    }
    for (const fig of old.values()) fig.remove();
  }

  function outcomeCell(c) {
    switch (c.outcome) {
      case "error": return { text: "error" + (c.error ? ": " + c.error : ""), cls: "bad" };
      case "tool_error": return { text: "tool error", cls: "warn" };
      case "blocked": return { text: "blocked" + (c.error ? ": " + c.error : ""), cls: "policy" };
      case "mocked": return { text: "mocked", cls: "policy" };
    }
    return { text: "ok", cls: "ok" };
  }

  function argumentsText(c) {
    if (c.arguments !== undefined) return JSON.stringify(c.arguments);
    if (c.arguments_preview) return c.arguments_preview;
    if (c.arguments_omitted) return "(" + c.arguments_omitted + ")";
    return "—";
  }

  function duration(ms) {
    if (ms < 1) return ms.toFixed(2) + " ms";
    if (ms < 1000) return ms.toFixed(ms < 10 ? 1 : 0) + " ms";
    return (ms / 1000).toFixed(ms < 10000 ? 2 : 1) + " s";
  }

  function renderCalls(list) {
    const calls = [];
    for (const ep of list.endpoints || []) calls.push(...ep.calls);
    calls.sort((a, b) => Date.parse(b.time) - Date.parse(a.time));
    calls.length = Math.min(calls.length, callsShown);
    $("calls-count").textContent = calls.length;
    $("calls-empty").hidden = calls.length > 0;
    syncRows($("calls"), calls, (c) => c.endpoint + "\u0000" + c.id, (c) => [
      new Date(c.time).toLocaleTimeString(), c.endpoint, { text: c.session ? c.session.slice(0, 8) + "…" : "—", cls: "id" },
      c.user || "—", { text: c.tool, cls: "mono" }, duration(c.duration_ms), outcomeCell(c),
      { text: argumentsText(c), cls: "args" },
    ]);
  }

  // Recordings: the list, a transcript, the download.
  const recordingsMs = 10000;

  function recordingPath(file) {
    return "api/recordings/" + encodeURIComponent(file);
  }

  function recordingActions(tr, r) {
    if (!tr.actions) {
      const view = el("button", "View");
      view.type = "button";
      view.addEventListener("click", () => showTranscript(r.file));
      const dl = el("a", "Download", "button");
      dl.href = recordingPath(r.file) + "/download";
      dl.download = r.file;
      const box = el("span", undefined, "row-actions");
      box.append(view, dl);
      tr.actions = box;
      tr.actionButtons = [view, dl];
    }
    tr.actionButtons[0].setAttribute("aria-label", "View the transcript of " + r.file);
    tr.actionButtons[1].setAttribute("aria-label", "Download " + r.file + " (JSONL)");
    return tr.actions;
  }

  function size(bytes) {
    if (bytes < 1024) return bytes + " B";
    if (bytes < 1048576) return (bytes / 1024).toFixed(1) + " KiB";
    return (bytes / 1048576).toFixed(1) + " MiB";
  }

  async function refreshRecordings() {
    try {
      const list = await getJSON("api/recordings");
      const recs = (list.recordings || []).slice().sort((a, b) => Date.parse(b.start) - Date.parse(a.start));
      $("recordings-count").textContent = recs.length;
      $("recordings-empty").hidden = recs.length > 0;
      syncRows($("recordings"), recs, (r) => r.file, (r, tr) => [
        { text: r.file, cls: "mono" }, r.endpoint, { text: r.session || "—", cls: "id" },
        new Date(r.start).toLocaleString(), size(r.size), r.parts, recordingActions(tr, r),
      ]);
    } catch (e) {
      setStatus("Cannot list recordings: " + e.message, true);
    }
  }

  async function showTranscript(file) {
    const box = $("transcript");
    try {
      const resp = await fetch(recordingPath(file), { headers: { Accept: "text/plain" }, cache: "no-store" });
      if (!resp.ok) throw new Error(await errorText(resp));
      $("transcript-text").textContent = await resp.text();
    } catch (e) {
      setStatus("Cannot show " + file + ": " + e.message, true);
      return;
    }
    $("transcript-title").textContent = "Transcript of " + file;
    $("transcript-download").href = recordingPath(file) + "/download";
    $("transcript-download").download = file;
    box.hidden = false;
    $("transcript-title").focus();
  }

  $("transcript-close").addEventListener("click", () => {
    $("transcript").hidden = true;
    $("recordings-title").focus();
  });
  $("recordings-refresh").addEventListener("click", refreshRecordings);

  async function refresh() {
    try {
      const [sessions, upstreams, calls, instance] = await Promise.all([getJSON("api/sessions"), getJSON("api/upstreams"),
        getJSON("api/calls?limit=" + callsShown), getJSON("api/instance")]);
      // Behind a load balancer each instance shows only what it holds.
      $("instance").textContent = "Instance: " + instance.instance;
      $("instance").title = "Host " + instance.hostname;
      renderSessions(sessions);
      renderUpstreams(upstreams);
      renderRates(calls);
      renderCalls(calls);
      setUpdated("Updated " + new Date().toLocaleTimeString() + ".", false);
    } catch (e) {
      setUpdated("Cannot read the gateway: " + e.message, true);
    }
  }

  // Held messages.
  const held = new Map(); // id -> <li>

  function pretty(raw) {
    try { return JSON.stringify(raw, null, 2); } catch (_) { return String(raw); }
  }

  function addHeld(entry) {
    if (held.has(entry.id)) return;
    const li = $("held-template").content.firstElementChild.cloneNode(true);
    li.dataset.id = entry.id;
    li.querySelector(".held-title").textContent =
      (entry.tool ? entry.method + " " + entry.tool : entry.method || "message") + " — rule " + entry.rule;
    const dl = li.querySelector(".held-meta");
    for (const [k, v] of [["Endpoint", entry.endpoint], ["Session", entry.session], ["User", entry.user],
      ["Direction", entry.direction.replace("_", " ")], ["Held since", new Date(entry.since).toLocaleTimeString()], ["Id", entry.id]]) {
      if (!v) continue;
      dl.append(el("dt", k), el("dd", v));
    }
    const message = li.querySelector(".held-message");
    message.value = pretty(entry.message);
    const base = "api/held/" + encodeURIComponent(entry.id) + "/";
    const what = entry.tool || entry.method || entry.id;
    const decide = async (verb, body, done) => {
      for (const b of li.querySelectorAll("button")) b.disabled = true;
      if (await act("POST", base + verb, body, done)) {
        removeHeld(entry.id);
      } else {
        // An edit stays off until the message is opened.
        for (const b of li.querySelectorAll("button")) b.disabled = b.classList.contains("act-edit") && message.readOnly;
      }
    };
    li.querySelector(".act-continue").addEventListener("click", () => decide("continue", undefined, "Continued " + what));
    // The list shows the message redacted; an edit must start from what
    // will be sent, or it would send "[redacted]" on.
    const open = li.querySelector(".act-open");
    open.addEventListener("click", async () => {
      open.disabled = true;
      try {
        const full = await getJSON("api/held/" + encodeURIComponent(entry.id));
        message.value = pretty(full.message);
        message.readOnly = false;
        li.querySelector(".act-edit").disabled = false;
        open.hidden = true;
        message.focus();
      } catch (e) {
        setStatus("Cannot open the held message: " + e.message, true);
        open.disabled = false;
      }
    });
    li.querySelector(".act-edit").addEventListener("click", () => {
      let edited;
      try { edited = JSON.stringify(JSON.parse(message.value)); } catch (e) {
        setStatus("The edited message is not JSON: " + e.message, true);
        message.focus();
        return;
      }
      decide("continue", edited, "Continued " + what + " as edited");
    });
    li.querySelector(".act-block").addEventListener("click", () => {
      const text = li.querySelector(".block-message").value;
      decide("block", text ? JSON.stringify({ message: text }) : undefined, "Blocked " + what);
    });
    li.querySelector(".act-respond").addEventListener("click", () => {
      const area = li.querySelector(".respond-result");
      let result;
      try { result = JSON.parse(area.value); } catch (e) { result = undefined; }
      if (!result || typeof result !== "object" || Array.isArray(result)) {
        setStatus("The result must be a JSON object.", true);
        area.focus();
        return;
      }
      decide("respond", JSON.stringify(result), "Answered " + what);
    });
    held.set(entry.id, li);
    $("held-list").appendChild(li);
    heldChanged();
  }

  function removeHeld(id) {
    if (decidedSince) decidedSince.add(id);
    const li = held.get(id);
    if (!li) return;
    const hadFocus = li.contains(document.activeElement);
    li.remove();
    held.delete(id);
    heldChanged();
    if (hadFocus) $("held").focus();
  }

  function heldChanged() {
    $("held-count").textContent = held.size;
    $("held-empty").hidden = held.size > 0;
  }

  // decidedSince collects the ids decided while a relist is in flight: the
  // list may have been made before those decisions and must not bring
  // them back.
  let decidedSince = null;

  async function relistHeld() {
    // Only what was shown before the list was asked for can be stale: a
    // hold that arrives meanwhile over the stream stays.
    const before = new Set(held.keys());
    const decided = new Set();
    decidedSince = decided;
    try {
      const list = await getJSON("api/held");
      const now = new Set((list.held || []).map((e) => e.id));
      for (const id of before) if (!now.has(id)) removeHeld(id);
      for (const e of list.held || []) if (!decided.has(e.id)) addHeld(e);
    } catch (e) {
      setStatus("Cannot list held messages: " + e.message, true);
    }
  }

  function listenHeld() {
    const live = $("held-live");
    const es = new EventSource("api/held/events");
    // Whatever happened while not listening is in the list: read it on
    // every (re)connection.
    es.addEventListener("open", () => {
      live.textContent = "Live: new holds appear here as they happen.";
      live.classList.remove("error");
      relistHeld();
    });
    es.addEventListener("error", () => {
      live.textContent = "Live updates interrupted; reconnecting…";
      live.classList.add("error");
    });
    es.addEventListener("held", (ev) => addHeld(JSON.parse(ev.data).entry));
    es.addEventListener("decided", (ev) => removeHeld(JSON.parse(ev.data).entry.id));
  }

  heldChanged();
  listenHeld();
  refresh();
  window.setInterval(refresh, refreshMs);
  refreshRecordings();
  window.setInterval(refreshRecordings, recordingsMs);
})();
