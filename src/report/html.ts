// The HTML report: one self-contained page (styles and script inline, nothing from the network)
// with the summary, the file × spec × profile matrix with filters, and for each run that diverged
// or errored the expectation, expected and actual, the steps before it and a picture of every
// table at that point. The page is drawn from the JSON report embedded in it, so its counts are
// the JSON report's; everything that comes from a spec file is set as text, never as markup.
import type { Report } from "../run/runner.js";
import { jsonReport } from "./json.js";
import { VERSION } from "../version.js";

/** JSON that can sit inside a <script> element: no '<' (so no '</script>'), no line separators. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, "\\u003c")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

export function formatHtml(report: Report): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<title>tcespec report</title>
<style>${STYLE}</style>
</head>
<body>
<header><h1>tcespec report</h1><p class="tool">tcespec ${VERSION}</p><ul id="judged" aria-label="judged by"></ul></header>
<section id="summary" aria-label="summary"></section>
<section id="errors" aria-label="spec errors"></section>
<section id="disagreements" aria-label="disagreements with the model"></section>
<section id="filters" aria-label="filters"></section>
<section id="matrix" aria-label="matrix"></section>
<section id="details" aria-label="divergences and errors"></section>
<script type="application/json" id="report-data">${scriptJson(jsonReport(report))}</script>
<script>${CLIENT}</script>
</body>
</html>
`;
}

const STYLE = `
:root { --pass: #1a7f37; --fail: #cf222e; --error: #9a6700; --skip: #6e7781; --bg: #f6f8fa; --line: #d0d7de; }
body { font: 14px/1.45 system-ui, sans-serif; margin: 0 2rem 3rem; color: #1f2328; }
header { display: flex; align-items: baseline; gap: 1rem; } h1 { font-size: 1.5rem; } .tool { color: var(--skip); }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12.5px; }
#summary { display: flex; flex-wrap: wrap; gap: .5rem; margin-bottom: 1rem; }
.count { border: 1px solid var(--line); border-radius: 6px; padding: .3rem .7rem; background: var(--bg); }
.count b { font-size: 1.1rem; margin-right: .3rem; }
.count.passed b { color: var(--pass); } .count.diverged b, .count.disagreements b { color: var(--fail); }
.count.errors b { color: var(--error); } .count.unsupported b { color: var(--skip); }
#filters { display: flex; flex-wrap: wrap; gap: 1.5rem; margin: .5rem 0 1rem; padding: .6rem .8rem; background: var(--bg); border-radius: 6px; }
#filters fieldset { border: 0; padding: 0; margin: 0; } #filters legend { font-weight: 600; padding: 0; }
#filters label { margin-right: .7rem; white-space: nowrap; }
table { border-collapse: collapse; } th, td { border: 1px solid var(--line); padding: .25rem .5rem; vertical-align: top; text-align: left; }
#matrix th { background: var(--bg); position: sticky; top: 0; }
.file-row td { background: var(--bg); font-weight: 600; }
.badge { display: inline-block; border-radius: 4px; padding: 0 .35rem; margin: 1px; font-size: 12px; color: #fff; text-decoration: none; }
.badge.passed { background: var(--pass); } .badge.diverged, .badge.crashed, .badge.xpass { background: var(--fail); }
.badge.xfail { background: var(--error); }
.count.crashed b { color: var(--fail); } .crash .trace { margin: 4px 0 0; font-size: 12px; }
.badge.error { background: var(--error); } .badge.unsupported { background: var(--skip); }
.card { border: 1px solid var(--line); border-left: 4px solid var(--fail); border-radius: 6px; padding: .6rem .9rem; margin: 1rem 0; }
.card.error { border-left-color: var(--error); }
.card h3 { margin: 0 0 .3rem; font-size: 1rem; } .where { color: var(--skip); }
.expectation { margin: .6rem 0 .2rem; } .source { background: var(--bg); padding: .2rem .4rem; border-radius: 4px; }
.values td:first-child { color: var(--skip); } .expected { color: var(--pass); } .actual { color: var(--fail); }
details { margin: .3rem 0; } summary { cursor: pointer; color: var(--skip); }
.tables { display: flex; flex-wrap: wrap; gap: 1rem; margin-top: .4rem; }
.table-state caption { text-align: left; font-weight: 600; padding-bottom: .2rem; white-space: nowrap; }
.placement { border-radius: 4px; padding: 0 .3rem; font-size: 12px; } .placement.kvm { background: #ddf4ff; } .placement.userspace { background: #fff8c5; }
tr.differs td { background: #ffebe9; font-weight: 600; }
.side { margin-top: .4rem; color: var(--skip); }
.hidden { display: none !important; }
/* A big report lays out only what is on screen: cards are skipped until scrolled to, and the
   matrix's columns are fixed rather than measured over every row. */
.card { content-visibility: auto; contain-intrinsic-size: auto 360px; }
#matrix-table { table-layout: fixed; width: 100%; } #matrix-table th:first-child { width: 40%; }
`;

// The page's script: plain JavaScript for any browser, kept as text. It reads the embedded JSON
// and builds the page with DOM calls only (textContent, never innerHTML).
const CLIENT = String.raw`
"use strict";
(function () {
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var runs = data.runs;
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) for (var k in attrs) {
      if (k === "text") node.textContent = attrs[k];
      else if (k === "class") node.className = attrs[k];
      else node.setAttribute(k, attrs[k]);
    }
    (children || []).forEach(function (c) { if (c) node.appendChild(typeof c === "string" ? document.createTextNode(c) : c); });
    return node;
  }
  function unique(list) { var seen = new Set(); var out = []; list.forEach(function (x) { if (!seen.has(x)) { seen.add(x); out.push(x); } }); return out; }
  // Runs grouped once by file, then spec (in report order): no scan of every run per row or card.
  var byFile = new Map();
  runs.forEach(function (r) {
    var specs = byFile.get(r.file);
    if (!specs) byFile.set(r.file, specs = new Map());
    var list = specs.get(r.spec);
    if (!list) specs.set(r.spec, list = []);
    list.push(r);
  });

  // Which real software judged, as it reports itself.
  var judged = document.getElementById("judged");
  (data.backends || []).forEach(function (b) {
    if (!b.real || !(b.qemu || b.kernel)) return;
    judged.appendChild(el("li", { class: "mono", text: "judged by " + b.name + ": " + (b.qemu || "QEMU of unknown version") + (b.kernel ? " on Linux " + b.kernel : "") + (b.host ? " on the " + b.host + " host" : "") + (b.build ? ", " + b.build : "") + (b.where ? " (" + b.where + ")" : "") }));
  });

  // Summary: the JSON report's own counts.
  var s = data.summary;
  var summary = document.getElementById("summary");
  [["files", s.files], ["specs", s.specs], ["runs", s.runs], ["passed", s.passed], ["diverged", s.diverged]]
   .concat(s.crashed !== undefined ? [["crashed", s.crashed]] : []).concat([
   ["errors", s.errors], ["unsupported", s.unsupported || 0]]).concat(s.disagreements !== undefined ? [["disagreements", s.disagreements]] : [])
    .forEach(function (pair) {
      summary.appendChild(el("span", { class: "count " + pair[0], "data-count": pair[0] }, [el("b", { text: String(pair[1]) }), pair[0]]));
    });

  // Spec errors, each with its position.
  var errors = document.getElementById("errors");
  if (data.errors.length > 0) {
    errors.appendChild(el("h2", { text: "Spec errors" }));
    var list = el("ul");
    data.errors.forEach(function (e) { list.appendChild(el("li", { class: "mono", text: e.file + ":" + e.line + ":" + e.column + ": " + e.message })); });
    errors.appendChild(list);
  }

  // Where a real backend saw another value than the model: each fails the run (exit status 1).
  var disagreements = document.getElementById("disagreements");
  if (data.disagreements && data.disagreements.length > 0) {
    disagreements.appendChild(el("h2", { text: "Disagreements with the model" }));
    var dlist = el("ul");
    data.disagreements.forEach(function (d) {
      dlist.appendChild(el("li", { class: "mono disagreement", "data-backend": d.backend },
        [d.file + ":" + d.line + ":" + d.column + " " + (d.source || "") + " [" + d.profile + "]: model " + d.model + ", " + d.backend + " " + d.actual]));
    });
    disagreements.appendChild(dlist);
  }

  // Filters: status, profile, tag, backend. A run shows when it passes every filter.
  // xfail (passed, with an expectation known to fail) and xpass (diverged only by an xfail that
  // matched) are statuses of their own here, as pretty's ✓x and the summary's xpassed say.
  var STATUSES = ["passed", "xfail", "diverged", "xpass", "crashed", "error", "unsupported"];
  function kind(r) {
    var has = function (o) { return r.expectations.some(function (e) { return e.outcome === o; }); };
    if (r.status === "passed" && has("xfail")) return "xfail";
    if (r.status === "diverged" && has("xpass") && !has("diverged")) return "xpass";
    return r.status;
  }
  var profiles = unique(runs.map(function (r) { return r.profile; }));
  var backends = unique(runs.map(function (r) { return r.backend; }));
  var tags = unique([].concat.apply([], runs.map(function (r) { return r.tags; }))).sort();
  var chosen = { status: {}, profile: {}, backend: {}, tag: {} };
  var filters = document.getElementById("filters");
  function group(name, values, initial) {
    var set = el("fieldset", { "data-filter": name }, [el("legend", { text: name })]);
    values.forEach(function (v) {
      chosen[name][v] = initial;
      var box = el("input", { type: "checkbox", value: v, "data-filter-value": name + ":" + v });
      box.checked = initial;
      box.addEventListener("change", function () { chosen[name][v] = box.checked; apply(); });
      set.appendChild(el("label", null, [box, " " + v]));
    });
    filters.appendChild(set);
  }
  group("status", STATUSES, true);
  group("profile", profiles, true);
  group("backend", backends, true);
  // Tags narrow: none ticked means every spec, ticked ones keep specs with one of them.
  if (tags.length > 0) group("tag", tags, false);
  var wanted = [];
  function shown(run) {
    if (!chosen.status[kind(run)] || !chosen.profile[run.profile] || !chosen.backend[run.backend]) return false;
    return wanted.length === 0 || run.tags.some(function (t) { return wanted.indexOf(t) >= 0; });
  }

  // The matrix: a row per spec under its file, a column per profile, a badge per backend's run.
  var matrix = document.getElementById("matrix");
  var table = el("table", { id: "matrix-table" });
  var head = el("tr", null, [el("th", { text: "spec" })]);
  profiles.forEach(function (p) { head.appendChild(el("th", { text: p })); });
  table.appendChild(el("thead", null, [head]));
  var body = el("tbody");
  var badges = [];
  var rows = [];
  var id = 0;
  runs.forEach(function (r) { r.id = "run-" + (id++); });
  byFile.forEach(function (specs, file) {
    var fileRow = el("tr", { class: "file-row" }, [el("td", { colspan: String(profiles.length + 1), class: "mono", text: file })]);
    body.appendChild(fileRow);
    var specRows = [];
    specs.forEach(function (own, spec) {
      var row = el("tr", { class: "spec-row" }, [el("td", { text: spec })]);
      profiles.forEach(function (p) {
        var cell = el("td");
        own.filter(function (r) { return r.profile === p; }).forEach(function (r) {
          var k = kind(r);
          var mark = { passed: "✓", xfail: "✓x", diverged: "✗", xpass: "✗x", crashed: "☠", error: "!", unsupported: "?" }[k];
          var badge = el(r.status === "diverged" || r.status === "error" || r.status === "crashed" ? "a" : "span",
            { class: "badge " + k, "data-status": k, title: r.backend + ": " + k + (r.reason ? " (" + r.reason + ")" : ""), text: mark + (backends.length > 1 ? " " + r.backend : "") });
          if (badge.tagName === "A") badge.setAttribute("href", "#" + r.id);
          badge.run = r;
          badges.push(badge);
          cell.appendChild(badge);
        });
        row.appendChild(cell);
      });
      row.runs = own;
      specRows.push(row);
      rows.push(row);
      body.appendChild(row);
    });
    fileRow.specRows = specRows;
    rows.push(fileRow);
  });
  table.appendChild(body);
  matrix.appendChild(el("h2", { text: "Matrix" }));
  matrix.appendChild(table);

  // Details: every run that diverged or errored, with the state of its tables.
  var details = document.getElementById("details");
  var cards = [];
  var firstShown = {};
  var failing = runs.filter(function (r) { return r.status === "diverged" || r.status === "error" || r.status === "crashed"; });
  if (failing.length > 0) details.appendChild(el("h2", { text: "Divergences, crashes and errors" }));
  failing.forEach(function (r) {
    var card = el("article", { class: "card " + r.status, id: r.id, "data-status": r.status }, [
      el("h3", null, [r.spec + " ", el("span", { class: "where", text: "under " + r.profile + " on " + r.backend })]),
      el("div", { class: "mono where", text: r.file })
    ]);
    if (r.reason) card.appendChild(el("p", { class: "reason", text: r.reason }));
    // Real software that crashed: the report, where it faulted, and the call trace.
    if (r.crash) {
      var c = r.crash;
      card.appendChild(el("div", { class: "crash" }, [
        el("div", { class: "mono where", text: r.file + (c.line !== undefined ? ":" + c.line + ":" + c.column + " " + (c.source || "") : "") }),
        el("div", { class: "mono", text: (c.warning ? "warned: " : "") + c.report + (c.function ? " in " + c.function : "") }),
        el("pre", { class: "mono trace", text: (c.trace || []).join("\n") + (c.also ? "\nthen: " + c.also.join("\nthen: ") : "") })
      ]));
    }
    // A mistake said once: a divergence the same as one already shown (same place, expected and
    // actual) points at it; in a run, the first divergence is shown whole and the ones after it
    // (which usually follow from it) in a line each, whole on demand.
    var diverged = r.expectations.filter(function (e) { return e.outcome === "diverged" || e.outcome === "xpass"; });
    if (diverged.length > 0) {
      var first = diverged[0];
      var key = [r.file, r.spec, first.line, first.column, first.outcome, first.op, first.expected, first.actual].join("\u0000");
      var shownAt = firstShown[key];
      if (shownAt && !r.crash) {
        card.classList.add("same");
        card.appendChild(el("p", { class: "same-as" }, [
          first.line + ":" + first.column + " diverged as under ",
          el("a", { href: "#" + shownAt.id, text: shownAt.profile + " on " + shownAt.backend }),
          ": expected " + (first.op === "!=" ? "not " : "") + first.expected + ", actual " + first.actual
        ]));
      } else {
        if (!shownAt) firstShown[key] = r;
        card.appendChild(expectation(r, first));
      }
      var later = diverged.slice(1);
      if (later.length > 0) {
        var list = el("details", { class: "later" }, [el("summary", { text: later.length + " later expectation" + (later.length === 1 ? "" : "s") + " of this spec also diverged: " +
          later.map(function (e) { return e.line + ":" + e.column + " expected " + (e.op === "!=" ? "not " : "") + e.expected + ", actual " + e.actual; }).join(" · ") })]);
        later.forEach(function (e) { list.appendChild(expectation(r, e)); });
        card.appendChild(list);
      }
    }
    // The same spec and profile on the other backends, side by side.
    var others = byFile.get(r.file).get(r.spec).filter(function (o) { return o !== r && o.profile === r.profile; });
    if (others.length > 0) {
      card.appendChild(el("p", { class: "side", text: others.map(function (o) { return o.backend + ": " + o.status; }).join(" · ") }));
    }
    card.run = r;
    cards.push(card);
    details.appendChild(card);
  });

  // Answers a real backend could not see: no verdict either way, each listed with why.
  var unseen = [];
  runs.forEach(function (r) {
    r.expectations.forEach(function (e) {
      if (e.outcome === "unseen") unseen.push(r.file + ":" + e.line + ":" + e.column + " " + (e.source || "") + " (" + r.profile + " on " + r.backend + "): " + e.actual);
    });
  });
  if (unseen.length > 0) {
    details.appendChild(el("h2", { text: "Unseen: ran, but the answer could not be seen there (no verdict)" }));
    var unseenList = el("ul", { class: "unseen mono" });
    unseen.forEach(function (text) { unseenList.appendChild(el("li", { text: text })); });
    details.appendChild(unseenList);
  }

  function expectation(run, e) {
    var box = el("div", { class: "expectation" }, [
      el("div", { class: "mono where", text: run.file + ":" + e.line + ":" + e.column + (e.outcome === "xpass" ? " unexpectedly matched" : e.action ? " the action did not succeed" : " diverged") }),
      el("div", { class: "mono source", text: e.source || "" })
    ]);
    var values = el("table", { class: "values mono" }, [
      el("tr", null, [el("td", { text: "expected" }), el("td", { class: "expected", text: (e.op === "!=" ? "not " : "") + e.expected })]),
      el("tr", null, [el("td", { text: "actual" }), el("td", { class: "actual", text: e.actual })])
    ]);
    box.appendChild(values);
    if (e.xfail !== undefined) box.appendChild(el("p", { text: "xfail: " + e.xfail }));
    if (e.note !== undefined) box.appendChild(el("p", { class: "note", text: "seen: " + e.note }));
    if (e.steps && e.steps.length > 0) {
      var steps = el("ol", { class: "mono" });
      e.steps.forEach(function (step) { steps.appendChild(el("li", { text: step })); });
      box.appendChild(el("details", null, [el("summary", { text: "after " + e.steps.length + " step" + (e.steps.length === 1 ? "" : "s") + (e.stepsOmitted ? " (and " + e.stepsOmitted + " earlier)" : "") }), steps]));
    }
    if (e.state) box.appendChild(state(e.state));
    return box;
  }

  function state(tables) {
    var wrap = el("div", { class: "tables" });
    if (tables.length === 0) wrap.appendChild(el("p", { text: "no tables" }));
    tables.forEach(function (t) {
      var caption = el("caption", null, [
        t.liobn + " (PHB " + t.phb + ", window " + t.window + ", " + t.windowSize + " of " + t.pageSize + " pages) ",
        el("span", { class: "placement " + t.placement, text: t.placement === "kvm" ? "in KVM" : "in userspace" }),
        t.hardware ? " · hardware table" : " · no hardware table"
      ]);
      var grid = el("table", { class: "table-state mono", "data-liobn": t.liobn }, [caption]);
      grid.appendChild(el("tr", null, [el("th", { text: "IOBA" }), el("th", { text: "entries" }), el("th", { text: "guest view" }), el("th", { text: "hardware" })]));
      if (t.rows.length === 0) grid.appendChild(el("tr", null, [el("td", { colspan: "4", text: "nothing mapped" })]));
      t.rows.forEach(function (row) {
        grid.appendChild(el("tr", { class: row.differs ? "differs" : "" }, [
          el("td", { text: row.ioba }), el("td", { text: String(row.count) }), el("td", { text: row.guest }),
          el("td", { text: row.hw === undefined ? "—" : row.hw })
        ]));
      });
      if (t.more > 0) grid.appendChild(el("tr", null, [el("td", { colspan: "4", text: "… " + t.more + " more" })]));
      wrap.appendChild(grid);
    });
    return wrap;
  }

  function apply() {
    wanted = tags.filter(function (t) { return chosen.tag[t]; });
    badges.forEach(function (b) { b.classList.toggle("hidden", !shown(b.run)); });
    rows.forEach(function (row) {
      if (row.runs) row.classList.toggle("hidden", !row.runs.some(shown));
    });
    rows.forEach(function (row) {
      if (row.specRows) row.classList.toggle("hidden", row.specRows.every(function (r) { return r.classList.contains("hidden"); }));
    });
    cards.forEach(function (c) { c.classList.toggle("hidden", !shown(c.run)); });
  }
  apply();
})();
`;
