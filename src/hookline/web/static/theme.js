// Light or dark: the system's choice (prefers-color-scheme) unless the toggle in the
// header chose one, kept in localStorage. Loaded in <head>, before the page paints.
(function () {
  "use strict";
  var KEY = "hookline-theme";
  var root = document.documentElement;
  var chosen = null;
  try { chosen = window.localStorage.getItem(KEY); } catch (error) { chosen = null; }
  if (chosen === "light" || chosen === "dark") { root.setAttribute("data-theme", chosen); }
  function current() {
    var set = root.getAttribute("data-theme");
    if (set) { return set; }
    return window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
  }
  function label(button) {
    var next = current() === "dark" ? "light" : "dark";
    button.textContent = next === "dark" ? "Dark mode" : "Light mode";
    button.setAttribute("aria-label", "Switch to " + next + " mode");
  }
  document.addEventListener("DOMContentLoaded", function () {
    var button = document.querySelector("[data-theme-toggle]");
    if (!button) { return; }
    button.hidden = false;
    label(button);
    button.addEventListener("click", function () {
      var next = current() === "dark" ? "light" : "dark";
      root.setAttribute("data-theme", next);
      try { window.localStorage.setItem(KEY, next); } catch (error) { /* private mode */ }
      label(button);
    });
  });
})();
