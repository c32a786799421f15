// Shared by the dashboard's pages: fetching, formatting, and drawing with Plotly.

export const STATE_COLORS = {
  queued: "#8795a1", running: "#2563eb", complete: "#15803d", pruned: "#d97706",
  failed: "#dc2626", expired: "#7f1d1d", released: "#a8a29e", superseded: "#a8a29e",
};

export const $ = (selector, root = document) => root.querySelector(selector);

export function pageData() {
  return JSON.parse($("#page-data").textContent);
}

// JSON from the dashboard's data endpoints; a refused token sends the browser to sign in.
export async function getJSON(url) {
  const response = await fetch(url, { headers: { Accept: "application/json" } });
  if (response.status === 401) {
    const next = encodeURIComponent(location.pathname + location.search);
    location.assign(`/login?next=${next}&refused=1`);
    throw new Error("signed out");
  }
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.json();
}

// Replace the element matching `selector` with the same one from a page's partial render.
export async function swapPartial(url, selector) {
  const response = await fetch(url);
  if (!response.ok) return false;
  const html = await response.text();
  const target = $(selector);
  if (target.innerHTML !== html) target.innerHTML = html;
  showTimes(target);
  return true;
}

// 4 significant digits; scientific notation where fixed notation hides them.
export function fmt(value) {
  if (value === null || value === undefined) return "—";
  if (typeof value !== "number" || !Number.isFinite(value)) return String(value);
  const size = Math.abs(value);
  if (Number.isInteger(value) && size < 1e5) return String(value);
  if (size !== 0 && (size < 1e-3 || size >= 1e5)) return value.toExponential(3).replace(/\.?0+e/, "e");
  return String(Number(value.toPrecision(4)));
}

// d3 format of plot hovers and ticks matching fmt: 4 significant digits, no trailing zeros.
export const NUMBER = ".4~g";

// Clicking a point of `div` opens its trial: `numberOf(point)` is its trial number.
export function openTrialOnClick(div, studyName, numberOf) {
  div.removeAllListeners?.("plotly_click");
  div.on?.("plotly_click", (event) => {
    const number = event.points?.length ? numberOf(event.points[0]) : null;
    if (number !== null && number !== undefined) {
      location.href = `/studies/${encodeURIComponent(studyName)}/trials/${number}`;
    }
  });
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} min`;
}

export function ago(iso) {
  if (!iso) return "—";
  const seconds = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  if (seconds < 5) return "just now";
  if (seconds < 60) return `${Math.round(seconds)} s ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.round(seconds / 3600)} h ago`;
  return new Date(iso).toLocaleDateString();
}

// <time datetime="..."> shows "3 min ago", with the local date and time on hover.
export function showTimes(root = document) {
  for (const time of root.querySelectorAll("time[datetime]")) {
    if (!time.dateTime) continue;
    time.textContent = ago(time.dateTime);
    time.title = new Date(time.dateTime).toLocaleString();
  }
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

export function badge(state) {
  return el("span", { class: `badge state-${state}` }, state);
}

// Run `task` now and every `seconds`, never two at once; errors are logged and retried.
export function every(seconds, task) {
  const tick = async () => {
    try {
      await task();
    } catch (error) {
      console.warn("refresh failed, retrying:", error.message);
    }
    setTimeout(tick, seconds * 1000);
  };
  setTimeout(tick, seconds * 1000);
}

const LAYOUT = {
  margin: { l: 60, r: 20, t: 10, b: 46 },
  font: { family: "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", size: 12, color: "#1f2933" },
  paper_bgcolor: "#fff",
  plot_bgcolor: "#fff",
  hovermode: "closest",
  xaxis: { gridcolor: "#eef0f3", zeroline: false },
  yaxis: { gridcolor: "#eef0f3", zeroline: false },
  legend: { orientation: "h", y: 1.02, yanchor: "bottom", x: 0 },
};
const CONFIG = { responsive: true, displaylogo: false, modeBarButtonsToRemove: ["lasso2d", "select2d"] };

// Plotly.js is a deferred script placed after the page's module, so that the page asks for
// its data while the browser still compiles Plotly (a second or more on a slow machine).
let plotlyReady = null;

function plotly() {
  plotlyReady ??= new Promise((resolve) => {
    const ready = () => {
      window.parzenPlotlyReady ??= performance.now(); // the benchmark reports it
      resolve();
    };
    if (window.Plotly) ready();
    else $("#plotly").addEventListener("load", ready, { once: true });
  });
  return plotlyReady;
}

// Draw (or redraw in place) a plot; marks the div and the page's first drawn plot.
export async function draw(div, traces, layout = {}) {
  await plotly();
  if (div.dataset.rendered === "empty") div.replaceChildren();
  const merged = { ...LAYOUT, ...layout };
  for (const axis of ["xaxis", "yaxis"]) merged[axis] = { ...LAYOUT[axis], ...layout[axis] };
  await Plotly.react(div, traces, merged, CONFIG);
  div.dataset.rendered = "plot";
  if (window.parzenFirstPlot === undefined) window.parzenFirstPlot = performance.now();
}

export function empty(div, message) {
  if (div.dataset.rendered === "plot" && window.Plotly) Plotly.purge(div);
  div.replaceChildren(el("p", { class: "empty" }, message));
  div.dataset.rendered = "empty";
}
