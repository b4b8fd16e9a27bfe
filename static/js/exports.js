// Polls the status of each running export on the exports page and updates its progress bar;
// reloads the page once every export has finished, so its download link appears. No build step.
(function () {
  "use strict";
  var rows = Array.prototype.slice.call(document.querySelectorAll("[data-export-status]"));
  if (!rows.length) { return; }
  var INTERVAL_MS = 2000;

  function update(row, status) {
    var bar = row.querySelector("progress");
    var text = row.querySelector("[data-export-progress]");
    var state = row.querySelector("[data-export-state]");
    if (bar) { bar.value = status.progress; bar.textContent = status.progress + "%"; }
    if (text) { text.textContent = status.progress + "%"; }
    if (state) { state.textContent = status.state_display; }
    return status.state === "queued" || status.state === "running";
  }

  function poll() {
    Promise.all(rows.map(function (row) {
      return fetch(row.getAttribute("data-export-status"), {credentials: "same-origin", headers: {Accept: "application/json"}})
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (status) { return status ? update(row, status) : true; })
        .catch(function () { return true; });  // a network blip: try again on the next round
    })).then(function (running) {
      if (running.some(Boolean)) { window.setTimeout(poll, INTERVAL_MS); } else { window.location.reload(); }
    });
  }
  window.setTimeout(poll, INTERVAL_MS);
})();
