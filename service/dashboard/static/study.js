// The study page: loads each panel, then follows the study live by polling
// /changes?seq=&epoch= (trials stamped and epochs stored since the page's last look).
import { $, every, getJSON, pageData, showTimes, swapPartial } from "./common.js";
import * as plots from "./study-plots.js";
import { TrialTable, renderWorkers } from "./study-table.js";

const POLL_SECONDS = 1;
const SLOW_REFRESH_MS = 10000; // parameter plots, importance, timeline, workers

const page = pageData();
const name = encodeURIComponent(page.name);
const base = `/dashboard/api/studies/${name}`;
const live = { seq: page.seq, epoch: page.epoch, history: null, curves: null, slowAt: 0 };
const table = new TrialTable(base, page.name, page.labels, page.direction);

async function loadHistory() {
  live.history = await getJSON(`${base}/history`);
  window.parzenHistoryData = performance.now(); // the benchmark reports it
  return drawHistory();
}

function drawHistory() {
  const { complete, pruned } = live.history.series;
  const drawn = complete.number.length + pruned.number.length;
  const total = complete.total + pruned.total;
  $("#history-note").textContent = drawn < total
    ? `${total.toLocaleString()} trials, ${drawn.toLocaleString()} points drawn (extremes of each run kept)`
    : `${total.toLocaleString()} finished trial${total === 1 ? "" : "s"}`;
  return plots.history($("#history"), live.history, page.name);
}

async function loadCurves() {
  live.curves = await getJSON(`${base}/curves`);
  const n = live.curves.curves.length;
  $("#curves-note").textContent = n ? `${n} trials: running, best and latest` : "";
  return plots.curves($("#curves"), live.curves, page.direction, page.name);
}

async function loadParams() {
  const top = $("#top").value;
  const data = await getJSON(`${base}/params?top=${top}`);
  const shown = data.values.length;
  $("#params-note").textContent = data.total
    ? `${shown.toLocaleString()} of ${data.total.toLocaleString()} complete trials${shown < data.chosen ? " (spread evenly over the ranks)" : ""}`
    : "";
  await plots.parallel($("#parallel"), data);
  await plots.slices($("#slices"), data, page.name);
}

async function loadImportance() {
  const data = await getJSON(`${base}/importance`);
  $("#importance-note").textContent = data.labels.length
    ? `${data.method}, fitted on ${data.trials.toLocaleString()} complete trials; a parameter of a branch (choice.*.name) is active only where its branch was taken.` : "";
  return plots.importance($("#importance"), data);
}

const loadTimeline = async () => plots.timeline($("#timeline"), await getJSON(`${base}/timeline`), page.name);
const loadWorkers = async () => {
  renderWorkers($("#workers"), await getJSON(`${base}/workers`), page.name);
  showTimes($("#workers"));
};

function loadSlow() {
  live.slowAt = Date.now();
  return Promise.all([loadParams(), loadImportance(), loadTimeline(), loadWorkers()]);
}

function loadAll() {
  return Promise.all([loadHistory(), table.load(), loadCurves(), loadSlow()]);
}

// Merge changed trials into the history series (a trial number appears once per series).
function mergeHistory(trials) {
  let changed = false;
  for (const trial of trials) {
    const series = live.history.series[trial.state];
    if (!series || trial.value === null || series.number.includes(trial.number)) continue;
    let at = series.number.findIndex((n) => n > trial.number);
    if (at < 0) at = series.number.length;
    series.number.splice(at, 0, trial.number);
    series.value.splice(at, 0, trial.value);
    series.total += 1;
    changed = true;
  }
  return changed;
}

// Merge epochs ([number, state, step, value]) and state changes into the learning curves.
function mergeCurves(trials, epochs) {
  const curves = live.curves.curves;
  const byNumber = new Map(curves.map((c) => [c.number, c]));
  for (const [number, state, step, value] of epochs) {
    let curve = byNumber.get(number);
    if (!curve) {
      curve = { number, state, steps: [], values: [] };
      curves.push(curve);
      byNumber.set(number, curve);
    }
    const at = curve.steps.indexOf(step);
    if (at >= 0) curve.values[at] = value;
    else { curve.steps.push(step); curve.values.push(value); }
  }
  for (const trial of trials) {
    const curve = byNumber.get(trial.number);
    if (curve) curve.state = trial.state;
  }
  return epochs.length > 0 || trials.some((t) => byNumber.has(t.number));
}

async function poll() {
  const data = await getJSON(`${base}/changes?seq=${live.seq}&epoch=${live.epoch}`);
  live.seq = data.seq;
  live.epoch = data.epoch;
  if (data.reset) return loadAll(); // too much changed at once: start over
  const work = [];
  if (data.trials.length) {
    work.push(swapPartial(`/studies/${name}?partial=1`, "#summary"), table.load());
    if (live.history && mergeHistory(data.trials)) work.push(drawHistory());
  }
  if (live.curves && mergeCurves(data.trials, data.epochs)) {
    work.push(plots.curves($("#curves"), live.curves, page.direction, page.name));
  }
  if (data.trials.length && Date.now() - live.slowAt > SLOW_REFRESH_MS) work.push(loadSlow());
  await Promise.all(work);
  showTimes($("#summary"));
}

$("#top").addEventListener("change", () => loadParams());
// "copy as YAML/JSON" of the best parameters (delegated: the summary is swapped live).
$("#summary").addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-copy]");
  if (!button) return;
  const text = $(`#best-${button.dataset.copy}`).value;
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    const area = Object.assign(document.createElement("textarea"), { value: text });
    document.body.append(area);
    area.select();
    document.execCommand("copy");
    area.remove();
  }
  const label = button.textContent;
  button.textContent = "copied";
  setTimeout(() => { button.textContent = label; }, 1500);
});
showTimes();
// The history first: it is what a person looks at, and what the benchmark times.
loadHistory()
  .then(() => Promise.all([table.load(), loadCurves(), loadSlow()]))
  .finally(() => {
    document.body.dataset.loaded = "true";
    every(POLL_SECONDS, poll);
  });
