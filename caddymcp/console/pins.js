// The console's panel of tool definitions awaiting review (pin_tools):
// each drift, new or rejected tool with a line diff of its pinned and its
// new definition, and Approve/Reject buttons that POST to
// ./api/pins/<id>/approve|reject with the page's CSRF token, as the held
// messages' buttons do. Like console.js it builds no HTML from data.
"use strict";

(function () {
  const token = document.querySelector('meta[name="mcp-console-token"]').content;
  const refreshMs = 2000;
  const $ = (id) => document.getElementById(id);
  const cards = new Map(); // id -> <li>
  const decided = new Set(); // ids decided here, gone at the next list

  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }

  function setStatus(text, isError) {
    const s = $("status");
    s.textContent = text;
    s.classList.toggle("error", !!isError);
  }

  function lines(def) {
    if (!def) return [];
    try { return JSON.stringify(def.definition, null, 2).split("\n"); } catch (_) { return [String(def.definition)]; }
  }

  // diffLines is a line diff (longest common subsequence) of a and b:
  // [op, line] with op " ", "-" or "+". Definitions are short; past
  // maxCells the two are shown whole, one after the other.
  function diffLines(a, b) {
    const maxCells = 250000;
    if (a.length * b.length > maxCells) {
      return a.map((l) => ["-", l]).concat(b.map((l) => ["+", l]));
    }
    const n = a.length, m = b.length;
    const lcs = Array.from({ length: n + 1 }, () => new Uint16Array(m + 1));
    for (let i = n - 1; i >= 0; i--) {
      for (let j = m - 1; j >= 0; j--) {
        lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
      }
    }
    const out = [];
    let i = 0, j = 0;
    while (i < n && j < m) {
      if (a[i] === b[j]) { out.push([" ", a[i]]); i++; j++; }
      else if (lcs[i + 1][j] >= lcs[i][j + 1]) out.push(["-", a[i++]]);
      else out.push(["+", b[j++]]);
    }
    while (i < n) out.push(["-", a[i++]]);
    while (j < m) out.push(["+", b[j++]]);
    return out;
  }

  function diffBlock(entry) {
    const pre = el("pre", undefined, "diff");
    pre.tabIndex = 0;
    pre.setAttribute("aria-label", "Changes to " + entry.tool + ": lines starting with minus were pinned, with plus are new");
    for (const [op, line] of diffLines(lines(entry.pinned), lines(entry.pending))) {
      const cls = op === "-" ? "del" : op === "+" ? "add" : "same";
      pre.appendChild(el("span", op + " " + line + "\n", cls));
    }
    return pre;
  }

  const stateText = {
    drift: "changed since it was pinned",
    new: "new, awaiting approval",
    rejected: "rejected; still withheld",
  };

  async function decide(entry, verb, li) {
    const path = "api/pins/" + encodeURIComponent(entry.id) + "/" + verb;
    const done = (verb === "approve" ? "Approved " : "Rejected ") + entry.tool + " (" + entry.endpoint + ")";
    for (const b of li.querySelectorAll("button")) b.disabled = true;
    try {
      const resp = await fetch(path, { method: "POST", headers: { "X-MCP-Console-Token": token }, cache: "no-store" });
      if (!resp.ok) {
        let msg = "HTTP " + resp.status;
        try { const body = await resp.json(); if (body && body.error) msg = body.error + " (" + resp.status + ")"; } catch (_) { /* not JSON */ }
        setStatus(done + " failed: " + msg, true);
        for (const b of li.querySelectorAll("button")) b.disabled = false;
        return;
      }
      setStatus(done + ".");
      decided.add(entry.id);
      remove(entry.id);
    } catch (e) {
      setStatus(done + " failed: " + e.message, true);
      for (const b of li.querySelectorAll("button")) b.disabled = false;
    }
  }

  function card(entry) {
    const li = el("li", undefined, "card pin");
    li.dataset.id = entry.id;
    li.appendChild(el("h3", entry.tool + " — " + (stateText[entry.state] || entry.state)));
    const dl = el("dl", undefined, "held-meta");
    const meta = [["Endpoint", entry.endpoint], ["Server", entry.member || "(the endpoint's)"],
      ["Pinned digest", entry.pinned ? entry.pinned.digest.slice(0, 16) : "none"],
      ["New digest", entry.pending ? entry.pending.digest.slice(0, 16) : "none"]];
    for (const [k, v] of meta) { dl.appendChild(el("dt", k)); dl.appendChild(el("dd", v)); }
    li.appendChild(dl);
    li.appendChild(diffBlock(entry));
    const actions = el("div", undefined, "actions");
    const approve = el("button", "Approve", "act-approve");
    approve.type = "button";
    approve.setAttribute("aria-label", "Approve the new definition of " + entry.tool);
    approve.addEventListener("click", () => decide(entry, "approve", li));
    actions.appendChild(approve);
    if (entry.state !== "rejected") {
      const reject = el("button", "Reject", "act-reject danger");
      reject.type = "button";
      reject.setAttribute("aria-label", "Reject the new definition of " + entry.tool);
      reject.addEventListener("click", () => decide(entry, "reject", li));
      actions.appendChild(reject);
    }
    li.appendChild(actions);
    return li;
  }

  function remove(id) {
    const li = cards.get(id);
    if (!li) return;
    const hadFocus = li.contains(document.activeElement);
    li.remove();
    cards.delete(id);
    counted();
    if (hadFocus) $("pins").focus();
  }

  function counted() {
    $("pins-count").textContent = cards.size;
    $("pins-empty").hidden = cards.size > 0;
  }

  async function refresh() {
    let list;
    try {
      const resp = await fetch("api/pins", { headers: { Accept: "application/json" }, cache: "no-store" });
      if (!resp.ok) throw new Error("HTTP " + resp.status);
      list = await resp.json();
    } catch (e) {
      $("pins-note").textContent = "Cannot list tool definitions: " + e.message;
      $("pins-note").classList.add("error");
      return;
    }
    $("pins-note").classList.remove("error");
    const all = list.pins || [];
    const review = all.filter((e) => e.state !== "pinned");
    const pinned = all.length - review.length;
    $("pins-note").textContent = pinned + (pinned === 1 ? " tool definition" : " tool definitions") + " pinned.";
    const now = new Set(review.map((e) => e.id));
    for (const id of [...cards.keys()]) if (!now.has(id)) remove(id);
    for (const id of [...decided]) if (!now.has(id)) decided.delete(id);
    for (const e of review) {
      if (cards.has(e.id) || decided.has(e.id)) continue;
      const li = card(e);
      cards.set(e.id, li);
      $("pins-list").appendChild(li);
    }
    counted();
  }

  counted();
  refresh();
  window.setInterval(refresh, refreshMs);
})();
