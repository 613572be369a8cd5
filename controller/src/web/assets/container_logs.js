// The container log page's Follow button (issue 19): server-sent events with the lines that
// come after the newest shown, appended as text (never as HTML), at most 1000 kept.
"use strict";
(function () {
  const start = document.getElementById("follow-start");
  const stop = document.getElementById("follow-stop");
  const status = document.getElementById("follow-status");
  const list = document.getElementById("log-lines");
  if (!start || !stop || !list) return;
  const MAX_LINES = 1000;
  let source = null;

  function setStatus(text) {
    if (status) status.textContent = text;
  }

  function finish(text) {
    if (source) source.close();
    source = null;
    start.hidden = false;
    stop.hidden = true;
    setStatus(text);
  }

  function append(line) {
    const item = document.createElement("li");
    item.dataset.stream = String(line.stream || "");
    if (line.at_ns !== null && line.at_ns !== undefined) {
      item.dataset.at = String(line.at_ns);
      start.dataset.after = String(line.at_ns);
    }
    const time = document.createElement("span");
    time.className = "log-time";
    time.textContent = String(line.time || "");
    const text = document.createElement("span");
    text.className = "log-text";
    text.textContent = String(line.text || "");
    item.append(time, " ", text);
    list.append(item);
    while (list.children.length > MAX_LINES) list.firstElementChild.remove();
    item.scrollIntoView({ block: "nearest" });
  }

  start.addEventListener("click", () => {
    if (source) return;
    const query = start.dataset.after ? "?after=" + encodeURIComponent(start.dataset.after) : "";
    source = new EventSource(start.dataset.follow + query);
    start.hidden = true;
    stop.hidden = false;
    setStatus("Following…");
    source.addEventListener("line", (event) => {
      try {
        append(JSON.parse(event.data));
      } catch (_) {
        // A line that is not JSON is dropped, never shown as markup.
      }
    });
    source.addEventListener("end", (event) => finish(String(event.data || "Stopped.")));
    source.onerror = () => finish("The follow stopped (connection closed or refused).");
  });
  stop.addEventListener("click", () => finish("Stopped."));
})();
