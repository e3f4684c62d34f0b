/* Siaga 112 progressive enhancement: everything works without this file; with it,
   htmx requests carry the CSRF token, polling is marked as passive (so sessions still
   time out), keyboard shortcuts work, and new dispatches ring an alarm. */
(function () {
  "use strict";
  var token = document.querySelector('meta[name="csrf-token"]');
  document.addEventListener("htmx:configRequest", function (ev) {
    if (token) ev.detail.headers["X-CSRFToken"] = token.content;
    var elt = ev.detail.elt;
    if (elt && elt.hasAttribute("data-poll")) ev.detail.headers["X-Siaga-Poll"] = "1";
  });

  // Alarm: a short two-tone beep from WebAudio (no sound file to ship).
  var audio = null;
  function beep() {
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      [0, 0.35, 0.7].forEach(function (t, i) {
        var osc = audio.createOscillator(), gain = audio.createGain();
        osc.frequency.value = i % 2 ? 660 : 880;
        osc.connect(gain); gain.connect(audio.destination);
        gain.gain.setValueAtTime(0.25, audio.currentTime + t);
        osc.start(audio.currentTime + t); osc.stop(audio.currentTime + t + 0.25);
      });
    } catch (e) { /* no audio device: the visual alert still shows */ }
  }
  window.siagaBeep = beep;

  function checkAlerts(root) {
    var flag = (root || document).querySelector("[data-new-dispatches]");
    if (!flag) return;
    var n = parseInt(flag.getAttribute("data-new-dispatches"), 10) || 0;
    var base = document.title.replace(/^\(\d+\) /, "");
    document.title = n > 0 ? "(" + n + ") " + base : base;
    document.body.classList.toggle("alerting", n > 0);
    if (n > 0) beep();
  }
  document.addEventListener("DOMContentLoaded", function () { checkAlerts(document); });
  document.addEventListener("htmx:afterSwap", function (ev) { checkAlerts(ev.detail.target); });

  // Keyboard: on the intake page number keys with Alt pick the incident type quickly.
  document.addEventListener("keydown", function (ev) {
    if (!ev.altKey) return;
    var select = document.getElementById("incident_type");
    if (select && /^[0-9]$/.test(ev.key)) {
      select.focus();
      ev.preventDefault();
    }
  });
})();
