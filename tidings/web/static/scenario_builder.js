/* The Simulation page's scenario builder: add and remove rows (attributes, events, event
   properties) in place. Without this file the same buttons post the form and the server
   returns the page with the row added or removed. No inline script: the markup carries
   data-rows (a list), data-template (its empty row, "__n__" / "__i__" to number) and
   data-row-add / data-row-remove (the buttons). */
(function () {
  "use strict";
  var made = 1000;  // numbers for added rows' ids, never reused on the page

  function nextIndex(form) {
    var max = -1;
    form.querySelectorAll("[data-event]").forEach(function (el) {
      var i = parseInt(el.dataset.index, 10);
      if (!isNaN(i) && i > max) max = i;
    });
    return max + 1;
  }

  function addRow(form, kind) {
    var list = form.querySelector('[data-rows="' + kind + '"]');
    var template = form.querySelector('template[data-template="' + kind + '"]');
    if (!list || !template) return null;
    var html = template.innerHTML;
    if (kind === "event") html = html.replace(/__i__/g, String(nextIndex(form)));  // its rows keep __n__
    else html = html.replace(/__n__/g, String(made++));
    var holder = document.createElement(list.tagName === "TBODY" ? "tbody" : "div");
    holder.innerHTML = html.trim();
    var row = holder.firstElementChild;
    list.appendChild(row);
    var first = row.querySelector("input, select");
    if (first) first.focus();
    return row;
  }

  function wire(form) {
    if (form.dataset.wired) return;
    form.dataset.wired = "1";
    form.addEventListener("click", function (e) {
      var button = e.target.closest("button");
      if (!button || !form.contains(button)) return;
      if (button.hasAttribute("data-row-add")) {
        e.preventDefault();
        addRow(form, button.getAttribute("data-row-add"));
      } else if (button.hasAttribute("data-row-remove")) {
        e.preventDefault();
        var row = button.closest("[data-row]");
        var list = row && row.parentElement;
        if (row) row.remove();
        var focus = list && list.querySelector("input");
        if (focus) focus.focus();
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-scenario-builder]").forEach(wire);
  });
})();
