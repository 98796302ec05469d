/* The visual rule builder: and/or groups, not, and one form per kind of condition of the rule
   language. It edits the tree of tidings/domain/rules/builder.py; the server turns the tree into
   the rule's text form (POST /segments/builder/to-text) and a rule into a tree
   (POST /segments/builder/from-text). Used by the segment pages and the journey builder's
   branch steps. window.TidingsRules.mount(element, tree, options) -> {get, set}. */
(function () {
  "use strict";
  var uid = 0, labels = null;

  /* a label in the page's language: templates/_builder_labels.html maps the English words */
  function L(text) {
    if (labels === null) {
      var box = document.getElementById("builder-labels");
      labels = box ? JSON.parse(box.textContent) : {};
    }
    return (typeof text === "string" && Object.prototype.hasOwnProperty.call(labels, text)) ? labels[text] : text;
  }

  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") e.textContent = L(attrs[k]);
      else if (k === "class") e.className = attrs[k];
      else if (attrs[k] !== undefined && attrs[k] !== null && attrs[k] !== false) e.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { if (c) e.appendChild(typeof c === "string" ? document.createTextNode(c) : c); });
    return e;
  }

  function labelled(text, input) {
    var id = "rb-" + (++uid);
    input.id = id;
    return el("span", { class: "rb-field" }, [el("label", { for: id, text: text }), input]);
  }

  function select(options, value) {
    var s = el("select");
    options.forEach(function (o) {
      var pair = Array.isArray(o) ? o : [o, o];
      var opt = el("option", { value: pair[0], text: pair[1] });
      if (String(pair[0]) === String(value)) opt.selected = true;
      s.appendChild(opt);
    });
    if (value !== undefined && value !== null && !options.some(function (o) { return String(Array.isArray(o) ? o[0] : o) === String(value); })) {
      s.appendChild(el("option", { value: value, text: String(value), selected: "selected" }));
    }
    return s;
  }

  function post(url, body) {
    var meta = document.body.getAttribute("hx-headers");
    var token = meta ? JSON.parse(meta)["X-CSRF-Token"] : "";
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": token },
      body: JSON.stringify(body)
    }).then(function (r) { return r.json().then(function (j) { j._status = r.status; return j; }); });
  }

  var KINDS = [
    ["tag", "has tag"], ["attribute", "attribute"], ["field", "contact field"], ["event", "event (count, sum, last…)"],
    ["consent", "consent"], ["in_segment", "in segment"], ["in_journey", "in journey"],
    ["journey_state", "journey state"], ["sequence", "did one event and not another"],
    ["property", "event property"], ["text", "other (structured form, JSON)"]
  ];
  var DEFAULTS = {
    tag: function () { return { tag: "" }; },
    attribute: function () { return { attribute: "", op: "eq", value: "" }; },
    field: function () { return { field: "email", op: "exists" }; },
    event: function () { return { event: "", agg: "count", window: "30d", op: "gte", value: 1 }; },
    consent: function () { return { consent: "email", op: "eq", value: "granted" }; },
    in_segment: function () { return { in_segment: "" }; },
    in_journey: function () { return { in_journey: "" }; },
    journey_state: function () { return { journey_state: "", op: "eq", value: "active" }; },
    sequence: function () { return { sequence: { did: "", not: "", within: "1d" } }; },
    property: function () { return { property: "", op: "eq", value: "" }; },
    text: function () { return { tag: "" }; }
  };
  var NO_VALUE = ["exists", "not_exists"];
  var DURATION = ["within_last", "more_than_ago", "anniversary_in"];

  function kindOf(rule) {
    var ks = ["tag", "attribute", "field", "event", "consent", "in_segment", "in_journey", "journey_state", "sequence", "property"];
    for (var i = 0; i < ks.length; i++) if (Object.prototype.hasOwnProperty.call(rule, ks[i])) return ks[i];
    return "text";
  }

  function scalar(text) {
    var t = text.trim();
    if (/^-?\d+(\.\d+)?$/.test(t)) return Number(t);
    if (t === "true") return true;
    if (t === "false") return false;
    if (t.length >= 2 && t[0] === '"' && t[t.length - 1] === '"') { try { return JSON.parse(t); } catch (e) { return t; } }
    return t;
  }
  function parseValue(text, op) {
    if (op === "in" || op === "not_in" || op === "between") return text.split(",").map(scalar);
    if (DURATION.indexOf(op) >= 0) return text.trim();
    return scalar(text);
  }
  function showScalar(v) {
    if (typeof v === "string" && (/^-?\d+(\.\d+)?$/.test(v.trim()) || v === "true" || v === "false")) return JSON.stringify(v);
    return v === undefined || v === null ? "" : String(v);
  }
  function showValue(v) { return Array.isArray(v) ? v.map(showScalar).join(", ") : showScalar(v); }

  function Builder(root, tree, opts) {
    this.root = root;
    this.opts = opts || {};
    this.vocab = this.opts.vocab || {};
    this.set(tree);
  }

  Builder.prototype.set = function (tree) {
    // the root is always a group on screen; a single condition is shown inside one
    if (!tree || tree.type !== "group") tree = { type: "group", match: "all", items: tree ? [tree] : [] };
    this.tree = tree;
    this.render();
  };

  /* the tree to send: a root group of one item is that item (what the rule text means) */
  Builder.prototype.get = function () {
    var t = this.tree;
    if (t.type === "group" && t.items.length === 1) return t.items[0];
    return t;
  };

  Builder.prototype.changed = function () { if (this.opts.onChange) this.opts.onChange(this.get()); };

  Builder.prototype.render = function () {
    this.root.textContent = "";
    this.root.classList.add("rule-builder");
    this.root.appendChild(this.node(this.tree, null, null));
  };

  Builder.prototype.node = function (node, parent, index) {
    var self = this;
    var replace = function (n) {
      if (parent === null) self.tree = n.type === "group" ? n : { type: "group", match: "all", items: [n] };
      else if (parent.type === "not") parent.item = n;
      else parent.items[index] = n;
      self.render(); self.changed();
    };
    var controls = el("span", { class: "rb-controls" });
    if (parent !== null) {
      if (parent.type !== "not") {
        var neg = el("button", { type: "button", class: "small", text: "Not", title: "negate this" });
        neg.addEventListener("click", function () { replace({ type: "not", item: node }); });
        controls.appendChild(neg);
        var rm = el("button", { type: "button", class: "small", text: "Remove" });
        rm.addEventListener("click", function () { parent.items.splice(index, 1); self.render(); self.changed(); });
        controls.appendChild(rm);
      }
    }
    if (node.type === "group") {
      var box = el("fieldset", { class: "rb-group" });
      var match = select([["all", "all of"], ["any", "any of"]], node.match);
      match.addEventListener("change", function () { node.match = match.value; self.changed(); });
      var legend = el("legend", {}, [labelled("Match", match), " these conditions ", controls]);
      box.appendChild(legend);
      node.items.forEach(function (item, i) { box.appendChild(self.node(item, node, i)); });
      var addC = el("button", { type: "button", class: "small rb-add-condition", text: "+ Condition" });
      addC.addEventListener("click", function () {
        node.items.push({ type: "condition", rule: DEFAULTS.tag() }); self.render(); self.changed();
      });
      var addG = el("button", { type: "button", class: "small", text: "+ Group" });
      addG.addEventListener("click", function () {
        node.items.push({ type: "group", match: "any", items: [{ type: "condition", rule: DEFAULTS.tag() }] });
        self.render(); self.changed();
      });
      box.appendChild(el("div", { class: "rb-adders" }, [addC, addG]));
      return box;
    }
    if (node.type === "not") {
      var nbox = el("div", { class: "rb-not" });
      var un = el("button", { type: "button", class: "small", text: "Remove not" });
      un.addEventListener("click", function () { replace(node.item); });
      nbox.appendChild(el("div", { class: "rb-not-head" }, [el("strong", { text: "NOT" }), un, controls]));
      nbox.appendChild(self.node(node.item, node, 0));
      return nbox;
    }
    var row = el("div", { class: "rb-condition" });
    self.condition(row, node);
    row.appendChild(controls);
    return row;
  };

  Builder.prototype.condition = function (row, node) {
    var self = this, v = self.vocab, rule = node.rule;
    var kind = kindOf(rule);
    var kindSel = select(KINDS, kind);
    kindSel.addEventListener("change", function () {
      node.rule = DEFAULTS[kindSel.value]();
      self.render(); self.changed();
    });
    row.appendChild(labelled("Condition", kindSel));
    function text(label, key, obj, optional) {
      obj = obj || rule;
      var i = el("input", { value: obj[key] === undefined ? "" : obj[key], size: 12 });
      i.addEventListener("input", function () {
        if (optional && !i.value) delete obj[key]; else obj[key] = i.value;
        self.changed();
      });
      row.appendChild(labelled(label, i));
    }
    function choose(label, key, options) {
      var s = select(options, rule[key]);
      s.addEventListener("change", function () { rule[key] = s.value; self.changed(); });
      row.appendChild(labelled(label, s));
    }
    function opAndValue() {
      var ops = v.ops || ["eq", "ne", "gt", "gte", "lt", "lte", "in", "not_in", "exists", "not_exists"];
      var s = select(ops, rule.op || "eq");
      var val = el("input", { value: showValue(rule.value), size: 10 });
      var wrap = labelled("Value", val);
      function sync() { wrap.hidden = NO_VALUE.indexOf(s.value) >= 0; }
      s.addEventListener("change", function () {
        rule.op = s.value; sync();
        if (NO_VALUE.indexOf(s.value) >= 0) delete rule.value; else rule.value = parseValue(val.value, s.value);
        self.changed();
      });
      val.addEventListener("input", function () { rule.value = parseValue(val.value, s.value); self.changed(); });
      row.appendChild(labelled("Operator", s));
      row.appendChild(wrap);
      sync();
    }
    if (kind === "tag") text("Tag", "tag");
    else if (kind === "attribute") { text("Attribute", "attribute"); opAndValue(); }
    else if (kind === "property") { text("Property", "property"); opAndValue(); }
    else if (kind === "field") { choose("Field", "field", v.fields || ["email"]); opAndValue(); }
    else if (kind === "consent") { choose("Channel", "consent", v.channels || ["email"]); opAndValue(); }
    else if (kind === "in_segment") {
      text("Segment key", "in_segment");
    } else if (kind === "in_journey") text("Journey key", "in_journey");
    else if (kind === "journey_state") { text("Journey key", "journey_state"); opAndValue(); }
    else if (kind === "sequence") {
      text("Did", "did", rule.sequence); text("and not", "not", rule.sequence); text("within", "within", rule.sequence);
    } else if (kind === "event") {
      text("Event", "event");
      choose("Aggregate", "agg", v.aggs || ["count"]);
      text("Property (sum, min…)", "property", rule, true);
      var w = el("input", { value: rule.window || "", size: 5, placeholder: "30d" });
      w.addEventListener("input", function () { if (w.value.trim()) rule.window = w.value.trim(); else delete rule.window; self.changed(); });
      row.appendChild(labelled("In the last", w));
      if (rule.where) row.appendChild(el("span", { class: "muted small", text: "where " + JSON.stringify(rule.where) }));
      opAndValue();
    } else {
      var ta = el("textarea", { class: "code", rows: 2, cols: 40 });
      ta.value = JSON.stringify(rule);
      ta.addEventListener("input", function () {
        try { node.rule = JSON.parse(ta.value); ta.classList.remove("invalid"); self.changed(); } catch (e) { ta.classList.add("invalid"); }
      });
      row.appendChild(labelled("Structured form", ta));
    }
  };

  window.TidingsRules = {
    mount: function (element, tree, opts) { return new Builder(element, tree, opts); },
    post: post,
    toText: function (tree, kind) { return post("/segments/builder/to-text", { tree: tree, kind: kind || "contact" }); },
    fromText: function (rule) { return post("/segments/builder/from-text", { rule: rule }); },
    el: el,
    labelled: labelled,
    select: select
  };

  /* segment pages: <div data-rule-builder="#rule-text" data-vocab='{...}'> keeps the textarea in step */
  function wireSegment(box) {
    if (box.dataset.wired) return;
    box.dataset.wired = "1";
    var ta = document.querySelector(box.dataset.ruleBuilder);
    var status = document.getElementById(box.dataset.status || "rule-builder-status");
    var vocab = JSON.parse(box.dataset.vocab || "{}");
    var timer = null, fromBuilder = false;
    var b = window.TidingsRules.mount(box, null, {
      vocab: vocab,
      onChange: function (tree) {
        clearTimeout(timer);
        timer = setTimeout(function () {
          window.TidingsRules.toText(tree).then(function (r) {
            if (r.text !== undefined) {
              fromBuilder = true;
              ta.value = r.text;
              ta.dispatchEvent(new Event("input", { bubbles: true }));
              ta.dispatchEvent(new Event("change", { bubbles: true }));
              fromBuilder = false;
              if (status) status.textContent = "";
            } else if (status) status.textContent = r.error ? r.error.msg : "";
          });
        }, 250);
      }
    });
    function load() {
      window.TidingsRules.fromText(ta.value).then(function (r) {
        if (r.tree) { b.set(r.tree); if (status) status.textContent = ""; }
        else if (status) status.textContent = "The builder shows the last rule that parsed: " + (r.error ? r.error.msg : "");
      });
    }
    var t2 = null;
    ta.addEventListener("input", function () { if (fromBuilder) return; clearTimeout(t2); t2 = setTimeout(load, 500); });
    load();
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-rule-builder]").forEach(wireSegment);
  });
})();
