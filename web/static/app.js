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

  // Buttons that ask before doing something irreversible.
  document.addEventListener("submit", function (ev) {
    var msg = ev.target.getAttribute("data-confirm");
    if (msg && !window.confirm(msg)) ev.preventDefault();
  });
})();
