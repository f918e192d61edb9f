/* Tango console: live sections and live hint checking, no libraries.
 *
 * Every element with data-poll="<url>" is refreshed from that console JSON endpoint 2 s after
 * its previous answer (a slow answer, e.g. a busy GPU runtime's /metrics, never piles up
 * requests); the endpoint answers {"data": ..., "fragments": {"<element id>": "<html>"}},
 * rendered by the server with the same templates as the page. Polling pauses while the tab is
 * hidden. The hint editor asks the server to check the text as you type. */
(function () {
  "use strict";
  var PERIOD_MS = 2000;

  function setState(text, bad) {
    var el = document.getElementById("live-state");
    if (el) { el.textContent = text; el.className = bad ? "error" : "muted"; }
  }

  function poll(url) {
    if (document.hidden) return Promise.resolve();
    return fetch(url, {headers: {"Accept": "application/json"}, credentials: "same-origin"})
      .then(function (r) {
        return r.json().then(function (body) { return {ok: r.ok, status: r.status, body: body}; });
      })
      .then(function (res) {
        if (!res.ok) {
          setState("Live update failed: " + (res.body.error || ("HTTP " + res.status)), true);
          if (res.status === 401) window.location.reload();
          return;
        }
        var frags = res.body.fragments || {};
        Object.keys(frags).forEach(function (id) {
          var el = document.getElementById(id);
          if (el && el.innerHTML !== frags[id]) el.innerHTML = frags[id];
        });
        setState("live · updated " + new Date().toLocaleTimeString(), false);
      })
      .catch(function (e) { setState("Live update failed: " + e, true); });
  }

  function checkHints(form) {
    var text = form.querySelector("textarea").value;
    var csrf = form.querySelector("input[name=csrf]").value;
    var out = document.getElementById("check-state");
    fetch(form.dataset.check, {method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf},
      body: JSON.stringify({hints: text})})
      .then(function (r) { return r.json(); })
      .then(function (body) {
        if (body.error) { out.textContent = body.error; out.className = "error"; return; }
        var errs = (body.diagnostics || []).filter(function (d) { return d.severity === "error"; });
        out.className = errs.length ? "error" : "ok-text";
        out.textContent = errs.length
          ? errs.map(function (d) { return "line " + d.line + ", column " + d.column + ": " + d.message; }).join(" · ")
          : "no errors";
      });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-poll]").forEach(function (el) {
      var url = el.dataset.poll;
      var again = function () { setTimeout(function () { poll(url).then(again, again); }, PERIOD_MS); };
      again();
    });
    var form = document.getElementById("hints-form");
    if (form) {
      var timer = null;
      form.querySelector("textarea").addEventListener("input", function () {
        clearTimeout(timer);
        timer = setTimeout(function () { checkHints(form); }, 400);
      });
    }
  });
})();
