// Ferry console live updates. Server-Sent Events carry HTML the server
// rendered; each event's name is the id of the element it replaces. A log
// stream appends lines to its <pre>. Without this script the pages still
// work: they show what was true when loaded.
(function () {
  "use strict";

  // key names a form control so that its twin in a redrawn part is found:
  // by id, or by its form's action and its name (and value, for a radio).
  function key(c) {
    if (c.id) { return "#" + c.id; }
    if (!c.name) { return ""; }
    var action = c.form ? (c.form.getAttribute("action") || "") : "";
    return action + "|" + c.name + (c.type === "radio" ? "=" + c.value : "");
  }

  // edits returns what the person changed in el's form controls: a redraw
  // must not undo a choice made but not yet sent.
  function edits(el) {
    var out = [];
    el.querySelectorAll("input, select, textarea").forEach(function (c) {
      var k = key(c);
      if (!k || c.type === "hidden") { return; }
      if (c.type === "checkbox" || c.type === "radio") {
        if (c.checked !== c.defaultChecked) { out.push({ k: k, checked: c.checked }); }
      } else if (c.tagName === "SELECT") {
        var changed = Array.prototype.some.call(c.options, function (o) { return o.selected !== o.defaultSelected; });
        if (changed) { out.push({ k: k, value: c.value }); }
      } else if (c.value !== c.defaultValue) {
        out.push({ k: k, value: c.value });
      }
    });
    return out;
  }

  // restore puts saved edits back into el's controls that still exist
  // (a select only when it still offers the value chosen).
  function restore(el, saved) {
    if (!saved.length) { return; }
    var byKey = {};
    saved.forEach(function (e) { byKey[e.k] = e; });
    el.querySelectorAll("input, select, textarea").forEach(function (c) {
      var e = byKey[key(c)];
      if (!e) { return; }
      if ("checked" in e) { c.checked = e.checked; return; }
      if (c.tagName === "SELECT" && !Array.prototype.some.call(c.options, function (o) { return o.value === e.value; })) { return; }
      c.value = e.value;
    });
  }

  function follow(root) {
    var src = new EventSource(root.getAttribute("data-live"));
    src.onmessage = null;
    ["summary", "pipeline", "operations", "live", "sync", "apps", "deps"].forEach(function (id) {
      src.addEventListener(id, function (ev) {
        var el = document.getElementById(id);
        if (!el) { return; }
        // Keep keyboard focus where it was when the part is redrawn.
        var focused = document.activeElement && el.contains(document.activeElement) ? document.activeElement.id : "";
        var saved = edits(el);
        el.innerHTML = ev.data;
        restore(el, saved);
        if (focused) { var f = document.getElementById(focused); if (f) { f.focus(); } }
      });
    });
    src.addEventListener("end", function () { src.close(); });
    src.addEventListener("signedout", signedOut(src));
  }

  // signedOut handles a stream's "signedout": the session ended elsewhere
  // (signed out, revoked), so the page reloads, which leads to sign-in.
  function signedOut(src) {
    return function () { src.close(); window.location.reload(); };
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
    src.addEventListener("signedout", signedOut(src));
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
