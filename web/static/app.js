// huiqi — small progressive enhancements; every page works without this file.
(function () {
  "use strict";

  // Repeating rows (conditions, form fields, review stages): "add" clones the template row,
  // "remove" deletes its row.
  document.addEventListener("click", function (ev) {
    var add = ev.target.closest("[data-add-row]");
    if (add) {
      ev.preventDefault();
      var box = document.getElementById(add.getAttribute("data-add-row"));
      var tpl = box && box.querySelector("template");
      if (tpl) {
        box.insertBefore(tpl.content.cloneNode(true), tpl);
      }
      return;
    }
    var rm = ev.target.closest("[data-remove-row]");
    if (rm) {
      ev.preventDefault();
      var line = rm.closest(".rowline");
      if (line) line.remove();
    }
  });

  // "Back" links go back in history when there is one (no inline script: the CSP forbids it).
  document.addEventListener("click", function (ev) {
    var back = ev.target.closest && ev.target.closest("[data-back]");
    if (back && window.history.length > 1) {
      ev.preventDefault();
      window.history.back();
    }
    var print = ev.target.closest && ev.target.closest("[data-print]");
    if (print) {
      ev.preventDefault();
      window.print();
    }
  });

  // Buttons that ask before doing something irreversible.
  document.addEventListener("submit", function (ev) {
    var msg = ev.target.getAttribute("data-confirm");
    if (msg && !window.confirm(msg)) ev.preventDefault();
  });
})();

// Rule builder: each condition row gets field · operator · value pickers that write the CEL
// expression; "手写" switches to the raw expression and back. A live count of eligible,
// unknown and near-miss entities and the total amount follows every edit.
(function () {
  "use strict";
  var dataEl = document.getElementById("builder-data");
  var form = document.getElementById("measure-form");
  if (!dataEl || !form) return;
  var data;
  try { data = JSON.parse(dataEl.textContent); } catch (e) { return; }
  var fields = {};
  data.fields.forEach(function (f) { fields[f.name] = f; });
  var en = document.documentElement.lang === "en";
  var T = en
    ? { raw: "Expression", builder: "Builder", complex: "This expression is edited as text.", pick: "— field —",
        eligible: "eligible", unknown: "need data", near: "near misses", total: "estimated total (10k yuan)",
        checking: "counting…", near1: "near misses blocked only by this" }
    : { raw: "手写", builder: "构建", complex: "此表达式较复杂，请直接编辑文本。", pick: "— 选择字段 —",
        eligible: "符合", unknown: "待补充", near: "还差一项", total: "预计资金（万元）",
        checking: "正在计算…", near1: "仅差此项" };

  var OPS = {
    number: [[">=", "≥"], [">", ">"], ["<=", "≤"], ["<", "<"], ["==", "="], ["!=", "≠"]],
    date: [[">=", en ? "on or after" : "不早于"], ["<=", en ? "on or before" : "不晚于"], [">", en ? "after" : "晚于"], ["<", en ? "before" : "早于"]],
    enum: [["==", en ? "is" : "是"], ["!=", en ? "is not" : "不是"], ["in", en ? "is one of" : "属于"]],
    code: [["within", en ? "within" : "位于/属于"], ["==", en ? "is exactly" : "恰为"]],
    bool: [["true", en ? "yes" : "是"], ["false", en ? "no" : "否"]],
    tags: [["has", en ? "holds" : "持有"], ["not", en ? "does not hold" : "不持有"], ["since", en ? "holds, granted on or after" : "持有且认定不早于"]],
    has: [["has", en ? "is known" : "有数据"]]
  };

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function options(select, pairs, selected) {
    select.innerHTML = "";
    pairs.forEach(function (p) {
      var o = el("option", { value: p[0] }, p[1]);
      if (selected !== undefined && String(selected) === String(p[0])) o.selected = true;
      select.appendChild(o);
    });
  }
  function quote(s) { return '"' + String(s).replace(/\\/g, "\\\\").replace(/"/g, '\\"') + '"'; }
  function kind(f) {
    if (!f) return null;
    if (f.type === "code") return "code";
    return f.type;
  }

  // Reads a simple expression back into the pickers; null when it is not one of them.
  function parse(expr) {
    var s = expr.trim(), m;
    if (!s) return { field: "" };
    if ((m = s.match(/^(!?)tags\.contains\("([^"]+)"\)$/))) return { field: "tags", op: m[1] ? "not" : "has", value: m[2] };
    if ((m = s.match(/^"([^"]+)" in tags$/))) return { field: "tags", op: "has", value: m[1] };
    if ((m = s.match(/^tags\.contains\("([^"]+)"\) && tag_since\("([^"]+)"\) >= date\("([0-9-]+)"\)$/)) && m[1] === m[2])
      return { field: "tags", op: "since", value: m[1], date: m[3] };
    if ((m = s.match(/^has\((\w+)\)$/)) && fields[m[1]]) return { field: m[1], op: "has" };
    if ((m = s.match(/^(!?)(\w+)$/)) && fields[m[2]] && fields[m[2]].type === "bool") return { field: m[2], op: m[1] ? "false" : "true" };
    if ((m = s.match(/^(region|industry)\.within\("([^"]*)"\)$/))) return { field: m[1], op: "within", value: m[2] };
    if ((m = s.match(/^(\w+) in \[(.*)\]$/)) && fields[m[1]] && fields[m[1]].type === "enum") {
      var vals = (m[2].match(/"([^"]*)"/g) || []).map(function (v) { return v.slice(1, -1); });
      return { field: m[1], op: "in", value: vals };
    }
    if ((m = s.match(/^(\w+)\s*(>=|<=|==|!=|>|<)\s*(.+)$/)) && fields[m[1]]) {
      var f = fields[m[1]], v = m[3].trim(), d;
      if (f.type === "number" && /^-?[0-9.]+$/.test(v)) return { field: m[1], op: m[2], value: v };
      if (f.type === "date" && (d = v.match(/^date\("([0-9-]+)"\)$/))) return { field: m[1], op: m[2], value: d[1] };
      if ((f.type === "enum" || f.type === "code") && (d = v.match(/^"([^"]*)"$/))) return { field: m[1], op: m[2], value: d[1] };
    }
    return null;
  }

  function build(state) {
    var f = fields[state.field];
    if (!f) return "";
    var v = state.value;
    switch (state.op) {
      case "has": return f.type === "tags" ? (v ? "tags.contains(" + quote(v) + ")" : "") : "has(" + f.name + ")";
      case "not": return v ? "!tags.contains(" + quote(v) + ")" : "";
      case "since": return v && state.date ? "tags.contains(" + quote(v) + ") && tag_since(" + quote(v) + ") >= date(" + quote(state.date) + ")" : "";
      case "true": return f.name;
      case "false": return "!" + f.name;
      case "within": return v ? f.name + ".within(" + quote(v) + ")" : "";
      case "in": return v && v.length ? f.name + " in [" + v.map(quote).join(", ") + "]" : "";
    }
    if (v === undefined || v === "") return "";
    if (f.type === "number") return f.name + " " + state.op + " " + v;
    if (f.type === "date") return f.name + " " + state.op + " date(" + quote(v) + ")";
    return f.name + " " + state.op + " " + quote(v);
  }

  function setupRow(row) {
    var input = row.querySelector("input[name=cond_expr]");
    if (!input || row.querySelector(".builder")) return;
    var cell = input.parentNode;
    var box = el("div", { "class": "builder" });
    var fieldSel = el("select", { "aria-label": en ? "field" : "字段" });
    var opSel = el("select", { "aria-label": en ? "operator" : "条件" });
    var valueBox = el("span", { "class": "value" });
    var toggle = el("button", { type: "button", "class": "btn secondary small toggle" });
    var note = el("div", { "class": "muted small-note" });
    var groups = [["", T.pick]];
    data.fields.forEach(function (f) { groups.push([f.name, f.label + (f.unit ? "（" + f.unit + "）" : "")]); });
    options(fieldSel, groups);
    box.appendChild(fieldSel); box.appendChild(opSel); box.appendChild(valueBox);
    cell.insertBefore(box, input);
    row.insertBefore(toggle, row.querySelector("[data-remove-row]"));
    cell.appendChild(note);
    var state = parse(input.value);
    var raw = state === null;
    state = state || { field: "" };

    function valueWidget() {
      valueBox.innerHTML = "";
      var f = fields[state.field];
      if (!f || ["true", "false"].indexOf(state.op) >= 0 || (state.op === "has" && f.type !== "tags")) return;
      var w;
      if (f.type === "tags") {
        w = el("select"); options(w, data.tags, state.value);
        if (!state.value && data.tags.length) state.value = data.tags[0][0];
        w.addEventListener("change", function () { state.value = w.value; write(); });
        valueBox.appendChild(w);
        if (state.op === "since") {
          var d = el("input", { type: "date", value: state.date || "" });
          d.addEventListener("change", function () { state.date = d.value; write(); });
          valueBox.appendChild(d);
        }
        return;
      }
      if (f.type === "enum") {
        w = el("select"); if (state.op === "in") w.multiple = true;
        options(w, f.values);
        Array.prototype.forEach.call(w.options, function (o) {
          o.selected = state.op === "in" ? (state.value || []).indexOf(o.value) >= 0 : o.value === state.value;
        });
        if (state.op !== "in" && !state.value && f.values.length) state.value = f.values[0][0];
        w.addEventListener("change", function () {
          state.value = state.op === "in" ? Array.prototype.filter.call(w.options, function (o) { return o.selected; }).map(function (o) { return o.value; }) : w.value;
          write();
        });
      } else if (f.name === "region") {
        w = el("select"); options(w, [["", "—"]].concat(data.regions), state.value);
        w.addEventListener("change", function () { state.value = w.value; write(); });
      } else if (f.name === "industry") {
        w = el("input", { type: "text", list: "builder-industries", value: state.value || "", placeholder: "C39" });
        w.addEventListener("input", function () { state.value = w.value.trim().toUpperCase(); write(); });
      } else if (f.type === "date") {
        w = el("input", { type: "date", value: state.value || "" });
        w.addEventListener("change", function () { state.value = w.value; write(); });
      } else {
        w = el("input", { type: "text", inputmode: "decimal", value: state.value || "", size: "8" });
        w.addEventListener("input", function () { state.value = w.value.trim(); write(); });
      }
      valueBox.appendChild(w);
      if (f.unit) valueBox.appendChild(el("span", { "class": "muted" }, " " + f.unit));
    }

    function opWidget() {
      var f = fields[state.field];
      var ops = f ? OPS[kind(f)] || [] : [];
      if (f && f.type !== "tags" && ops !== OPS.bool) ops = ops.concat(OPS.has);
      options(opSel, ops, state.op);
      if (f && ops.length && !ops.some(function (o) { return o[0] === state.op; })) state.op = ops[0][0];
      opSel.disabled = !f;
    }

    function write() {
      var e = build(state);
      if (e) { input.value = e; input.dispatchEvent(new Event("input", { bubbles: true })); }
    }

    function show() {
      box.hidden = raw; input.hidden = !raw;
      toggle.textContent = raw ? T.builder : T.raw;
      note.textContent = raw && parse(input.value) === null && input.value.trim() ? T.complex : "";
    }

    fieldSel.value = state.field || "";
    opWidget(); valueWidget(); show();
    fieldSel.addEventListener("change", function () { state = { field: fieldSel.value }; opWidget(); valueWidget(); write(); });
    opSel.addEventListener("change", function () { state.op = opSel.value; if (state.op === "in" && !Array.isArray(state.value)) state.value = state.value ? [state.value] : []; if (state.op !== "in" && Array.isArray(state.value)) state.value = state.value[0]; valueWidget(); write(); });
    toggle.addEventListener("click", function () {
      if (raw) {
        var p = parse(input.value);
        if (p === null) { show(); note.textContent = T.complex; return; }
        state = p; fieldSel.value = state.field || ""; opWidget(); valueWidget();
      }
      raw = !raw; show();
    });
  }

  var rows = document.getElementById("cond-rows");
  var list = el("datalist", { id: "builder-industries" });
  data.industries.forEach(function (i) { list.appendChild(el("option", { value: i[0] }, i[1])); });
  form.appendChild(list);
  Array.prototype.forEach.call(rows.querySelectorAll(".rowline.cond"), setupRow);
  new MutationObserver(function () { Array.prototype.forEach.call(rows.querySelectorAll(".rowline.cond"), setupRow); })
    .observe(rows, { childList: true });

  // Live counts over the whole entity library.
  var live = document.getElementById("live");
  var csrf = (document.querySelector("meta[name=csrf-token]") || {}).content || "";
  var timer = null, seq = 0;
  function spec() {
    var v = function (n) { var e = form.elements[n]; return e ? e.value : ""; };
    var conditions = [];
    Array.prototype.forEach.call(rows.querySelectorAll(".rowline.cond"), function (r) {
      var label = r.querySelector("input[name=cond_label]").value.trim();
      var expr = r.querySelector("input[name=cond_expr]").value.trim();
      if (expr) conditions.push({ label: label || expr, expr: expr });
    });
    var body = { name: v("name") || "推演", mode: v("mode") || "apply", conditions: conditions };
    if (v("amount").trim()) body.amount = v("amount").trim();
    if (v("cap").trim() && !isNaN(Number(v("cap")))) body.cap = Number(v("cap"));
    return body;
  }
  function render(res, body) {
    live.hidden = false;
    rows.querySelectorAll(".cond-info").forEach(function (n) { n.remove(); });
    if (!res.ok) {
      live.className = "live errors";
      live.textContent = body.error || "—";
      (body.fields || []).forEach(function (f) {
        var m = f.field.match(/^conditions\[(\d+)\]/);
        if (!m) return;
        var filled = Array.prototype.filter.call(rows.querySelectorAll(".rowline.cond"), function (r) { return r.querySelector("input[name=cond_expr]").value.trim(); });
        var row = filled[Number(m[1])];
        if (row) row.querySelector(".expr-cell").appendChild(el("div", { "class": "cond-info error" }, f.message));
      });
      return;
    }
    live.className = "live";
    live.innerHTML = "";
    [["eligible", body.eligible], ["unknown", body.unknown], ["near", body.near_miss], ["total", body.total_wan]].forEach(function (p) {
      var s = el("span", { "class": "live-" + p[0] });
      s.appendChild(el("b", {}, String(Math.round(p[1] * 100) / 100)));
      s.appendChild(document.createTextNode(" " + T[p[0]]));
      live.appendChild(s);
    });
    var filled = Array.prototype.filter.call(rows.querySelectorAll(".rowline.cond"), function (r) { return r.querySelector("input[name=cond_expr]").value.trim(); });
    (body.conditions || []).forEach(function (c, i) {
      if (filled[i]) filled[i].querySelector(".expr-cell").appendChild(el("div", { "class": "cond-info muted" }, T.near1 + " " + c.near_miss));
    });
  }
  function refresh() {
    var body = spec(), mine = ++seq;
    if (!body.conditions.length) { live.hidden = true; return; }
    live.hidden = false; live.className = "live"; live.textContent = T.checking;
    fetch("/api/v1/simulate", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body)
    }).then(function (r) { return r.json().then(function (b) { return [r, b]; }); })
      .then(function (rb) { if (mine === seq) render(rb[0], rb[1]); })
      .catch(function () { live.hidden = true; });
  }
  form.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(refresh, 400); });
  form.addEventListener("change", function () { clearTimeout(timer); timer = setTimeout(refresh, 400); });
  refresh();
})();
