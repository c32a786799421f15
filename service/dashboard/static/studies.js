// The studies page: the table is re-rendered by the server every few seconds; the studies
// picked for comparison are kept here and ticked again after each refresh.
import { $, every, showTimes, swapPartial } from "./common.js";

const picked = new Set();
const button = $("#compare");

function update() {
  for (const box of document.querySelectorAll("#studies input.pick")) box.checked = picked.has(box.value);
  button.disabled = picked.size < 2 || picked.size > 5;
}

$("#studies").addEventListener("change", (event) => {
  const box = event.target.closest("input.pick");
  if (!box) return;
  if (box.checked) picked.add(box.value); else picked.delete(box.value);
  update();
});
button.addEventListener("click", () => {
  location.href = `/compare?${[...picked].map((s) => `study=${encodeURIComponent(s)}`).join("&")}`;
});

showTimes();
every(2, async () => {
  await swapPartial("/?partial=1", "#studies");
  update();
});
