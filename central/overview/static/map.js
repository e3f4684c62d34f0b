/* Central's case map: Leaflet on the appliance's own tiles (no internet), one marker per open
   case with coordinates (colour = priority, dark ring = an SOP step past its standard), kecamatan
   labels, refreshed every few seconds from /pusat/peta/kasus.json. No inline script (CSP). */
(function () {
  "use strict";
  var PRIORITY_COLOURS = { 1: "#c62828", 2: "#ef8f00", 3: "#2e7d32" };
  var BREACH_RING = "#4a0000";

  function text(s) {
    var span = document.createElement("span");
    span.textContent = s;
    return span.innerHTML;
  }

  function el(tag, attrs, content) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (content !== undefined) node.textContent = content;
    return node;
  }

  function popupFor(p, labels) {
    var box = el("div", { "class": "case-popup" });
    var title = el("a", { href: p.url }, p.case_no);
    var head = el("b");
    head.appendChild(title);
    box.appendChild(head);
    box.appendChild(el("div", {}, "P" + p.priority + " · " + p.type));
    box.appendChild(el("div", {}, [p.desa, p.kecamatan].filter(Boolean).join(", ")));
    box.appendChild(el("div", {}, labels.posko + ": " + p.posko + " · " + labels.age + " " + p.age_minutes + " " + labels.minutes));
    if (p.breaches > 0) box.appendChild(el("div", { "class": "popup-breach" }, p.breaches + " " + labels.breaches));
    box.appendChild(el("a", { href: p.url, "class": "button" }, labels.open));
    return box;
  }

  function start() {
    var holder = document.getElementById("case-map");
    if (!holder || !window.L) return;
    var d = holder.dataset;
    var b = JSON.parse(d.bounds);  // west, south, east, north
    var bounds = L.latLngBounds([b[1], b[0]], [b[3], b[2]]);
    var labels = { open: d.labelOpen, posko: d.labelPosko, age: d.labelAge, minutes: d.labelMinutes,
                   breaches: d.labelBreaches };
    var minZoom = parseInt(d.minZoom, 10), maxNative = parseInt(d.maxNativeZoom, 10);
    var center = JSON.parse(d.center || "null");  // [lon, lat, zoom] from the tile set's metadata
    var map = L.map(holder, { minZoom: minZoom, maxZoom: maxNative + 2, maxBounds: bounds.pad(0.2) });
    map.createPane("places").style.zIndex = 350;  // kecamatan labels below the case markers (400)
    if (center) map.setView([center[1], center[0]], center[2]); else map.fitBounds(bounds);
    L.tileLayer(d.tiles, {
      minZoom: minZoom, maxZoom: maxNative + 2, maxNativeZoom: maxNative, bounds: bounds.pad(0.1),
      attribution: text(d.attribution || ""), className: "offline-tiles"
    }).addTo(map);
    L.control.scale({ imperial: false }).addTo(map);

    JSON.parse(d.places || "[]").forEach(function (p) {
      L.circleMarker([p.lat, p.lon], { radius: 3, color: "#555", weight: 1, fillColor: "#fff", fillOpacity: 1,
                                       className: "place-marker", interactive: false, pane: "places" })
        .bindTooltip(p.kecamatan, { permanent: true, direction: p.label === "left" ? "left" : "right",
                                    className: "place-label", offset: [p.label === "left" ? -4 : 4, 0],
                                    pane: "places" })
        .addTo(map);
    });

    var layer = L.layerGroup().addTo(map);
    function draw(data) {
      layer.clearLayers();
      data.features.forEach(function (f) {
        var p = f.properties, c = f.geometry.coordinates;
        var breached = p.breaches > 0;
        var marker = L.circleMarker([c[1], c[0]], {
          radius: breached ? 10 : 8, weight: breached ? 4 : 2, color: breached ? BREACH_RING : "#fff",
          fillColor: PRIORITY_COLOURS[p.priority] || "#555", fillOpacity: 0.9,
          className: "case-marker" + (breached ? " case-breached" : "")
        }).bindPopup(popupFor(p, labels)).bindTooltip(p.case_no);
        marker.addTo(layer);
        var path = marker.getElement();
        if (path) {
          path.setAttribute("data-case", p.case_no);
          path.setAttribute("data-priority", String(p.priority));
        }
      });
      var open = document.getElementById("map-open"), breaches = document.getElementById("map-breaches");
      if (open) open.textContent = data.open_cases;
      if (breaches) breaches.textContent = data.breaches;
      holder.setAttribute("data-markers", String(data.features.length));
    }
    function refresh() {
      fetch(d.cases, { credentials: "same-origin", headers: { "X-Siaga-Poll": "1" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) { if (data) draw(data); })
        .catch(function () { /* offline for a moment: keep the last markers */ });
    }
    refresh();
    setInterval(refresh, (parseInt(d.refresh, 10) || 5) * 1000);
  }
  document.addEventListener("DOMContentLoaded", start);
})();
