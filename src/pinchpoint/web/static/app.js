/* pinchpoint: the body map's toggles, the live clinician assessment, print and delete prompts.
   Plain script, no library; every page also works without it. */
(function () {
  "use strict";

  function labelFor(input) {
    var label = input.closest("label");
    return label ? label.textContent.trim() : input.value;
  }

  /* The body map: each shape is a toggle button bound to the checkbox of its region. */
  function setUpMap(field) {
    var svg = field.querySelector("svg.bodymap[data-input-name]");
    if (!svg) { return; }
    var name = svg.getAttribute("data-input-name");
    var summary = field.querySelector("[data-selected-for]");
    var boxes = {};
    field.querySelectorAll('input[type="checkbox"][name="' + name + '"]').forEach(function (box) {
      boxes[box.value] = box;
    });
    function refresh() {
      var marked = [];
      svg.querySelectorAll(".region[data-region]").forEach(function (shape) {
        var box = boxes[shape.getAttribute("data-region")];
        var on = Boolean(box && box.checked);
        shape.classList.toggle("selected", on);
        shape.setAttribute("aria-pressed", on ? "true" : "false");
        if (on) { marked.push(labelFor(box)); }
      });
      if (summary) {
        var nowhere = field.querySelector('input[type="checkbox"][value="none"]');
        summary.textContent = marked.length ? "Marked: " + marked.join("; ")
          : (nowhere && nowhere.checked ? "Nowhere." : "Nothing marked yet.");
      }
    }
    function toggle(shape) {
      var box = boxes[shape.getAttribute("data-region")];
      if (!box) { return; }
      box.checked = !box.checked;
      box.dispatchEvent(new Event("change", { bubbles: true }));
    }
    svg.addEventListener("click", function (event) {
      var shape = event.target.closest(".region[data-region]");
      if (shape) { toggle(shape); }
    });
    svg.addEventListener("keydown", function (event) {
      var shape = event.target.closest(".region[data-region]");
      if (shape && (event.key === " " || event.key === "Enter" || event.key === "Spacebar")) {
        event.preventDefault();
        toggle(shape);
      }
    });
    field.addEventListener("change", refresh);
    refresh();
  }

  /* Clinician mode: send the form as it stands, debounced, and show the assessment. */
  function setUpLive(form) {
    var url = form.getAttribute("data-live");
    var panel = document.getElementById("live-panel");
    if (!url || !panel) { return; }
    var timer = null;
    var sent = 0;
    function update() {
      var ticket = ++sent;
      panel.setAttribute("aria-busy", "true");
      fetch(url, {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams(new FormData(form)).toString(),
        credentials: "same-origin"
      }).then(function (response) {
        return response.json().then(function (data) { return { status: response.status, data: data }; });
      }).then(function (reply) {
        if (ticket !== sent) { return; }
        if (reply.data.ok) {
          panel.innerHTML = reply.data.html;
          panel.setAttribute("data-triage", reply.data.triage);
        } else {
          var count = Object.keys(reply.data.errors || {}).length;
          panel.innerHTML = "";
          var note = document.createElement("p");
          note.className = "field-error";
          note.textContent = count + (count === 1 ? " answer needs" : " answers need") +
            " another look before the assessment can update: " +
            Object.values(reply.data.errors || {}).join(" ");
          panel.appendChild(note);
        }
      }).catch(function () {
        if (ticket !== sent) { return; }
        var note = document.createElement("p");
        note.className = "field-error";
        note.textContent = "The live assessment could not be updated; press “Assess and save” instead.";
        panel.replaceChildren(note);
      }).finally(function () {
        if (ticket === sent) { panel.setAttribute("aria-busy", "false"); }
      });
    }
    function schedule() {
      window.clearTimeout(timer);
      timer = window.setTimeout(update, 300);
    }
    form.addEventListener("input", schedule);
    form.addEventListener("change", schedule);
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-map]").forEach(setUpMap);
    /* "Skip the map": open the list of places and put the keyboard on it. */
    document.querySelectorAll("a[data-open-list]").forEach(function (link) {
      link.addEventListener("click", function (event) {
        var list = document.getElementById(link.getAttribute("href").slice(1));
        if (!list) { return; }
        event.preventDefault();
        list.open = true;
        list.querySelector("summary").focus();
      });
    });
    document.querySelectorAll("form[data-live]").forEach(setUpLive);
    /* A printed result is whole: open the folded parts while printing (browsers without
       ::details-content), and fold them again afterwards. */
    var opened = [];
    window.addEventListener("beforeprint", function () {
      opened = Array.prototype.filter.call(document.querySelectorAll("details.fold:not([open])"),
        function (fold) { fold.open = true; return true; });
    });
    window.addEventListener("afterprint", function () {
      opened.forEach(function (fold) { fold.open = false; });
      opened = [];
    });
    document.querySelectorAll("[data-print]").forEach(function (button) {
      button.addEventListener("click", function () { window.print(); });
    });
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
      });
    });
    var summary = document.getElementById("error-summary");
    if (summary) { summary.focus(); }
  });
}());
