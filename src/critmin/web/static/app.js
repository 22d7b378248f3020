/* critmin web: plots (plotly.js, served locally), background-job progress, the chain explorer,
   the scenario lab and the operations console. No external request is ever made. */
"use strict";
(function () {
  const SVG_ICON = { width: 1000, height: 1000, path: "M500 0L1000 500H700V1000H300V500H0Z" };
  const CONFIG = {
    responsive: true,
    displaylogo: false,
    topojsonURL: "/static/vendor/topojson/",
    toImageButtonOptions: { format: "png", scale: 2 },
    modeBarButtonsToRemove: ["lasso2d", "select2d"],
    modeBarButtonsToAdd: [{
      name: "Download as SVG", icon: SVG_ICON,
      click: (gd) => Plotly.downloadImage(gd, { format: "svg", filename: gd.id || "critmin-chart" }),
    }],
  };

  function plot(id, fig) {
    const el = typeof id === "string" ? document.getElementById(id) : id;
    if (!el || !fig || !window.Plotly) return Promise.resolve();
    const layout = Object.assign({ autosize: true }, fig.layout || {});
    let data = fig.data || [];
    if (window.innerWidth < 600) {
      // narrow bars: let plotly shrink or hide labels that do not fit (slower, but legible)
      data = data.map((t) => (t.constraintext ? Object.assign({}, t, { constraintext: "both" }) : t));
      layout.font = Object.assign({}, layout.font, { size: 12 });
      if (layout.xaxis && layout.xaxis.dtick === 1) layout.xaxis = Object.assign({}, layout.xaxis, { dtick: 3 });
      if (layout.title && layout.title.text) layout.title = Object.assign({}, layout.title, { font: { size: 13 } });
    }
    return Plotly.react(el, data, layout, CONFIG);
  }

  function esc(s) {
    return String(s == null ? "" : s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  }

  async function getJSON(url, opts) {
    const res = await fetch(url, opts);
    const body = await res.json().catch(() => ({}));
    if (!res.ok) {
      const err = body.error || {};
      const msg = err.message || (typeof body.detail === "string" ? body.detail : res.statusText);
      throw new Error(err.field ? err.field + ": " + msg : msg);
    }
    return body;
  }

  function table(rows, cols) {
    cols = cols || (rows.length ? Object.keys(rows[0]) : []);
    const head = "<thead><tr>" + cols.map((c) => "<th>" + esc(Array.isArray(c) ? c[1] : c) + "</th>").join("") + "</tr></thead>";
    const body = rows.map((r) => "<tr>" + cols.map((c) => "<td>" + esc(r[Array.isArray(c) ? c[0] : c]) + "</td>").join("") + "</tr>").join("");
    return head + "<tbody>" + body + "</tbody>";
  }

  // -- background jobs (ranking, reserve plan) -------------------------------------------
  function pollJob(el) {
    const id = el.dataset.job;
    const bar = el.querySelector("progress");
    const text = el.querySelector(".job-text");
    const tick = async () => {
      try {
        const job = await getJSON("/web/jobs/" + id);
        if (bar && job.total) { bar.max = job.total; bar.value = job.done; }
        if (text) text.textContent = job.done + " / " + (job.total || "?") + " · " + job.seconds + " s";
        if (job.status === "done" && el.dataset.reload) { window.location.reload(); return; }
        if (job.status === "failed") { el.innerHTML = '<p class="error">failed: ' + esc(job.error) + "</p>"; return; }
      } catch (e) { return; }
      setTimeout(tick, 1000);
    };
    setTimeout(tick, 500);
  }
  document.querySelectorAll("[data-job]").forEach(pollJob);

  // -- static figures (reserve page) --------------------------------------------------------
  const figs = document.getElementById("figures");
  if (figs) {
    const all = JSON.parse(figs.textContent);
    Object.keys(all).forEach((k) => plot("fig-" + k, all[k]));
  }

  // -- chain explorer -------------------------------------------------------------------------
  const chainData = document.getElementById("chain-data");
  if (chainData) {
    // Redraw only what changed, and only charts on or near the screen: a chart further down
    // keeps its figure pending until it is scrolled towards (IntersectionObserver), so a
    // mineral switch costs one or two plotly redraws instead of five.
    const drawn = {};    // chart id -> JSON of the figure on screen
    const pending = {};  // chart id -> figure waiting to come into view
    const near = (el) => {
      const r = el.getBoundingClientRect();
      return r.bottom > -200 && r.top < window.innerHeight + 200;
    };
    const show = (id, fig) => {
      const key = JSON.stringify(fig);
      delete pending[id];
      if (drawn[id] === key) return Promise.resolve();
      drawn[id] = key;
      return plot(id, fig);
    };
    const seen = "IntersectionObserver" in window ? new IntersectionObserver((entries) => {
      entries.forEach((e) => { if (e.isIntersecting && pending[e.target.id]) show(e.target.id, pending[e.target.id]); });
    }, { rootMargin: "200px 0px" }) : null;
    // the charts on screen are redrawn; resolves when plotly has finished with all of them
    const draw = (data) => {
      const drawing = [];
      Object.keys(data.figures).forEach((k) => {
        const id = "fig-" + k;
        const el = document.getElementById(id);
        if (!el) return;
        if (!seen || near(el)) drawing.push(show(id, data.figures[k]));
        else { pending[id] = data.figures[k]; seen.observe(el); }
      });
      document.getElementById("chain-name").textContent = data.name;
      return Promise.all(drawing);
    };
    draw(JSON.parse(chainData.textContent));
    const mineral = document.getElementById("mineral");
    const year = document.getElementById("year");
    const stage = document.getElementById("stage");
    // window.critmin* record the last interaction for the speed benchmark: from the change
    // event to the last chart redrawn (ms), and the JSON fetch within it
    const refresh = async (resetStage, ev) => {
      const start = ev && ev.timeStamp ? ev.timeStamp : performance.now();
      const q = new URLSearchParams();
      if (year.value) q.set("year", year.value);
      if (!resetStage && stage.value) q.set("stage", stage.value);
      document.body.classList.add("busy");
      try {
        const t0 = performance.now();
        const data = await getJSON("/web/chain/" + encodeURIComponent(mineral.value) + ".json?" + q);
        window.critminFetchMs = performance.now() - t0;
        if (resetStage) {
          stage.innerHTML = data.stages.map((s) => "<option" + (s === data.stage ? " selected" : "") + ">" + esc(s) + "</option>").join("");
        }
        const drawing = draw(data);
        document.getElementById("exposure-table").innerHTML = data.table_html;
        document.querySelectorAll("a[download]").forEach((a) => {
          a.href = a.href.replace(/mineral=[^&]*/, "mineral=" + encodeURIComponent(mineral.value));
        });
        history.replaceState(null, "", "/chain/" + encodeURIComponent(mineral.value));
        await drawing;
        window.critminLastUpdate = performance.now();
        window.critminInteractionMs = window.critminLastUpdate - start;
      } catch (e) {
        alert(e.message);
      } finally {
        document.body.classList.remove("busy");
      }
    };
    mineral.addEventListener("change", (ev) => refresh(true, ev));
    year.addEventListener("change", (ev) => refresh(false, ev));
    stage.addEventListener("change", (ev) => refresh(false, ev));
  }

  // -- scenario lab ----------------------------------------------------------------------------
  const lab = document.getElementById("lab-form");
  if (lab) {
    const showRun = async (id, target, title) => {
      const r = await getJSON("/web/lab/" + id + ".json");
      const cols = [["mineral", "Mineral"], ["region", "Region"], ["loss", "Expected loss"], ["loss_se", "± s.e."], ["loss_p95", "p95 loss"]];
      let html = "<h3>" + esc(title || r.name) + " · " + r.runs + " draws · seed " + r.seed + " · from " + esc(r.start) + "</h3>";
      html += '<div class="scroll"><table class="data">' + table(r.table, cols) + "</table></div>";
      target.innerHTML = html;
      r.figures.forEach((f, i) => {
        const d = document.createElement("div");
        d.className = "chart";
        d.id = "lab-" + id + "-" + i;
        target.appendChild(d);
        plot(d, f);
      });
      return r;
    };
    lab.addEventListener("change", (ev) => {
      if (ev.target.name === "events" && ev.target.checked) {
        const starts = [...lab.querySelectorAll("input[name=events]:checked")].map((x) => x.dataset.start).filter(Boolean).sort();
        if (starts.length) lab.elements.start.value = starts[0];
      }
    });
    lab.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const err = document.getElementById("lab-error");
      err.hidden = true;
      const body = {
        name: lab.elements.name.value,
        events: [...lab.querySelectorAll("input[name=events]:checked")].map((x) => x.value),
        start: lab.elements.start.value,
        horizon: Number(lab.elements.horizon.value),
        runs: Number(lab.elements.runs.value),
        seed: Number(lab.elements.seed.value),
      };
      const prog = document.getElementById("lab-progress");
      const bar = document.getElementById("lab-bar");
      const text = document.getElementById("lab-text");
      try {
        const { job } = await getJSON("/web/lab/run", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
        prog.hidden = false;
        const t0 = performance.now();
        for (;;) {
          const s = await getJSON("/web/jobs/" + job);
          if (s.total) { bar.max = s.total; bar.value = s.done; }
          text.textContent = s.done + " / " + (s.total || "?") + " chunks · " + s.seconds + " s";
          if (s.status === "failed") throw new Error(s.error);
          if (s.status === "done") break;
          await new Promise((r) => setTimeout(r, 300));
        }
        const result = document.getElementById("lab-result");
        result.hidden = false;
        document.getElementById("lab-title").textContent = body.name;
        document.getElementById("lab-yaml").href = "/web/lab/" + job + ".yaml";
        document.getElementById("lab-csv").href = "/web/download/lab.csv?job=" + job;
        document.getElementById("lab-xlsx").href = "/web/download/lab.xlsx?job=" + job;
        await showRun(job, document.getElementById("lab-charts"), body.name);
        window.critminLabSeconds = (performance.now() - t0) / 1000;
        ["cmp-a", "cmp-b"].forEach((id) => {
          const sel = document.getElementById(id);
          const o = document.createElement("option");
          o.value = job; o.textContent = body.name + " (" + body.runs + " draws, " + job + ")";
          sel.appendChild(o);
          if (id === "cmp-b") sel.value = job;
        });
      } catch (e) {
        err.textContent = e.message; err.hidden = false;
      }
    });
    document.getElementById("compare").addEventListener("click", async () => {
      const out = document.getElementById("compare-out");
      out.innerHTML = "";
      for (const id of [document.getElementById("cmp-a").value, document.getElementById("cmp-b").value]) {
        if (!id) continue;
        const col = document.createElement("div");
        out.appendChild(col);
        await showRun(id, col);
      }
    });
  }

  // -- operations console ----------------------------------------------------------------------
  const login = document.getElementById("login-form");
  if (login) {
    const KEY = "critmin-token";
    const auth = () => ({ Authorization: "Bearer " + sessionStorage.getItem(KEY) });
    // writes carry an Idempotency-Key (required by the API): one per user action, so a retry
    // of the same action is answered, not repeated
    const newKey = () => "web-" + Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 12);
    const writeHeaders = () => Object.assign({ "Content-Type": "application/json", "Idempotency-Key": newKey() }, auth());
    const fail = (e) => { const el = document.getElementById("console-error"); el.textContent = e.message; el.hidden = false; };
    document.querySelectorAll("form.op").forEach((f) => f.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const body = {};
      f.querySelectorAll("input, select").forEach((i) => {
        const v = i.value.trim();
        if (!v) return;
        body[i.name] = i.dataset.list ? v.split(",").map((x) => x.trim()).filter(Boolean) : v;
      });
      const out = document.getElementById("op-result");
      try {
        const r = await getJSON(f.dataset.endpoint, { method: "POST", headers: writeHeaders(), body: JSON.stringify(body) });
        out.textContent = f.dataset.title + " recorded as event #" + r.event.seq + ".";
        f.reset();
        const me = await getJSON("/web/console/me", { headers: auth() });
        await load(me);
      } catch (e) {
        out.textContent = f.dataset.title + " refused: " + e.message;
      }
    }));
    async function load(me) {
      document.getElementById("operator-forms").hidden = me.role !== "operator";
      document.getElementById("partner-forms").hidden = me.role !== "partner";
      document.getElementById("login").hidden = true;
      document.getElementById("console").hidden = false;
      document.getElementById("who").textContent = me.name;
      document.getElementById("role").textContent = me.role;
      if (!me.can_read) {
        document.getElementById("motions").textContent = "Your role (" + me.role + ") sees its contributions only.";
        // dollars come written by the server (critmin.report.numbers.usd), as for the funds
        const c = await getJSON("/web/console/contributions", { headers: auth() });
        document.getElementById("funds").innerHTML = c.length ? '<div class="scroll"><table class="data">' +
          table(c, [["fund_id", "Contribution"], ["status", "Status"], ["earmark", "Earmark"], ["amount", "Amount"], ["available", "Available"]]) + "</table></div>" : "No contribution yet.";
        document.getElementById("verify").textContent = "-";
        return;
      }
      const [verify, funds, board, holdings, events] = await Promise.all([
        getJSON("/web/console/verify", { headers: auth() }),
        // dollars come written by the server (critmin.report.numbers.usd): no formatter here
        getJSON("/web/console/funds", { headers: auth() }),
        getJSON("/board", { headers: auth() }),
        getJSON("/web/console/holdings", { headers: auth() }),
        getJSON("/events?limit=10000", { headers: auth() }),
      ]);
      document.getElementById("verify").innerHTML = verify.ok
        ? "✔ hash chain and projections verified: " + verify.events + " events"
        : '<span class="error">✘ ' + esc(verify.problems.join("; ")) + "</span>";
      document.getElementById("funds").innerHTML = '<div class="scroll"><table class="data">' +
        table(funds, [["fund_id", "Fund"], ["kind", "Kind"], ["partner", "Partner"], ["status", "Status"], ["amount", "Amount"], ["available", "Available"]]) + "</table></div>";
      const motions = board.motion || [];
      document.getElementById("motions").innerHTML = motions.length ? '<div class="scroll"><table class="data"><thead><tr><th>Motion</th><th>What</th><th>Status</th><th>Votes</th><th>Your vote</th></tr></thead><tbody>' +
        motions.map((m) => {
          const votes = Object.entries(m.votes || {}).map(([k, v]) => k + ": " + v).join(", ");
          const what = m.motion && (m.motion.kind || m.motion.type) || "";
          const can = me.can_vote && m.status === "open";
          const buttons = can ? ["yes", "no", "abstain"].map((v) => '<button type="button" class="vote" data-motion="' + esc(m.motion_id) + '" data-vote="' + v + '">' + v + "</button>").join(" ") : "-";
          return "<tr><td>" + esc(m.motion_id) + "</td><td>" + esc(what) + "</td><td>" + esc(m.status) + "</td><td>" + esc(votes) + "</td><td>" + buttons + "</td></tr>";
        }).join("") + "</tbody></table></div>" : "No motion on record.";
      document.getElementById("holdings").innerHTML = holdings.length ? '<div class="scroll"><table class="data">' + table(holdings, [["lot_id", "Lot"], ["mineral", "Mineral"], ["form", "Form"], ["location", "Location"], ["quantity_t", "Tonnes"], ["cost", "Cost"]]) + "</table></div>" : "Nothing held.";
      const ops = events.filter((e) => ["acquisition", "release", "loan", "loan_returned", "transfer", "write_down", "contribution_proposed", "contract_signed"].includes(e.type));
      document.getElementById("events").innerHTML = ops.length ? '<div class="scroll"><table class="data">' + table(ops.map((e) => ({ seq: e.seq, recorded_at: e.recorded_at.slice(0, 16).replace("T", " "), type: e.type, actor: e.actor, detail: Object.entries(e.payload).map(([k, v]) => k + "=" + (typeof v === "object" ? JSON.stringify(v) : v)).join(", ") })), [["seq", "#"], ["recorded_at", "Recorded"], ["type", "Type"], ["actor", "By"], ["detail", "Details"]]) + "</table></div>" : "No operation yet.";
      document.querySelectorAll("button.vote").forEach((b) => b.addEventListener("click", async () => {
        try {
          await getJSON("/board/motions/" + encodeURIComponent(b.dataset.motion) + "/votes", { method: "POST", headers: writeHeaders(), body: JSON.stringify({ vote: b.dataset.vote }) });
          await load(me);
        } catch (e) { fail(e); }
      }));
    }
    async function start() {
      if (!sessionStorage.getItem(KEY)) return;
      try {
        const me = await getJSON("/web/console/me", { headers: auth() });
        await load(me);
      } catch (e) {
        sessionStorage.removeItem(KEY);
        document.getElementById("login").hidden = false;
        document.getElementById("console").hidden = true;
        const el = document.getElementById("login-error"); el.textContent = e.message; el.hidden = false;
      }
    }
    login.addEventListener("submit", (ev) => {
      ev.preventDefault();
      sessionStorage.setItem(KEY, document.getElementById("token").value.trim());
      start();
    });
    document.getElementById("logout").addEventListener("click", () => { sessionStorage.removeItem(KEY); window.location.reload(); });
    start();
  }
})();
