// Ferry console live updates. Server-Sent Events carry HTML the server
// rendered; each event's name is the id of the element it replaces. A log
// stream appends lines to its <pre>. Without this script the pages still
// work: they show what was true when loaded.
(function () {
  "use strict";

  function follow(root) {
    var src = new EventSource(root.getAttribute("data-live"));
    src.onmessage = null;
    ["summary", "pipeline", "operations", "live", "sync", "apps", "deps"].forEach(function (id) {
      src.addEventListener(id, function (ev) {
        var el = document.getElementById(id);
        if (!el) { return; }
        // Keep keyboard focus where it was when the part is redrawn.
        var focused = document.activeElement && el.contains(document.activeElement) ? document.activeElement.id : "";
        el.innerHTML = ev.data;
        if (focused) { var f = document.getElementById(focused); if (f) { f.focus(); } }
      });
    });
    src.addEventListener("end", function () { src.close(); });
  }

  function followLog(pre) {
    var src = new EventSource(pre.getAttribute("data-log"));
    var state = document.getElementById("log-state");
    src.addEventListener("log", function (ev) {
      var b = JSON.parse(ev.data);
      var atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
      var span = document.createElement("span");
      span.className = "l-log_severity_" + b.s.toLowerCase();
      span.textContent = b.t;
      pre.appendChild(span);
      pre.appendChild(document.createTextNode("\n"));
      if (atEnd) { pre.scrollTop = pre.scrollHeight; }
    });
    src.addEventListener("end", function () {
      src.close();
      if (state) { state.textContent = "The stage has finished."; }
    });
    src.addEventListener("failed", function (ev) {
      src.close();
      if (state) { state.textContent = ev.data; }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (!window.EventSource) { return; }
    document.querySelectorAll("[data-live]").forEach(follow);
    document.querySelectorAll("pre[data-log]").forEach(followLog);
  });
})();
