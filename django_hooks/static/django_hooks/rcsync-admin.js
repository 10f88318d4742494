/* rcsync admin task UI: live progress by polling small JSON endpoints (no page reload). */
(function () {
  "use strict";
  var INTERVAL = 700;

  /* Django's JavaScript catalog (admin:django_hooks_jsi18n, a deferred script before this one) defines
     window.gettext/ngettext; each string is looked up when it is shown. Without the catalog (a page that
     did not load it) the English source shows. */
  function gettext(msgid) { return window.gettext ? window.gettext(msgid) : msgid; }
  function ngettext(singular, plural, count) {
    return window.ngettext ? window.ngettext(singular, plural, count) : (count === 1 ? singular : plural);
  }
  function interpolate(fmt, obj) {
    return fmt.replace(/%\(\w+\)s/g, function (m) { return String(obj[m.slice(2, -2)]); });
  }

  function setBar(bar, run) {
    if (!bar || !run) return;
    var fill = bar.querySelector(".rcsync-progress-fill");
    var text = bar.querySelector(".rcsync-progress-text");
    if (fill) fill.style.width = run.percent + "%";
    if (text) text.textContent = run.percent + "% · " + run.done + "/" + run.total;
    bar.setAttribute("data-percent", String(run.percent));
    bar.setAttribute("data-finished", run.finished ? "1" : "0");
    bar.classList.toggle("rcsync-live", !run.finished);
  }

  function badge(status, label) {
    var span = document.createElement("span");
    span.className = "rcsync-badge rcsync-" + status;
    span.textContent = label;
    return span;
  }

  function cell(text) { var td = document.createElement("td"); td.textContent = text == null ? "" : text; return td; }

  function getJSON(url, ok, done) {
    var xhr = new XMLHttpRequest();
    xhr.open("GET", url);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.onload = function () { if (xhr.status === 200) { ok(JSON.parse(xhr.responseText)); } done(xhr.status); };
    xhr.onerror = function () { done(0); };
    xhr.send();
  }

  /* Runs changelist: every unfinished progress bar, one request for all of them. */
  function watchRunList(box) {
    var base = box.getAttribute("data-progress-url");
    var latest = box.getAttribute("data-latest") || "0";
    var banner = document.getElementById("rcsync-newer");
    function tick() {
      var live = box.querySelectorAll(".rcsync-progress[data-finished='0']");
      var ids = Array.prototype.map.call(live, function (b) { return b.getAttribute("data-run"); });
      getJSON(base + "?ids=" + ids.join(",") + "&newer_than=" + latest, function (data) {
        if (banner && data.newer) {
          banner.hidden = false;
          banner.querySelector("span").textContent = interpolate(ngettext(
            "%(count)s new run has started since this page was drawn.",
            "%(count)s new runs have started since this page was drawn.", data.newer), {count: data.newer});
          banner.querySelector("a").href = window.location.href;
        }
        data.runs.forEach(function (run) {
          setBar(box.querySelector(".rcsync-progress[data-run='" + run.id + "']"), run);
          var st = box.querySelector(".rcsync-run-status[data-run='" + run.id + "']");
          if (st) { st.innerHTML = ""; st.appendChild(badge(run.status, run.status_label)); }
          var du = box.querySelector(".rcsync-duration[data-run='" + run.id + "']");
          if (du) du.textContent = run.duration_text;  /* said by the server in the page's language */
        });
      }, function () { setTimeout(tick, live.length ? INTERVAL : 3 * INTERVAL); });
    }
    tick();
  }

  /* A run page or an applied preview: progress plus the operations as they are applied. */
  function watchRun(box) {
    var url = box.getAttribute("data-url");
    var lastOp = 0, finishedSeen = false;
    var tbody = box.querySelector("#rcsync-ops");
    var empty = box.querySelector("#rcsync-ops-empty");
    function tick() {
      var more = false;
      getJSON(url + "?after=" + lastOp, function (data) {
        var stateEl = box.querySelector("#rcsync-apply-state");
        if (data.state === "queued") { if (stateEl) stateEl.textContent = data.message || gettext("Waiting for a worker…"); return; }
        var run = data.run;
        if (!run) return;
        var bar = box.querySelector(".rcsync-progress");
        if (bar) { bar.setAttribute("data-run", String(run.id)); setBar(bar, run); }
        if (stateEl) {
          stateEl.innerHTML = "";
          stateEl.appendChild(document.createTextNode(gettext("Run") + " "));
          var a = document.createElement("a"); a.href = data.run_url; a.textContent = "#" + run.id; stateEl.appendChild(a);
          stateEl.appendChild(document.createTextNode(": "));
          stateEl.appendChild(badge(run.status, run.status_label));
        } else {
          var st = document.getElementById("rcsync-status");
          if (st) { st.innerHTML = ""; st.appendChild(badge(run.status, run.status_label)); }
        }
        (data.operations || []).forEach(function (op) {
          var tr = document.createElement("tr");
          tr.setAttribute("data-op", op.id);
          /* at_text: the site's time zone and the page's locale format, as in the server-drawn rows */
          tr.appendChild(cell(op.at_text));
          tr.appendChild(cell(op.person));
          tr.appendChild(cell(op.operation));
          tr.appendChild(cell(op.target));
          var td = document.createElement("td"); td.appendChild(badge(op.outcome, op.outcome_label)); tr.appendChild(td);
          tr.appendChild(cell(op.error));
          if (tbody) tbody.appendChild(tr);
          lastOp = Math.max(lastOp, op.id);
        });
        if (empty) empty.textContent = tbody && tbody.children.length ? "" : (run.finished ? gettext("No operations were applied.") : gettext("No operations applied yet."));
        more = (data.operations || []).length >= 200;
        if (run.finished) { finishedSeen = true; box.setAttribute("data-finished", "1"); }
      }, function () { if (!finishedSeen || more) setTimeout(tick, more ? 0 : INTERVAL); });
    }
    tick();
  }

  document.addEventListener("DOMContentLoaded", function () {
    var list = document.getElementById("rcsync-runs");
    if (list) watchRunList(list);
    var live = document.getElementById("rcsync-live");
    if (live) watchRun(live);
  });
})();
