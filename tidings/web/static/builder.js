/* The visual journey builder (/journeys/new, /journeys/{key}/edit) on Drawflow 0.0.60.
   It edits the builder form of tidings/domain/journeys/builder.py: {keys, journey, steps, layout}.
   Every change is posted to /journeys/builder/to-yaml: the server writes the YAML (the document
   stays the single source of truth, in the form's <textarea name=source>) and answers the
   problems `tidings journeys validate` reports. Typing in the YAML tab goes the other way
   (/journeys/builder/from-yaml). An unconnected output means the journey ends there. */
(function () {
  "use strict";
  var R = null, el = null, labelled = null, select = null;
  var EXTRA_FIELDS = ["name", "note"];

  function get(obj, path) { for (var i = 0; i < path.length; i++) { if (obj == null) return undefined; obj = obj[path[i]]; } return obj; }
  function put(obj, path, v) { for (var i = 0; i < path.length - 1; i++) obj = obj[path[i]]; obj[path[path.length - 1]] = v; }
  function drop(obj, path) { var o = get(obj, path.slice(0, -1)); if (o) delete o[path[path.length - 1]]; }

  /* the outputs of a step: where each edge lives in the step, and its default when absent */
  function outputs(step, following) {
    var t = step.type === "behavior" ? "behaviour" : step.type;
    var out = [];
    if (t === "wait_event") {
      var dflt = step.next !== undefined ? step.next : following;
      out.push({ label: "event", path: ["on_event"], dflt: dflt });
      if (step.timeout !== undefined && step.timeout !== null) out.push({ label: "timeout", path: ["on_timeout"], dflt: dflt });
    } else if (t === "branch") {
      (Array.isArray(step.branches) ? step.branches : []).forEach(function (b, j) {
        out.push({ label: "when " + (j + 1), path: ["branches", j, "next"] });
      });
      out.push({ label: "else", path: ["else"], dflt: following });
    } else if (t === "behaviour") {
      out.push({ label: "then", path: ["then"] });
      out.push({ label: "else", path: ["else"], dflt: following });
    } else if (t === "split") {
      (Array.isArray(step.variants) ? step.variants : []).forEach(function (v, j) {
        out.push({ label: "variant " + (v && v.name ? v.name : j + 1), path: ["variants", j, "next"] });
      });
    } else if (t !== "goal" && t !== "exit") {
      out.push({ label: "next", path: ["next"], dflt: following });
    }
    return out;
  }

  function target(step, o) {
    var v = get(step, o.path);
    if (v === undefined || v === null) v = o.dflt;
    return typeof v === "string" && v ? v : "end";
  }

  var FORMS = {
    send: [["channel", "channel"], ["template", "template"], ["category", "category"], ["ignore_window", "bool", "Send outside the send window"], ["data", "json", "Data for the template (JSON)"]],
    wait: [["duration", "text", "Wait for (e.g. 1h, 2d)"]],
    wait_until: [["date", "json", "Until the date (JSON: {attribute|variable|event, before|after|offset, at})"]],
    wait_time: [["at", "text", "Time of day (HH:MM)"], ["days", "list", "Days (mon, tue…; empty: every day)"]],
    wait_event: [["event", "text", "Wait for the event"], ["where", "text", "Where (event filter, rule text)"], ["timeout", "text", "Give up after (duration, empty: never)"]],
    branch: [["branches", "branches"]],
    behaviour: [["message", "message", "Message (a send step)"], ["action", "action"], ["within", "text", "Within (duration)"], ["event", "text", "Conversion event (for converted)"]],
    split: [["variants", "variants"], ["experiment", "json", "Experiment (JSON)"]],
    update_contact: [["set", "json", "Set attributes (JSON object)"], ["add_tags", "list", "Add tags"], ["remove_tags", "list", "Remove tags"], ["lifecycle_stage", "text", "Lifecycle stage"], ["score", "number", "Add to score"]],
    webhook: [["url", "text", "URL"], ["method", "method"], ["body", "json", "Body (JSON)"], ["headers", "json", "Headers (JSON)"]],
    task: [["title", "text", "Title"], ["body", "text", "Body"], ["owner", "text", "Owner (email)"], ["team", "text", "Team"], ["due_in", "text", "Due in (duration)"]],
    crm: [["system", ["hubspot", "salesforce"], "CRM"], ["action", ["upsert_contact", "create_task", "create_deal"], "Action"], ["properties", "json", "CRM fields (JSON object)"], ["title", "text", "Task title"], ["due_in", "text", "Task due in (duration)"], ["deal_name", "text", "Deal name"], ["amount", "number", "Deal amount"], ["write_back", "bool", "Write back owner and stage"]],
    assign_owner: [["owner", "text", "Owner (email)"], ["team", "text", "Team"], ["strategy", "strategy"]],
    enroll: [["journey", "journey", "Journey"], ["key", "text", "Enrolment key"]],
    goal: [["goal", "text", "Goal name"], ["revenue", "text", "Revenue (property or number)"]],
    exit: [["reason", "text", "Reason"]]
  };
  var NEW_STEP = {
    send: function (o) { var t = o.templates[0]; return { channel: t ? t.channel : "email", template: t ? t.key : "" }; },
    wait: function () { return { duration: "1d" }; },
    wait_until: function () { return { date: { attribute: "renewal_date", before: "7d" } }; },
    wait_time: function () { return { at: "09:00" }; },
    wait_event: function () { return { event: "", timeout: "3d" }; },
    branch: function () { return { branches: [{ when: 'tag("vip")', next: "end" }] }; },
    behaviour: function () { return { message: "", action: "opened", within: "2d", then: "end" }; },
    split: function () { return { variants: [{ name: "a", weight: 50, next: "end" }, { name: "b", weight: 50, next: "end" }] }; },
    update_contact: function () { return { add_tags: [] }; },
    webhook: function () { return { url: "https://", method: "POST" }; },
    task: function () { return { title: "" }; },
    crm: function () { return { system: "hubspot", action: "upsert_contact" }; },
    assign_owner: function () { return { team: "" }; },
    enroll: function () { return { journey: "" }; },
    goal: function () { return { goal: "" }; },
    exit: function () { return {}; }
  };
  var TYPE_LABEL = {};   // step type -> its name on the page (from the page's translated strings)

  function Builder(root, data) {
    this.root = root;
    this.form = data.form;
    this.opts = data.options;
    this.source = document.getElementById(root.dataset.source);
    this.problemsBox = document.getElementById("builder-problems");
    this.panel = document.getElementById("step-panel");
    this.list = document.getElementById("step-list");
    this.selected = null;            // a step id, or "" for the journey (triggers and settings)
    this.rendering = false;
    this.frozen = [];
    this.pendingRemovals = [];
    this.editor = new window.Drawflow(root.querySelector(".builder-canvas"));
    this.editor.reroute = false;
    this.editor.start();
    var ed = this.editor;
    root.querySelectorAll("[data-zoom]").forEach(function (b) {
      b.addEventListener("click", function () {
        if (b.dataset.zoom === "in") ed.zoom_in(); else if (b.dataset.zoom === "out") ed.zoom_out(); else ed.zoom_reset();
      });
    });
    this.wire();
    this.draw();
    this.show("");
  }

  Builder.prototype.steps = function () { return this.form.steps; };
  Builder.prototype.following = function (i) { var s = this.form.steps; return i + 1 < s.length ? String(s[i + 1].id) : "end"; };
  Builder.prototype.indexOf = function (id) {
    for (var i = 0; i < this.form.steps.length; i++) if (String(this.form.steps[i].id) === id) return i;
    return -1;
  };
  Builder.prototype.step = function (id) { var i = this.indexOf(id); return i < 0 ? null : this.form.steps[i]; };

  /* before a change of order: every default edge written out, so no edge moves with the order;
     after it, those written-out edges that equal the new default are removed again */
  Builder.prototype.freeze = function () {
    var self = this;
    self.frozen = [];
    self.form.steps.forEach(function (s, i) {
      outputs(s, self.following(i)).forEach(function (o) {
        if (o.dflt !== undefined && get(s, o.path) === undefined) { put(s, o.path, target(s, o)); self.frozen.push([s, o.path]); }
      });
    });
  };
  Builder.prototype.thaw = function () {
    var self = this;
    self.frozen.forEach(function (f) {
      var i = self.form.steps.indexOf(f[0]);
      if (i < 0) return;
      var s = f[0], saved = get(s, f[1]);
      drop(s, f[1]);
      var o = outputs(s, self.following(i)).filter(function (x) { return x.path.join(".") === f[1].join("."); })[0];
      if (!o || target(s, o) !== saved) put(s, f[1], saved);
    });
    self.frozen = [];
  };

  Builder.prototype.addStep = function (type, after) {
    var steps = this.form.steps, id = type.replace("_", "-"), n = 1;
    while (this.indexOf(id + "-" + n) >= 0) n++;
    id = id + "-" + n;
    var step = Object.assign({ id: id, type: type }, NEW_STEP[type](this.opts));
    this.freeze();
    var at = after === "" || after === null ? -1 : this.indexOf(after);
    var prev = at >= 0 ? steps[at] : null;
    var carry = "end";
    if (prev) {
      var outs = outputs(prev, this.following(at));
      var o = outs.filter(function (x) { return target(prev, x) === "end"; })[0] || outs[0];
      if (o) { carry = target(prev, o); put(prev, o.path, id); }
    } else if (steps.length && (after === "" || after === null)) {
      carry = String(steps[0].id);
    }
    steps.splice(at + 1, 0, step);
    var mine = outputs(step, this.following(at + 1))[0];
    if (mine) {
      if (mine.dflt !== undefined) { put(step, mine.path, carry); this.frozen.push([step, mine.path]); }
      else put(step, mine.path, carry);
    }
    this.thaw();
    this.form.layout = this.form.layout || {};
    if (prev && this.form.layout[prev.id]) {
      var p = this.form.layout[prev.id];
      this.form.layout[id] = [p[0] + 240, p[1]];
    }
    this.selected = id;
    this.changed(true);
  };

  Builder.prototype.deleteStep = function (id) {
    var i = this.indexOf(id);
    if (i < 0) return;
    this.freeze();
    var steps = this.form.steps;
    steps.splice(i, 1);
    var self = this;
    steps.forEach(function (s, j) {
      outputs(s, self.following(j)).forEach(function (o) { if (get(s, o.path) === id) put(s, o.path, "end"); });
    });
    this.thaw();
    if (this.form.layout) delete this.form.layout[id];
    this.selected = "";
    this.changed(true);
  };

  Builder.prototype.connect = function (fromId, outIndex, toId) {
    if (fromId === null) { this.makeFirst(toId); return; }
    var i = this.indexOf(fromId);
    if (i < 0) return;
    var s = this.form.steps[i];
    var o = outputs(s, this.following(i))[outIndex];
    if (!o) return;
    put(s, o.path, toId);
    this.changed(true);
  };

  Builder.prototype.makeFirst = function (id) {
    var i = this.indexOf(id);
    if (i <= 0) { this.changed(true); return; }
    this.freeze();
    var s = this.form.steps.splice(i, 1)[0];
    this.form.steps.unshift(s);
    this.thaw();
    this.changed(true);
  };

  Builder.prototype.rename = function (old, id) {
    if (!id || id === old || this.indexOf(id) >= 0) return false;
    var self = this;
    self.form.steps.forEach(function (s, j) {
      outputs(s, self.following(j)).forEach(function (o) { if (get(s, o.path) === old) put(s, o.path, id); });
      if (s.type === "behaviour" && s.message === old) s.message = id;
    });
    self.step(old).id = id;
    if (self.form.layout && self.form.layout[old]) { self.form.layout[id] = self.form.layout[old]; delete self.form.layout[old]; }
    self.selected = id;
    return true;
  };

  /* ------------------------------------------------------------------ drawing */

  Builder.prototype.positions = function () {
    var self = this, layout = self.form.layout || {}, pos = {}, depth = {}, rows = {};
    var steps = self.form.steps;
    if (steps.length) {
      var queue = [[String(steps[0].id), 1]];
      while (queue.length) {
        var q = queue.shift(), i = self.indexOf(q[0]);
        if (i < 0 || depth[q[0]] !== undefined) continue;
        depth[q[0]] = q[1];
        outputs(steps[i], self.following(i)).forEach(function (o) { queue.push([target(steps[i], o), q[1] + 1]); });
      }
    }
    steps.forEach(function (s) {
      var id = String(s.id);
      if (Array.isArray(layout[id])) { pos[id] = layout[id]; return; }
      // three columns after the triggers, then the next band below (the canvas also pans and zooms)
      var d = depth[id] || 1, col = (d - 1) % 3, band = Math.floor((d - 1) / 3);
      rows[d] = (rows[d] || 0) + 1;
      pos[id] = [215 + col * 190, 30 + band * 320 + (rows[d] - 1) * 130];
    });
    return pos;
  };

  function esc(t) { var d = document.createElement("div"); d.textContent = t == null ? "" : String(t); return d.innerHTML; }

  function summary(s) {
    var t = s.type;
    if (t === "send") return (s.channel || "") + ": " + (s.template || "?");
    if (t === "wait") return "for " + (s.duration || "?");
    if (t === "wait_event") return "for " + (s.event || "?") + (s.timeout ? ", up to " + s.timeout : "");
    if (t === "wait_time") return "until " + (s.at || "?");
    if (t === "behaviour" || t === "behavior") return (s.message || "?") + " " + (s.action || "") + " within " + (s.within || "?");
    if (t === "update_contact") return Object.keys(s).filter(function (k) { return ["set", "add_tags", "remove_tags", "lifecycle_stage", "score"].indexOf(k) >= 0; }).join(", ");
    if (t === "webhook") return s.url || "";
    if (t === "task") return s.title || "";
    if (t === "crm") return (s.system || "") + " " + (s.action || "");
    if (t === "enroll") return s.journey || "";
    if (t === "goal") return s.goal || "";
    if (t === "exit") return s.reason || "";
    return "";
  }

  function triggerText(t) {
    var k = Object.keys(t).filter(function (x) { return ["where", "key", "to"].indexOf(x) < 0; })[0];
    if (!k) return "?";
    if (k === "manual") return "manual";
    if (k === "date") return "date";
    return k.replace("_", " ") + ": " + t[k];
  }

  Builder.prototype.draw = function () {
    var self = this, ed = self.editor, steps = self.form.steps;
    self.rendering = true;
    ed.clear();
    var pos = self.positions();
    var trig = (self.form.journey.triggers || []).map(triggerText).join("; ");
    var firstY = steps.length ? pos[String(steps[0].id)][1] : 30;
    self.startNode = ed.addNode("start", 0, 1, 20, firstY, "df-start", { step: "" },
      '<div class="df-title">' + esc(window.TidingsText.start) + '</div><div class="df-sub">' + esc(trig) + "</div>");
    var ids = {};
    steps.forEach(function (s, i) {
      var id = String(s.id), outs = outputs(s, self.following(i));
      var labels = outs.map(function (o) { return esc(o.label); }).join(" · ");
      ids[id] = ed.addNode("step", 1, outs.length, pos[id][0], pos[id][1], "df-step df-" + esc(s.type) + (self.selected === id ? " df-chosen" : ""),
        { step: id },
        '<div class="df-title">' + esc(TYPE_LABEL[s.type] || s.type) + '</div><div class="df-id">' + esc(id) +
        '</div><div class="df-sub">' + esc(summary(s)) + "</div>" + (labels ? '<div class="df-outs">' + labels + "</div>" : ""));
    });
    if (steps.length) ed.addConnection(self.startNode, ids[String(steps[0].id)], "output_1", "input_1");
    steps.forEach(function (s, i) {
      outputs(s, self.following(i)).forEach(function (o, k) {
        var t = target(s, o);
        if (t !== "end" && ids[t]) ed.addConnection(ids[String(s.id)], ids[t], "output_" + (k + 1), "input_1");
      });
    });
    self.nodeIds = ids;
    self.rendering = false;
    self.drawList();
  };

  Builder.prototype.stepOfNode = function (nodeId) {
    var n = this.editor.drawflow.drawflow.Home.data[nodeId];
    return n ? n.data.step : undefined;
  };

  Builder.prototype.wire = function () {
    var self = this, ed = self.editor;
    ed.on("nodeSelected", function (nodeId) { if (!self.rendering) self.show(self.stepOfNode(nodeId) || ""); });
    ed.on("nodeMoved", function (nodeId) {
      var sid = self.stepOfNode(nodeId), n = ed.drawflow.drawflow.Home.data[nodeId];
      if (!sid || !n) return;
      self.form.layout = self.form.layout || {};
      self.form.layout[sid] = [Math.round(n.pos_x), Math.round(n.pos_y)];
      self.changed(false);
    });
    ed.on("connectionCreated", function (c) {
      if (self.rendering) return;
      var from = self.stepOfNode(c.output_id), to = self.stepOfNode(c.input_id);
      var k = parseInt(String(c.output_class).replace("output_", ""), 10) - 1;
      if (to === undefined || to === "") { self.draw(); return; }
      self.connect(from === "" ? null : from, k, to);
    });
    ed.on("connectionRemoved", function (c) {
      if (self.rendering) return;
      self.pendingRemovals.push(c);
      setTimeout(function () { self.flushRemovals(); }, 0);
    });
    ed.on("nodeRemoved", function (nodeId) {
      if (self.rendering) return;
      var sid = null;
      Object.keys(self.nodeIds || {}).forEach(function (k) { if (String(self.nodeIds[k]) === String(nodeId)) sid = k; });
      self.pendingRemovals = [];
      if (sid) self.deleteStep(sid); else self.draw();
    });
  };

  Builder.prototype.flushRemovals = function () {
    var self = this, data = self.editor.drawflow.drawflow.Home.data, done = false;
    self.pendingRemovals.forEach(function (c) {
      if (!data[c.output_id] || !data[c.input_id]) return;   // a node is going: nodeRemoved decides
      var from = data[c.output_id].data.step, k = parseInt(String(c.output_class).replace("output_", ""), 10) - 1;
      if (!from) { done = true; return; }
      var i = self.indexOf(from), s = self.form.steps[i];
      var o = outputs(s, self.following(i))[k];
      if (o) { put(s, o.path, "end"); done = true; }
    });
    self.pendingRemovals = [];
    if (done) self.changed(true);
  };

  /* ------------------------------------------------------------------ the list and the forms */

  Builder.prototype.drawList = function () {
    var self = this;
    if (!self.list) return;
    self.list.textContent = "";
    var items = [["", window.TidingsText.journeySettings]].concat(self.form.steps.map(function (s) {
      return [String(s.id), String(s.id) + " (" + (TYPE_LABEL[s.type] || s.type) + ")"];
    }));
    items.forEach(function (it) {
      var b = el("button", { type: "button", class: "link step-link" + (self.selected === it[0] ? " active" : ""), "data-step": it[0], text: it[1] });
      if (self.selected === it[0]) b.setAttribute("aria-current", "true");
      b.addEventListener("click", function () { self.show(it[0]); });
      self.list.appendChild(el("li", {}, [b]));
    });
  };

  Builder.prototype.show = function (id) {
    this.selected = id;
    this.panel.textContent = "";
    if (id === "" || id === null || id === undefined) this.journeyForm();
    else if (this.step(id)) this.stepForm(this.step(id));
    else this.journeyForm();
    this.drawList();
    var chosen = this.root.querySelectorAll(".drawflow-node");
    var nodeId = this.nodeIds ? this.nodeIds[id] : null;
    chosen.forEach(function (n) { n.classList.toggle("df-chosen", nodeId !== null && n.id === "node-" + nodeId); });
  };

  Builder.prototype.input = function (obj, key, label, kind, onDone) {
    var self = this, v = obj[key], i;
    if (kind === "bool") {
      i = el("input", { type: "checkbox" });
      i.checked = v === true;
      i.addEventListener("change", function () { if (i.checked) obj[key] = true; else delete obj[key]; self.changed(false); });
    } else if (kind === "json") {
      i = el("textarea", { class: "code", rows: 3 });
      i.value = v === undefined ? "" : JSON.stringify(v, null, 1);
      i.addEventListener("input", function () {
        if (!i.value.trim()) { delete obj[key]; i.classList.remove("invalid"); self.changed(false); return; }
        try { obj[key] = JSON.parse(i.value); i.classList.remove("invalid"); self.changed(false); } catch (e) { i.classList.add("invalid"); }
      });
    } else if (kind === "list") {
      i = el("input", { value: Array.isArray(v) ? v.join(", ") : (v === undefined ? "" : String(v)) });
      i.addEventListener("input", function () {
        var xs = i.value.split(",").map(function (x) { return x.trim(); }).filter(Boolean);
        if (xs.length || Array.isArray(v)) obj[key] = xs; else delete obj[key];
        self.changed(false);
      });
    } else if (kind === "number") {
      i = el("input", { type: "number", step: "any", value: v === undefined ? "" : v });
      i.addEventListener("input", function () { if (i.value === "") delete obj[key]; else obj[key] = Number(i.value); self.changed(false); });
    } else if (Array.isArray(kind)) {
      i = select([["", "(default)"]].concat(kind), v === undefined ? "" : v);
      i.addEventListener("change", function () { if (i.value === "") delete obj[key]; else obj[key] = i.value; self.changed(!!onDone); if (onDone) onDone(); });
    } else {
      var original = v;
      i = el("input", { value: v === undefined || v === null ? "" : (typeof v === "object" ? JSON.stringify(v) : String(v)) });
      i.addEventListener("input", function () {
        if (i.value === "") delete obj[key];
        else if (typeof original === "number" && /^-?\d+(\.\d+)?$/.test(i.value)) obj[key] = Number(i.value);
        else obj[key] = i.value;
        self.changed(!!onDone);
      });
    }
    i.name = "b-" + key;
    return labelled(label, i);
  };

  Builder.prototype.edgeSelect = function (s, o, i) {
    var self = this;
    var ids = self.form.steps.map(function (x) { return String(x.id); }).filter(function (x) { return x !== String(s.id); });
    var sel = select([["end", window.TidingsText.end]].concat(ids), target(s, o));
    sel.addEventListener("change", function () { put(s, o.path, sel.value); self.changed(true); self.show(String(s.id)); });
    sel.name = "b-edge-" + i;
    return labelled(window.TidingsText.goTo.replace("%s", o.label), sel);
  };

  Builder.prototype.stepForm = function (s) {
    var self = this, p = self.panel, o = self.opts;
    var i = self.indexOf(String(s.id));
    p.appendChild(el("h3", { text: (TYPE_LABEL[s.type] || s.type) }));
    var idInput = el("input", { value: s.id, name: "b-id" });
    var idBox = labelled("Step id", idInput);
    idInput.addEventListener("change", function () {
      var old = String(s.id);
      if (self.rename(old, idInput.value.trim())) { self.changed(true); self.show(String(s.id)); }
      else idInput.value = s.id;
    });
    p.appendChild(idBox);
    EXTRA_FIELDS.forEach(function (k) { p.appendChild(self.input(s, k, k === "name" ? "Label" : "Note", "text")); });
    (FORMS[s.type === "behavior" ? "behaviour" : s.type] || []).forEach(function (f) {
      var key = f[0], kind = f[1], label = f[2] || key;
      if (Array.isArray(kind)) p.appendChild(self.input(s, key, label, kind));
      else if (kind === "channel") p.appendChild(self.input(s, key, "Channel", o.channels, function () { self.show(String(s.id)); }));
      else if (kind === "category") p.appendChild(self.input(s, key, "Category", ["marketing", "transactional"]));
      else if (kind === "method") p.appendChild(self.input(s, key, "Method", ["GET", "POST", "PUT", "PATCH", "DELETE"]));
      else if (kind === "strategy") p.appendChild(self.input(s, key, "Strategy", ["fixed", "round_robin", "least_loaded"]));
      else if (kind === "action") p.appendChild(self.input(s, key, "Action", o.actions));
      else if (kind === "journey") p.appendChild(self.input(s, key, label, o.journeys));
      else if (kind === "message") {
        var sends = self.form.steps.filter(function (x) { return x.type === "send"; }).map(function (x) { return String(x.id); });
        p.appendChild(self.input(s, key, label, sends));
      } else if (kind === "template") self.templatePicker(s);
      else if (kind === "branches") self.branches(s);
      else if (kind === "variants") self.variants(s);
      else p.appendChild(self.input(s, key, label, kind, kind === "text" && key === "timeout" ? function () {} : null));
    });
    var outs = outputs(s, self.following(i));
    if (outs.length) {
      var box = el("fieldset", { class: "edges" }, [el("legend", { text: window.TidingsText.connections })]);
      outs.forEach(function (x, k) { box.appendChild(self.edgeSelect(s, x, k)); });
      p.appendChild(box);
    }
    var known = ["id", "type"].concat(EXTRA_FIELDS, (FORMS[s.type] || []).map(function (f) { return f[0]; }), outs.map(function (x) { return x.path[0]; }), ["next"]);
    var other = Object.keys(s).filter(function (k) { return known.indexOf(k) < 0; });
    if (other.length) p.appendChild(el("p", { class: "muted small", text: window.TidingsText.otherFields + " " + other.join(", ") }));
    var add = select(Object.keys(TYPE_LABEL).map(function (t) { return [t, TYPE_LABEL[t]]; }), "send");
    add.name = "b-add-after-type";
    var addB = el("button", { type: "button", id: "add-after", text: window.TidingsText.addAfter });
    addB.addEventListener("click", function () { self.addStep(add.value, String(s.id)); });
    var del = el("button", { type: "button", id: "delete-step", class: "danger", text: window.TidingsText.deleteStep });
    del.addEventListener("click", function () { self.deleteStep(String(s.id)); });
    p.appendChild(el("div", { class: "row mt" }, [labelled(window.TidingsText.newStepType, add), addB, del]));
  };

  Builder.prototype.templatePicker = function (s) {
    var self = this, p = self.panel;
    var list = self.opts.templates.filter(function (t) { return !s.channel || t.channel === s.channel; });
    var sel = select([["", "(choose a template)"]].concat(list.map(function (t) { return [t.key, t.name + " (" + t.key + ")"]; })), s.template || "");
    sel.name = "b-template";
    var frame = el("iframe", { class: "template-preview", title: "template preview", sandbox: "" });
    function preview() {
      if (s.template) frame.src = "/templates/" + encodeURIComponent(s.template) + "/preview.html";
      frame.hidden = !s.template;
    }
    sel.addEventListener("change", function () { if (sel.value) s.template = sel.value; else delete s.template; preview(); self.changed(true); });
    p.appendChild(labelled("Template", sel));
    p.appendChild(frame);
    preview();
  };

  Builder.prototype.branches = function (s) {
    var self = this, p = self.panel;
    if (!Array.isArray(s.branches)) s.branches = [];
    s.branches.forEach(function (b, j) {
      var box = el("fieldset", { class: "branch" }, [el("legend", { text: "When " + (j + 1) })]);
      var holder = el("div");
      box.appendChild(holder);
      var status = el("div", { class: "small error-text", role: "status" });
      box.appendChild(status);
      var rm = el("button", { type: "button", class: "small", text: "Remove this branch" });
      rm.addEventListener("click", function () { s.branches.splice(j, 1); self.changed(true); self.show(String(s.id)); });
      box.appendChild(rm);
      p.appendChild(box);
      var timer = null;
      var rb = R.mount(holder, null, {
        vocab: self.opts.rules,
        onChange: function (tree) {
          clearTimeout(timer);
          timer = setTimeout(function () {
            R.toText(tree).then(function (r) {
              if (r.text !== undefined) { b.when = r.text; status.textContent = ""; self.changed(false); }
              else status.textContent = r.error ? r.error.msg : "";
            });
          }, 250);
        }
      });
      R.fromText(b.when).then(function (r) { if (r.tree) rb.set(r.tree); else status.textContent = r.error ? r.error.msg : ""; });
    });
    var add = el("button", { type: "button", text: "+ Branch" });
    add.addEventListener("click", function () { s.branches.push({ when: 'tag("vip")', next: "end" }); self.changed(true); self.show(String(s.id)); });
    p.appendChild(add);
  };

  Builder.prototype.variants = function (s) {
    var self = this, p = self.panel;
    if (!Array.isArray(s.variants)) s.variants = [];
    s.variants.forEach(function (v, j) {
      var row = el("div", { class: "row" });
      row.appendChild(self.input(v, "name", "Variant " + (j + 1) + " name", "text", function () {}));
      row.appendChild(self.input(v, "weight", "Weight", "number"));
      var rm = el("button", { type: "button", class: "small", text: "Remove" });
      rm.addEventListener("click", function () { s.variants.splice(j, 1); self.changed(true); self.show(String(s.id)); });
      row.appendChild(rm);
      p.appendChild(row);
    });
    var add = el("button", { type: "button", text: "+ Variant" });
    add.addEventListener("click", function () {
      s.variants.push({ name: String.fromCharCode(97 + s.variants.length), weight: 50, next: "end" });
      self.changed(true); self.show(String(s.id));
    });
    p.appendChild(add);
  };

  var TRIGGER_VALUE = { event: "signed_up", segment_entered: "", segment_exited: "", attribute_changed: "", tag_added: "", tag_removed: "", manual: true, date: { attribute: "birthday", yearly: true } };

  Builder.prototype.journeyForm = function () {
    var self = this, p = self.panel, j = self.form.journey;
    p.appendChild(el("h3", { text: window.TidingsText.journeySettings }));
    p.appendChild(self.input(j, "key", "Key (lowercase, e.g. welcome-series)", "text", function () {}));
    p.appendChild(self.input(j, "name", "Name", "text", function () {}));
    p.appendChild(self.input(j, "description", "Description", "text"));
    if (!Array.isArray(j.triggers)) j.triggers = [];
    var tbox = el("fieldset", { class: "triggers" }, [el("legend", { text: "Triggers" })]);
    j.triggers.forEach(function (t, n) {
      var kinds = self.opts.trigger_types;
      var kind = Object.keys(t).filter(function (k) { return kinds.indexOf(k) >= 0; })[0] || "event";
      var row = el("div", { class: "row" });
      var ks = select(kinds, kind);
      ks.name = "b-trigger-kind-" + n;
      ks.addEventListener("change", function () {
        delete t[kind]; if (ks.value !== "event") delete t.where;
        t[ks.value] = TRIGGER_VALUE[ks.value]; self.changed(true); self.show("");
      });
      row.appendChild(labelled("Trigger " + (n + 1), ks));
      if (kind === "date") row.appendChild(self.input(t, "date", "Date (JSON)", "json"));
      else if (kind !== "manual") {
        var label = kind === "event" ? "Event name" : (kind.indexOf("segment") === 0 ? "Segment key" : (kind.indexOf("tag") === 0 ? "Tag" : "Attribute"));
        var inp = self.input(t, kind, label, "text", function () {});
        inp.querySelector("input").name = "b-trigger-" + n;
        row.appendChild(inp);
      }
      if (kind === "event") row.appendChild(self.input(t, "where", "Where (event filter)", "text"));
      var rm = el("button", { type: "button", class: "small", text: "Remove" });
      rm.addEventListener("click", function () { j.triggers.splice(n, 1); self.changed(true); self.show(""); });
      row.appendChild(rm);
      tbox.appendChild(row);
    });
    var addT = el("button", { type: "button", text: "+ Trigger" });
    addT.addEventListener("click", function () { j.triggers.push({ event: "" }); self.changed(true); self.show(""); });
    tbox.appendChild(addT);
    p.appendChild(tbox);

    if (j.settings === undefined) j.settings = {};
    var st = j.settings;
    var sbox = el("fieldset", { class: "settings" }, [el("legend", { text: "Settings" })]);
    var reentry = typeof st.reentry === "object" && st.reentry ? "after_days" : st.reentry;
    var rs = select([["", "(default: after_exit)"], "never", "after_exit", "per_key", "after_days"], reentry === undefined ? "" : reentry);
    rs.name = "b-reentry";
    rs.addEventListener("change", function () {
      if (rs.value === "") delete st.reentry;
      else if (rs.value === "after_days") st.reentry = { after_days: 30 };
      else st.reentry = rs.value;
      self.changed(false); self.show("");
    });
    sbox.appendChild(labelled("Re-entry", rs));
    if (reentry === "after_days") sbox.appendChild(self.input(st.reentry, "after_days", "Re-entry after (days)", "number"));
    sbox.appendChild(self.input(st, "category", "Category", ["marketing", "transactional"]));
    sbox.appendChild(self.input(st, "timezone", "Time zone", "text"));
    sbox.appendChild(self.input(st, "exit", "Exit when (JSON list of {event} or rules)", "json"));
    sbox.appendChild(self.input(st, "goal", "Goal (JSON list of {event, revenue})", "json"));
    sbox.appendChild(self.input(st, "suppress", "Suppress when (JSON)", "json"));
    sbox.appendChild(self.input(st, "frequency_cap", "Frequency caps (JSON: channel -> {max, per, action})", "json"));
    sbox.appendChild(self.input(st, "send_window", "Send window (JSON: {days, start, end})", "json"));
    sbox.appendChild(self.input(st, "quiet_hours", "Quiet hours (JSON: {start, end})", "json"));
    sbox.appendChild(self.input(st, "loop_limit", "Loop limit (JSON: 3 or {rounds, window})", "json"));
    sbox.appendChild(self.input(st, "control_group", "Control group (%)", "number"));
    sbox.appendChild(self.input(st, "exempt_from_caps", "Exempt from caps", "bool"));
    sbox.appendChild(self.input(st, "allow_owned", "Allow contacts with an owner", "bool"));
    sbox.appendChild(self.input(st, "signals", "Signals (names)", "list"));
    p.appendChild(sbox);
    var add = select(Object.keys(TYPE_LABEL).map(function (t) { return [t, TYPE_LABEL[t]]; }), "send");
    add.name = "b-add-first-type";
    var addB = el("button", { type: "button", id: "add-first", text: window.TidingsText.addFirst });
    addB.addEventListener("click", function () { self.addStep(add.value, ""); });
    p.appendChild(el("div", { class: "row mt" }, [labelled(window.TidingsText.newStepType, add), addB]));
  };

  /* ------------------------------------------------------------------ to and from the server */

  Builder.prototype.cleanForm = function () {
    var f = JSON.parse(JSON.stringify(this.form));
    if (f.journey.settings && !Object.keys(f.journey.settings).length && f.keys.indexOf("settings") < 0) delete f.journey.settings;
    if (f.journey.description === "" && f.keys.indexOf("description") < 0) delete f.journey.description;
    return f;
  };

  Builder.prototype.changed = function (redraw) {
    var self = this;
    if (self.locked) {   // the YAML does not load: never overwrite the text with the builder's empty form
      self.problems([{ msg: window.TidingsText.locked }]);
      return;
    }
    if (redraw) { self.draw(); self.show(self.selected); }
    clearTimeout(self.timer);
    self.root.dataset.state = "pending";   // until the server has written the YAML of the last change
    var seq = self.seq = (self.seq || 0) + 1;
    self.timer = setTimeout(function () {
      R.post("/journeys/builder/to-yaml", { form: self.cleanForm() }).then(function (r) {
        if (r.source !== undefined && seq === self.seq) self.source.value = r.source;
        self.problems(r.problems || []);
        if (seq === self.seq) self.root.dataset.state = "ready";
      });
    }, 300);
  };

  Builder.prototype.fromYaml = function () {
    var self = this;
    R.post("/journeys/builder/from-yaml", { source: self.source.value }).then(function (r) {
      if (r.form) { self.form = r.form; self.locked = false; self.draw(); self.show(self.step(self.selected) ? self.selected : ""); }
      self.problems(r.problems || []);
    });
  };

  Builder.prototype.problems = function (list) {
    var box = this.problemsBox;
    box.textContent = "";
    if (!list.length) { box.appendChild(el("div", { class: "alert ok small", id: "builder-valid", text: window.TidingsText.valid })); return; }
    var ul = el("ul", { class: "alert error small" });
    list.forEach(function (p) {
      var where = (p.line ? "line " + p.line + ": " : "") + (p.step ? "step " + p.step + ": " : "") + (p.loc && p.loc.length ? p.loc.join(".") + ": " : "");
      ul.appendChild(el("li", { text: where + p.msg }));
    });
    box.appendChild(ul);
  };

  function tabs() {
    var tabsEls = document.querySelectorAll("[role=tab][aria-controls]");
    tabsEls.forEach(function (t) {
      t.addEventListener("click", function () {
        tabsEls.forEach(function (o) {
          var on = o === t;
          o.setAttribute("aria-selected", on ? "true" : "false");
          document.getElementById(o.getAttribute("aria-controls")).hidden = !on;
        });
        if (t.dataset.onShow === "builder" && window.tidingsBuilder) window.tidingsBuilder.fromYaml();
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var root = document.getElementById("journey-builder");
    if (!root || typeof window.Drawflow === "undefined") return;
    R = window.TidingsRules; el = R.el; labelled = R.labelled; select = R.select;
    var data = JSON.parse(document.getElementById("builder-data").textContent);
    data.text = JSON.parse(document.getElementById("builder-text").textContent);
    window.TidingsText = data.text;
    Object.keys(data.text.types).forEach(function (k) { TYPE_LABEL[k] = data.text.types[k]; });
    var b = new Builder(root, data);
    b.locked = !data.loaded;
    window.tidingsBuilder = b;
    tabs();
    if (b.locked) document.getElementById("tab-yaml").click();
    var t = null;
    b.source.addEventListener("input", function () { clearTimeout(t); t = setTimeout(function () { b.fromYaml(); }, 600); });
    R.post("/journeys/builder/from-yaml", { source: b.source.value }).then(function (r) {
      b.problems(r.problems || []);   // checked, not rewritten: the YAML (and its comments) stays as it is
      root.dataset.ready = "1";
    });
  });
})();
