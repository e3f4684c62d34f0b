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
  // Browsers keep audio muted until the page has been touched once: unlock it on the
  // first click or key press, so the alarm is audible on an unattended station later.
  function unlockAudio() {
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      if (audio.state === "suspended") audio.resume();
    } catch (e) { /* no audio */ }
  }
  document.addEventListener("click", unlockAudio, { once: true });
  document.addEventListener("keydown", unlockAudio, { once: true });

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

  // Keyboard: Alt+<key> clicks the element marked data-shortcut="<key>" (Alt+N new call,
  // Alt+P/G/I classify, Alt+S save intake, Alt+B board); Alt+digit jumps to the type list.
  document.addEventListener("keydown", function (ev) {
    if (!ev.altKey || ev.ctrlKey || ev.metaKey) return;
    var key = (ev.key || "").toLowerCase();
    var target = document.querySelector('[data-shortcut="' + key.replace(/["\\]/g, "") + '"]');
    if (target) {
      ev.preventDefault();
      target.click();
      return;
    }
    var select = document.getElementById("incident_type");
    if (select && /^[0-9]$/.test(key)) {
      select.focus();
      ev.preventDefault();
    }
  });
})();
