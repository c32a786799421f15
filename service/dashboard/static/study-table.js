// The trial table: sorted, filtered and paginated by the server; rows link to trial pages.
import { $, badge, duration, el, fmt, getJSON } from "./common.js";

const STATES = ["queued", "running", "complete", "pruned", "failed"];
const COLUMNS = [
  { key: "number", title: "#", num: true },
  { key: "state", title: "State" },
  { key: "value", title: "Value", num: true },
  { key: "last_step", title: "Epochs", num: true },
  { key: "attempt", title: "Attempt", num: true, fixed: true },
  { key: "worker_id", title: "Worker", fixed: true },
  { key: "started_at", title: "Started" },
  { key: "duration", title: "Duration", num: true, fixed: true },
];

const TIME = new Intl.DateTimeFormat(undefined, { dateStyle: "short", timeStyle: "medium", hourCycle: "h23" });
const LATEST_FIRST = new Set(["last_step", "started_at", "finished_at"]);

export class TrialTable {
  constructor(base, studyName, labels, direction) {
    this.base = base;
    this.studyName = studyName;
    this.direction = direction;
    this.labels = labels;
    this.query = { order: "number", param: null, desc: true, page: 1, size: 25, states: new Set() };
    this.known = null; // trial numbers on the current page, to highlight the new ones
    this.hidden = new Set(); // parameter columns switched off in the column chooser
    this.last = null;
    this.buildFilter();
    this.buildChooser();
  }

  buildChooser() {
    const box = $("#column-chooser .choices");
    if (!box) return;
    for (const label of this.labels) {
      const input = el("input", { type: "checkbox", value: label, checked: true, "data-column": label });
      input.addEventListener("change", () => {
        if (input.checked) this.hidden.delete(label); else this.hidden.add(label);
        if (this.last) this.render(this.last);
      });
      box.append(el("label", {}, input, label));
    }
  }

  // The table's filter and order, without the page: what the CSV download holds.
  params() {
    const q = this.query;
    const params = new URLSearchParams({ order: q.order, desc: q.desc });
    if (q.param) params.set("param", q.param);
    for (const state of q.states) params.append("state", state);
    return params;
  }

  buildFilter() {
    const box = $("#state-filter");
    for (const state of STATES) {
      const input = el("input", { type: "checkbox", value: state, "data-state": state });
      input.addEventListener("change", () => {
        if (input.checked) this.query.states.add(state); else this.query.states.delete(state);
        this.query.page = 1;
        this.load();
      });
      box.append(el("label", { class: `state-${state}` }, input, state));
    }
  }

  url() {
    const params = this.params();
    params.set("page", this.query.page);
    params.set("size", this.query.size);
    return `${this.base}/trials?${params}`;
  }

  async load() {
    const data = await getJSON(this.url());
    const csv = $("#csv-download");
    if (csv) csv.href = `${this.base}/trials.csv?${this.params()}`;
    this.last = data;
    this.render(data);
  }

  // Parameters sort on the server by the sampler's value, ascending first.
  sortByParam(label) {
    const q = this.query;
    if (q.param === label) q.desc = !q.desc;
    else { q.param = label; q.desc = false; }
    q.page = 1;
    this.load();
  }

  // A first click sorts values best first, times and epochs latest first, others ascending.
  sortBy(key) {
    const q = this.query;
    if (q.param) { q.param = null; q.order = null; }
    if (q.order === key) q.desc = !q.desc;
    else {
      q.order = key;
      q.desc = key === "value" ? this.direction === "maximize" : LATEST_FIRST.has(key);
    }
    q.page = 1;
    this.load();
  }

  render(data) {
    const table = $("#trial-table");
    const labels = data.labels.filter((label) => !this.hidden.has(label));
    const head = el("tr");
    for (const column of COLUMNS) {
      const sortable = !column.fixed;
      const sorted = !this.query.param && this.query.order === column.key;
      const th = el("th", {
        class: [column.num ? "num" : "", sortable ? "sortable" : "",
          sorted ? (this.query.desc ? "sorted-desc" : "sorted-asc") : ""].join(" ").trim(),
        "data-key": column.key,
        title: sortable ? "sort" : null,
      }, column.title);
      if (sortable) th.addEventListener("click", () => this.sortBy(column.key));
      head.append(th);
    }
    for (const label of labels) {
      const sorted = this.query.param === label ? (this.query.desc ? "sorted-desc" : "sorted-asc") : "";
      const th = el("th", { class: `param sortable ${sorted}`.trim(), "data-param": label, title: "sort" }, label);
      th.addEventListener("click", () => this.sortByParam(label));
      head.append(th);
    }
    table.tHead.replaceChildren(head);

    const numbers = new Set(data.rows.map((r) => r.number));
    const body = data.rows.map((row) => this.row(row, labels, this.known && !this.known.has(row.number)));
    if (!body.length) {
      body.push(el("tr", {}, el("td", { colspan: COLUMNS.length + labels.length, class: "empty" },
        "No trial matches these filters.")));
    }
    table.tBodies[0].replaceChildren(...body);
    this.known = numbers;
    this.renderPager(data);
  }

  row(row, labels, fresh) {
    const link = el("a", { href: `/studies/${encodeURIComponent(this.studyName)}/trials/${row.number}` }, String(row.number));
    const cells = [
      el("td", { class: "num" }, link),
      el("td", {}, badge(row.state), row.pruned_reason
        ? el("span", { class: "pruned-reason small muted", title: row.pruned_reason }, row.pruned_reason) : null),
      el("td", { class: "num" }, fmt(row.value)),
      el("td", { class: "num" }, row.last_step === null ? "—" : String(row.last_step)),
      el("td", { class: "num" }, String(row.attempt)),
      el("td", { class: "mono", title: row.worker_id ?? "" }, row.worker_id ? row.worker_id.slice(0, 8) : "—"),
      el("td", { title: row.started_at ?? "" }, row.started_at ? TIME.format(new Date(row.started_at)) : "—"),
      el("td", { class: "num" }, duration(row.duration)),
      ...labels.map((label) => el("td", { class: typeof row.params[label] === "number" ? "num" : null },
        label in row.params ? fmt(row.params[label]) : "")),
    ];
    return el("tr", { class: fresh ? "fresh" : null, "data-number": row.number, "data-state": row.state }, ...cells);
  }

  renderPager(data) {
    const pager = $("#pager");
    const previous = el("button", { type: "button", disabled: data.page <= 1 }, "‹ Previous");
    const next = el("button", { type: "button", disabled: data.page >= data.pages }, "Next ›");
    previous.addEventListener("click", () => { this.query.page -= 1; this.load(); });
    next.addEventListener("click", () => { this.query.page += 1; this.load(); });
    const text = el("span", { class: "muted", id: "page-info" },
      `page ${data.page} of ${data.pages} · ${data.total.toLocaleString()} trial${data.total === 1 ? "" : "s"}`);
    pager.replaceChildren(text, previous, next);
  }
}

const WORKER_COLORS = { busy: "running", idle: "complete", lost: "failed", stopped: "queued" };

export function renderWorkers(box, data, studyName) {
  if (!data.workers.length) {
    box.replaceChildren(el("p", { class: "empty" }, "No worker has run a trial of this study yet. Start one with: parzen worker"));
    return;
  }
  const head = el("tr", {}, ...["Worker", "Host", "GPU", "State", "Trial", "Done", "Failed", "Last seen"]
    .map((t, i) => el("th", { class: i >= 5 && i <= 6 ? "num" : null }, t)));
  const rows = data.workers.map((w) => {
    let trial = "—";
    if (w.current_number !== null) {
      trial = el("a", { href: `/studies/${encodeURIComponent(studyName)}/trials/${w.current_number}` }, `trial ${w.current_number}`);
    } else if (w.current_trial_id !== null) {
      trial = el("a", { href: `/trials/${w.current_trial_id}` }, "another study");
    }
    return el("tr", {},
      el("td", { class: "mono", title: w.id }, w.id.slice(0, 12)),
      el("td", {}, w.pid ? `${w.host} (pid ${w.pid})` : w.host),
      el("td", {}, w.gpu ?? "CPU"),
      el("td", {}, el("span", { class: `badge state-${WORKER_COLORS[w.state] ?? "queued"}` }, w.state)),
      el("td", {}, trial),
      el("td", { class: "num" }, String(w.trials_done)),
      el("td", { class: "num" }, String(w.trials_failed)),
      el("td", {}, el("time", { datetime: w.last_seen_at }, w.last_seen_at)));
  });
  box.replaceChildren(el("table", { class: "table" }, el("thead", {}, head), el("tbody", {}, ...rows)));
}
