// The studies page: the table is re-rendered by the server every few seconds.
import { every, showTimes, swapPartial } from "./common.js";

showTimes();
every(2, () => swapPartial("/?partial=1", "#studies"));
