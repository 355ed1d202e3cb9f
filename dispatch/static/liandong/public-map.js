/* The public page's map (templates/public/figures.html): Leaflet (vendored), no tiles unless the city has its own
 * tile server (then its config.tile_url), the districts' outlines and the city's own layers (roads, rivers), and the
 * report counts per grid square: a square around each cell's centre, larger and darker with its count.
 *
 * Its data is the page's JSON (json_script "public-map-data", from public/services/figures.py public_map_data):
 *   {cells: [{lat, lon, count}], grid_metres, districts: [{code, name, polygon: [[lon, lat]...]}],
 *    config: {tile_url, tile_attribution, layers: [{code, kind, url}]}}
 * Only square centres and counts reach the page: never a report's own place. No inline style or script (CSP).
 */
(function () {
  "use strict";

  const node = document.getElementById("public-map");
  const source = document.getElementById("public-map-data");
  if (!node || !source || !window.L) return;
  const data = JSON.parse(source.textContent);
  const t = (s) => (window.gettext ? window.gettext(s) : s);
  const nt = (one, many, n) => (window.ngettext ? window.ngettext(one, many, n) : (n === 1 ? one : many));
  const fmt = (s, args) => (window.interpolate ? window.interpolate(s, args) : s.replace("%s", args[0]));
  const config = data.config || {};
  const METRES_PER_DEGREE = 111320;   // of latitude, as the grid (public/services/figures.py)

  const map = L.map(node, {minZoom: 8, maxZoom: 17, zoomSnap: 0.25, scrollWheelZoom: false, zoomControl: false});
  L.control.zoom({zoomInTitle: t("Zoom in"), zoomOutTitle: t("Zoom out")}).addTo(map);
  if (config.tile_url) {
    L.tileLayer(config.tile_url, {attribution: config.tile_attribution || "", maxZoom: 17}).addTo(map);
  } else {
    node.classList.add("pm-no-tiles");
  }

  const cells = L.featureGroup();   // the squares (below), drawn over everything else
  // ---- districts: outlines and names
  const districts = L.featureGroup().addTo(map);
  for (const d of data.districts || []) {
    const ring = (d.polygon || []).filter((p) => Array.isArray(p) && p.length >= 2).map(([lon, lat]) => [lat, lon]);
    if (ring.length < 3) continue;
    L.polygon(ring, {color: "#7d8ba0", weight: 1.5, fillColor: "#ffffff", fillOpacity: config.tile_url ? 0.1 : 0.9,
                     interactive: false})
      .bindTooltip(d.name || d.code, {permanent: true, direction: "center", className: "pm-district-label"})
      .addTo(districts);
  }

  // ---- the city's own layers (static GeoJSON files): roads and water under the squares
  const styles = {
    roads: {color: "#b9c2cf", weight: 2, opacity: 0.9},
    rivers: {color: "#8cc1e6", weight: 3, opacity: 0.9, fillColor: "#bcdcf2", fillOpacity: 0.8},
  };
  for (const spec of config.layers || []) {
    if (!styles[spec.kind]) continue;   // low points and the like are not for this page
    fetch(spec.url, {credentials: "same-origin"})
      .then((r) => (r.ok ? r.json() : Promise.reject(new Error(r.status))))
      .then((geo) => {
        L.geoJSON(geo, {style: () => styles[spec.kind], interactive: false}).addTo(map);
        cells.bringToFront();
      })
      .catch((err) => console.warn("map layer", spec.code, err));   // a missing layer must not break the page
  }

  // ---- the squares: each grid square drawn inside its own cell (never over a neighbour), larger and darker the more
  // reports it has; at the city's zoom they read as a density map, zoomed in as squares
  cells.addTo(map);
  const list = data.cells || [];
  const most = Math.max(1, ...list.map((c) => c.count));
  const half = (data.grid_metres || 200) / 2;
  for (const c of list) {
    const share = c.count / most;
    const h = half * (0.45 + 0.55 * Math.sqrt(share));   // metres from the centre to a side
    const dLat = h / METRES_PER_DEGREE, dLon = h / (METRES_PER_DEGREE * Math.cos(c.lat * Math.PI / 180));
    const square = L.rectangle([[c.lat - dLat, c.lon - dLon], [c.lat + dLat, c.lon + dLon]], {
      color: "#174f95", weight: 0.5, fillColor: "#1f6fd1", fillOpacity: 0.3 + 0.6 * share, className: "pm-cell",
    });
    square.bindTooltip(fmt(nt("%s report", "%s reports", c.count), [c.count]));
    square.count = c.count;
    square.addTo(cells);
  }

  const bounds = districts.getLayers().length ? districts.getBounds() : cells.getBounds();
  if (bounds.isValid()) map.fitBounds(bounds, {padding: [6, 6]});
  else map.setView([0, 0], 2);
  // The paths exist once the map has a view: tagged for tests (and anyone reading the page's markup).
  cells.eachLayer((marker) => {
    const el = marker.getElement();
    if (el) { el.setAttribute("data-testid", "cell"); el.setAttribute("data-count", String(marker.count)); }
  });
  node.setAttribute("data-ready", "true");
  if (window.ResizeObserver) new ResizeObserver(() => map.invalidateSize()).observe(node);
})();
