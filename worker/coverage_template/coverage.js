"use strict";
// PlexSync coverage page: reads coverage.json next to this page and renders it without any network
// beyond Stash itself. Rows are drawn virtually (only those in view), so 50,000 scenes stay fast.
(function () {
  // Relative URLs resolve against the folder: make sure the address ends with "/".
  if (!/\/$|\.html$/.test(location.pathname)) {
    location.replace(location.pathname + "/" + location.search + location.hash);
    return;
  }
  var COLORS = { out_of_scope: "#8a9ba8", dead_letter: "#ff6b6b", low_confidence: "#f4a261",
    waiting: "#e9c46a", pending: "#9bc1ff", synced: "#5cc98b", changed: "#c58af9", never_matched: "#d3d8de" };
  var ROW = 28;
  var data = null, shown = [], stateKeys = [];
  var el = function (id) { return document.getElementById(id); };
  // Stash's own address: everything before /plugin/ (works behind a reverse-proxy prefix too).
  var path = location.pathname, cut = path.lastIndexOf("/plugin/");
  var stashBase = location.origin + (cut >= 0 ? path.slice(0, cut) : "");

  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }
  function filterFromHash() {
    var m = /(?:^#|&)state=([a-z_]+)/.exec(location.hash);
    return m ? m[1] : "all";
  }

  function renderFilters(active) {
    var counts = {}, drift = 0;
    stateKeys.forEach(function (k) { counts[k] = 0; });
    data.rows.forEach(function (r) { counts[stateKeys[r[3]]]++; if (r[5]) drift++; });
    var html = '<a href="#state=all" data-state="all"' + (active === "all" ? ' class="active"' : "") +
      ">all<b>" + data.rows.length + "</b></a>";
    data.states.forEach(function (s) {
      html += '<a href="#state=' + s[0] + '" data-state="' + s[0] + '" title="' + esc(s[2]) + '"' +
        (active === s[0] ? ' class="active"' : "") + '><span class="swatch" style="background:' +
        COLORS[s[0]] + '"></span>' + esc(s[1]) + "<b>" + counts[s[0]] + "</b></a>";
    });
    html += '<a href="#state=drift" data-state="drift"' + (active === "drift" ? ' class="active"' : "") +
      ' title="Plex shows something other than what PlexSync wrote"><span class="swatch" style="background:#ff7b72">' +
      "</span>drift in Plex<b>" + drift + "</b></a>";
    el("filters").innerHTML = html;
  }

  function renderChart() {
    var studios = data.studios, max = 1, barH = 18, gap = 6, labelW = 220, width = 1000;
    studios.forEach(function (s) { if (s[1] > max) max = s[1]; });
    var svg = '<svg viewBox="0 0 ' + width + " " + (studios.length * (barH + gap) + 4) +
      '" role="img" aria-label="Scenes per studio by state">';
    studios.forEach(function (s, i) {
      var y = i * (barH + gap), x = labelW, scale = (width - labelW - 60) / max;
      svg += '<text x="' + (labelW - 8) + '" y="' + (y + 13) + '" text-anchor="end">' + esc(s[0].slice(0, 32)) + "</text>";
      for (var k = 0; k < stateKeys.length; k++) {
        var n = s[2 + k];
        if (!n) continue;
        var w = n * scale;
        svg += '<rect x="' + x.toFixed(1) + '" y="' + y + '" width="' + Math.max(w, 0.5).toFixed(1) + '" height="' +
          barH + '" fill="' + COLORS[stateKeys[k]] + '"><title>' + esc(s[0]) + ": " + n + " " +
          esc(data.states[k][1]) + "</title></rect>";
        x += w;
      }
      svg += '<text x="' + (x + 6).toFixed(1) + '" y="' + (y + 13) + '">' + s[1] + "</text>";
    });
    el("chart").innerHTML = svg + "</svg>";
    el("legend").innerHTML = data.states.map(function (s) {
      return '<span><span class="swatch" style="background:' + COLORS[s[0]] + '"></span>' + esc(s[1]) + "</span>";
    }).join("");
  }

  function applyFilter() {
    var active = filterFromHash(), q = el("search").value.trim().toLowerCase();
    var want = stateKeys.indexOf(active);
    shown = data.rows.filter(function (r) {
      if (active === "drift" ? !r[5] : (want >= 0 && r[3] !== want)) return false;
      return !q || String(r[0]) === q || r[1].toLowerCase().indexOf(q) >= 0 || r[2].toLowerCase().indexOf(q) >= 0;
    });
    renderFilters(active);
    el("shown").textContent = "Showing " + shown.length + " of " + data.rows.length + " scenes";
    el("spacer").style.height = shown.length * ROW + "px";
    el("viewport").scrollTop = 0;
    renderRows();
  }

  function rowHtml(r) {
    var state = data.states[r[3]], plex = "";
    if (r[4] && data.plex_item_url) {
      plex = '<a class="plex" target="_blank" rel="noopener" href="' +
        esc(data.plex_item_url.replace("{rk}", r[4])) + '">' + r[4] + "</a>";
    } else if (r[4]) {
      plex = String(r[4]);
    }
    var detail = r[5] ? '<span class="drift">drift: ' + esc(r[5]) + "</span>" + (r[6] ? " · " + esc(r[6]) : "")
      : esc(r[6]);
    return '<div class="row" data-scene="' + r[0] + '"><span><a class="stash" target="_blank" rel="noopener" href="' +
      esc(stashBase + "/scenes/" + r[0]) + '">' + r[0] + '</a></span><span title="' + esc(r[1]) + '">' + esc(r[1]) +
      '</span><span title="' + esc(r[2]) + '">' + esc(r[2]) + '</span><span><span class="state" style="background:' +
      COLORS[state[0]] + '" title="' + esc(state[2]) + '">' + esc(state[1]) + "</span></span><span>" + plex +
      '</span><span title="' + esc((r[5] ? "drift: " + r[5] + " " : "") + r[6]) + '">' + detail + "</span></div>";
  }

  function renderRows() {
    var vp = el("viewport"), first = Math.max(0, Math.floor(vp.scrollTop / ROW) - 10);
    var last = Math.min(shown.length, first + Math.ceil(vp.clientHeight / ROW) + 20);
    var html = [];
    for (var i = first; i < last; i++) html.push(rowHtml(shown[i]));
    el("rows").style.top = first * ROW + "px";
    el("rows").innerHTML = html.join("");
  }

  function start(json) {
    data = json;
    stateKeys = data.states.map(function (s) { return s[0]; });
    el("meta").textContent = data.rows.length + " scenes · generated " + data.generated_at +
      (data.drift_checked ? " · " + data.drifted + " drifted in Plex" : "");
    if (data.plex_problem) {
      el("problem").hidden = false;
      el("problem").textContent = "Plex was not read back, so drift is not shown: " + data.plex_problem;
    }
    renderChart();
    applyFilter();
    window.addEventListener("hashchange", applyFilter);
    el("search").addEventListener("input", applyFilter);
    var pending = false;
    el("viewport").addEventListener("scroll", function () {
      if (pending) return;
      pending = true;
      requestAnimationFrame(function () { pending = false; renderRows(); });
    });
  }

  fetch("coverage.json", { cache: "no-store", credentials: "same-origin" })
    .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
    .then(start)
    .catch(function (e) { el("meta").textContent = "Could not load coverage.json (" + e.message + "); run the Coverage report task."; });
})();
