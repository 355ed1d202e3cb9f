/* Liandong map: one component for the console and the wall (Leaflet + leaflet.markercluster, vendored).
 *
 *   const m = LiandongMap.create(node, {config, districts, onSelect(id), onPick(lat, lon), canPick});
 *   m.setIncidents(list, {selectedId});  // {id, number, title, stateLabel, severity, urgency, breached, final, lat, lon}
 *   m.setUnits(list);                    // {callsign, department, status, statusLabel, lat, lon, stale}
 *   m.setPick(lat, lon);                 // the crosshair of a new incident's location; (null) clears it
 *   m.focus(id);                         // pan to an incident ({reveal: true}: also zoom in / spiderfy to show it)
 *   m.setPlanAreas(list);                // [{id, level: "IV".."I", codes: [district codes], label}]: response plans
 *                                        // in force, their districts outlined in the level's colour
 *   m.setMajorEventArea(area, {reveal}); // {id, points: [[lat, lon]...], codes: [district codes]} or null: one major
 *                                        // event's area (its incidents' hull, padded; its districts highlighted);
 *                                        // reveal: bring it into view (zoom in when it is tiny)
 *   m.invalidateSize();                  // after the container changed size
 *   (options also: layersCollapsed: false keeps the layers control open, e.g. on the wall)
 *
 * `config` is the page's map configuration (dispatch/web/views.py `_map_config`): `tile_url` (empty: no tiles, so
 * the map needs no network beyond this server), `tile_attribution`, and `layers` [{code, url, kind, name}]: the
 * city's own GeoJSON (roads, rivers, low points) drawn over the districts. Every base layer, the units and the
 * incidents can be switched off in the layers control; the legend explains the symbols.
 *
 * Incidents are clustered; a cluster shows its count and the colour of its most severe open member, and at the
 * deepest zoom it spiderfies, so reports at one spot can each be clicked. Clicking an incident calls onSelect(id);
 * clicking anywhere else (a district, a road, empty ground) calls onPick(lat, lon) when canPick.
 */
(function () {
  "use strict";

  const lang = String((window.LIANDONG && window.LIANDONG.lang) || document.documentElement.lang || "en").toLowerCase();
  const ESC = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"};
  const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ESC[c]);
  const isNum = (v) => typeof v === "number" && Number.isFinite(v);
  const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, Math.round(Number(v) || lo)));

  /** A bilingual name ({en, zh}) in the page's language; a plain string as it is. */
  function nameOf(name, fallback) {
    if (!name) return fallback || "";
    if (typeof name === "string") return name;
    const zh = lang.startsWith("zh") ? (name.zh || name["zh-hans"] || name.zh_hans) : null;
    return zh || name.en || Object.values(name)[0] || fallback || "";
  }

  const UNIT_STATUSES = {
    available: gettext("Available"), busy: gettext("Busy"), en_route: gettext("En route"),
    on_scene: gettext("On scene"), off_duty: gettext("Off duty"), out_of_service: gettext("Out of service"),
  };
  const LAYER_LABELS = {
    districts: gettext("Districts"), roads: gettext("Main roads"), rivers: gettext("Rivers and lakes"),
    low_points: gettext("Low points"), units: gettext("Units"), incidents: gettext("Incidents"),
    plans: gettext("Response plan areas"),
  };
  const LOW_POINT_KINDS = {underpass: gettext("Underpass"), tunnel: gettext("Tunnel"), low_street: gettext("Low-lying street")};

  // Panes (z-index) keep the drawing order whatever order the layers load in: districts, water, roads, their
  // labels, then low points, units, incidents (Leaflet's marker pane, 600), the pick crosshair.
  const PANES = {lmDistricts: 310, lmWater: 320, lmRoads: 330, lmPlans: 340, lmMajor: 345, lmLabels: 450, lmLowPoints: 560,
                 lmUnits: 580, lmPick: 640};
  // Response plan levels (IV blue .. I red), as plans.css colours their badges.
  const PLAN_COLOURS = {IV: "#1e6fd9", III: "#f5cc18", II: "#ff7a1a", I: "#e0201f"};
  const PLAN_RANK = {IV: 0, III: 1, II: 2, I: 3};
  // A major event's area: a colour no plan level and no severity uses, padded around its incidents so one incident
  // (or two) still draws an area; the padding also keeps the markers inside the outline at every zoom.
  const MAJOR_COLOUR = "#c86bfa";
  const MAJOR_PAD_M = 250;
  const MAJOR_MIN_PX = 120;   // a revealed area smaller than this on screen is zoomed to
  const METRES_PER_DEGREE = 111195;
  const DISTRICT_FILLS = ["#15212c", "#182633", "#142029", "#1a2936"];
  const PICK_SVG = '<svg viewBox="-18 -18 36 36" width="36" height="36" aria-hidden="true">' +
    '<circle r="10"/><path d="M-17 0H-5M5 0H17M0 -17V-5M0 5V17"/></svg>';

  /** A divIcon whose element carries attributes (data-testid, data-id...): tests and the wall find markers by them. */
  const TaggedIcon = L.DivIcon.extend({
    createIcon(old) {
      const div = L.DivIcon.prototype.createIcon.call(this, old);
      for (const [k, v] of Object.entries(this.options.attrs || {})) div.setAttribute(k, v);
      return div;
    },
  });

  function incidentIcon(inc, selected) {
    const sev = clamp(inc.severity, 1, 5), size = 12 + 3 * clamp(inc.urgency ?? inc.severity, 1, 5);  // 15..27 px
    const cls = ["lm-inc", "lm-sev" + sev, inc.breached ? "breached" : "", inc.final ? "final" : "", selected ? "selected" : ""];
    return new TaggedIcon({
      className: cls.filter(Boolean).join(" "), iconSize: [size, size], iconAnchor: [size / 2, size / 2],
      html: (inc.breached ? '<span class="lm-ring"></span>' : "") + '<span class="lm-dot"></span>',
      attrs: {"data-testid": "marker", "data-id": inc.id, "data-severity": sev},
    });
  }
  function incidentTitle(inc) {
    return [inc.number, inc.title, inc.stateLabel, inc.breached ? gettext("SLA breached") : ""].filter(Boolean).join(" · ");
  }

  /** A cluster: its count, in the colour of its most severe open member (of all members when every one is closed). */
  function clusterIcon(cluster, selectedId) {
    const kids = cluster.getAllChildMarkers().map((m) => m.incident);
    const open = kids.filter((i) => !i.final);
    const sev = Math.max(1, ...(open.length ? open : kids).map((i) => clamp(i.severity, 1, 5)));
    const n = cluster.getChildCount(), size = n < 10 ? 30 : n < 100 ? 36 : 42;
    const cls = ["lm-cluster", "lm-sev" + sev, kids.some((i) => i.breached) ? "breached" : "",
                 open.length ? "" : "final", kids.some((i) => i.id === selectedId) ? "selected" : ""];
    const title = interpolate(ngettext("%s incident", "%s incidents", n), [n]);
    return new TaggedIcon({
      className: cls.filter(Boolean).join(" "), iconSize: [size, size], iconAnchor: [size / 2, size / 2],
      html: `<span class="lm-count">${n}</span>`,
      attrs: {"data-testid": "cluster", "data-count": n, "data-severity": sev, title},
    });
  }

  function unitIcon(u) {
    const cls = ["lm-unit", "lm-unit-" + (u.status || "unknown"), u.stale ? "stale" : ""];
    return new TaggedIcon({
      className: cls.filter(Boolean).join(" "), iconSize: [12, 12], iconAnchor: [6, 6],
      html: `<span class="lm-sq"></span><span class="lm-label">${esc(u.callsign)}</span>`,
      attrs: {"data-testid": "unit-marker", "data-callsign": u.callsign, "data-status": u.status || ""},
    });
  }

  const lowPointIcon = (kind) => new TaggedIcon({
    className: "lm-lowpoint lm-lowpoint-" + (kind || "other"), iconSize: [18, 18], iconAnchor: [9, 9],
    html: '<span class="lm-drop" aria-hidden="true">▼</span>', attrs: {"data-testid": "low-point"},
  });

  /** The legend (bottom left, beside the city rather than over it; folded or not as the user last left it):
   * severity colours, breached / closed / selected, clusters, unit statuses, low points. */
  const LEGEND_KEY = "liandong.map.legend";
  const Legend = L.Control.extend({
    options: {position: "bottomleft"},
    onAdd() {
      const box = L.DomUtil.create("details", "lm-legend leaflet-control");
      box.setAttribute("data-testid", "map-legend");
      let open = true;
      try { open = localStorage.getItem(LEGEND_KEY) !== "closed"; } catch (e) { /* private mode */ }
      box.open = open;
      box.addEventListener("toggle", () => { try { localStorage.setItem(LEGEND_KEY, box.open ? "open" : "closed"); } catch (e) { /* */ } });
      const key = (symbol, text) => `<li>${symbol}<span>${esc(text)}</span></li>`;
      const sev = [1, 2, 3, 4, 5].map((s) => `<span class="lm-sw lm-sev${s}">${s}</span>`).join("");
      box.innerHTML =
        `<summary>${esc(gettext("Legend"))}</summary>` +
        `<div class="lm-sevs" title="${esc(gettext("Severity"))}"><span>${esc(gettext("Severity"))}</span>${sev}</div>` +
        "<ul>" +
        key('<span class="lm-sw lm-sev5 lm-breached-key"></span>', gettext("SLA breached")) +
        key('<span class="lm-sw lm-sev3 lm-final-key"></span>', gettext("Closed")) +
        key('<span class="lm-sw lm-sev2 lm-selected-key"></span>', gettext("Selected")) +
        key('<span class="lm-cl-key">n</span>', gettext("Cluster")) +
        key('<span class="lm-sq lm-unit-available"></span>', UNIT_STATUSES.available) +
        key('<span class="lm-sq lm-unit-busy"></span>', UNIT_STATUSES.busy) +
        key('<span class="lm-sq lm-unit-en_route"></span>', UNIT_STATUSES.en_route) +
        key('<span class="lm-sq lm-unit-on_scene"></span>', UNIT_STATUSES.on_scene) +
        key('<span class="lm-sq lm-unit-off_duty"></span>', gettext("Unavailable")) +
        key('<span class="lm-sq lm-unit-available stale"></span>', gettext("GPS not current")) +
        key('<span class="lm-drop">▼</span>', gettext("Low point")) +
        key('<span class="lm-sw lm-plan-key"></span>', gettext("Response plan area")) +
        key('<span class="lm-sw lm-major-key"></span>', gettext("Major event area")) +
        "</ul>";
      box.title = gettext("Cluster: the number of incidents there, in the colour of the most severe. Squares: units.");
      L.DomEvent.disableClickPropagation(box);
      L.DomEvent.disableScrollPropagation(box);
      return box;
    },
  });

  /** The convex hull (lat/lon ring) of the points, each widened to a circle of ``pad`` metres: an area for one, two
   * or many incidents. Planar over a city (longitudes scaled by the cosine of the mean latitude). */
  function paddedHull(points, pad) {
    const pts = points.filter((p) => isNum(p[0]) && isNum(p[1]));
    if (!pts.length) return [];
    const lat0 = pts.reduce((sum, p) => sum + p[0], 0) / pts.length, k = Math.cos(lat0 * Math.PI / 180) || 1;
    const r = pad / METRES_PER_DEGREE, cloud = [];
    for (const [lat, lon] of pts) {
      for (let i = 0; i < 16; i++) {
        const a = (i / 16) * 2 * Math.PI;
        cloud.push([lon * k + r * Math.cos(a), lat + r * Math.sin(a)]);
      }
    }
    cloud.sort((p, q) => p[0] - q[0] || p[1] - q[1]);
    const cross = (o, a, b) => (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
    const half = (list) => {   // Andrew's monotone chain
      const out = [];
      for (const p of list) {
        while (out.length >= 2 && cross(out[out.length - 2], out[out.length - 1], p) <= 0) out.pop();
        out.push(p);
      }
      out.pop();
      return out;
    };
    return [...half(cloud), ...half([...cloud].reverse())].map(([x, y]) => [y, x / k]);
  }

  /** Give a drawn path's element attributes (again each time its layer is shown): tests and the wall find it. */
  function tagPath(path, attrs) {
    const apply = () => {
      const node = path.getElement && path.getElement();
      if (node) for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    };
    apply();
    path.on("add", apply);
  }

  function create(node, opts) {
    opts = opts || {};
    const config = opts.config || {};
    const canPick = !!opts.canPick;
    node.classList.add("lm-map");
    node.classList.toggle("lm-can-pick", canPick);
    node.classList.toggle("lm-no-tiles", !config.tile_url);
    // maxZoom must be finite for the clusters (no tile layer sets one); fractional zoom fits the city snugly.
    const map = L.map(node, {minZoom: 9, maxZoom: 18, zoomSnap: 0.25, zoomDelta: 0.5, wheelPxPerZoomLevel: 120,
                             zoomControl: false});
    L.control.zoom({zoomInTitle: gettext("Zoom in"), zoomOutTitle: gettext("Zoom out")}).addTo(map);
    for (const [name, z] of Object.entries(PANES)) map.createPane(name).style.zIndex = z;
    map.getPane("lmLabels").style.pointerEvents = "none";
    map.getPane("lmPick").style.pointerEvents = "none";

    const overlays = [];   // [label html, layer], in the control's order
    const label = (code, name) => `<span data-layer="${esc(code)}">${esc(name || LAYER_LABELS[code] || code)}</span>`;

    if (config.tile_url) {   // an on-premises tile server; without one the GeoJSON layers are the whole base map
      L.tileLayer(config.tile_url, {attribution: config.tile_attribution || "", maxZoom: 18}).addTo(map);
    }

    let group = null;   // the incidents' cluster group (below), made once the map has a view
    /** A click on the ground (districts are not interactive, so it reaches the map), a road, water, a low point or
     * a unit sets the new incident's location. It also folds an open spider away, as a click on the map does. */
    function pickAt(latlng) {
      if (group) group.unspiderfy();
      if (canPick && opts.onPick) opts.onPick(latlng.lat, latlng.lng);
    }
    map.on("click", (e) => pickAt(e.latlng));

    // ---- districts (from GET /api/districts/)
    const features = Array.isArray(opts.districts) ? opts.districts : ((opts.districts || {}).features || []);
    let fi = 0;
    const districts = L.geoJSON({type: "FeatureCollection", features}, {
      pane: "lmDistricts", interactive: false,
      style: () => ({color: "#3e5468", weight: 2, fillColor: DISTRICT_FILLS[fi++ % 4], fillOpacity: config.tile_url ? 0.15 : 1}),
      onEachFeature(f, layer) {
        const p = f.properties || {};
        layer.bindTooltip(esc(p.display_name || nameOf(p.name, p.code)),
                          {permanent: true, direction: "center", className: "lm-district-label", pane: "lmLabels"});
      },
    }).addTo(map);
    overlays.push([label("districts"), districts]);

    // ---- response plan areas (setPlanAreas): above roads and water, below the labels; not clickable
    map.getPane("lmPlans").style.pointerEvents = "none";
    const planAreas = L.layerGroup().addTo(map);
    overlays.push([label("plans"), planAreas]);
    // ---- a major event's area (setMajorEventArea): above the plans' outlines; not clickable
    map.getPane("lmMajor").style.pointerEvents = "none";
    const majorArea = L.layerGroup().addTo(map);
    let fitted = !!features.length;
    if (fitted) map.fitBounds(districts.getBounds(), {padding: [8, 8]});
    else map.setView(config.center || [0, 0], config.zoom || 12);   // a view first: the cluster group needs one
    // Leaflet notices window resizes only; a layout change (a panel opening, the wall's grid) must be told. A map
    // created while hidden (zero size) is fitted again once it has a size.
    if (window.ResizeObserver) {
      let refit = !node.clientWidth || !node.clientHeight;
      new ResizeObserver(() => {
        if (!node.clientWidth || !node.clientHeight) return;
        map.invalidateSize({debounceMoveend: true});
        if (refit && features.length) { refit = false; map.fitBounds(districts.getBounds(), {padding: [8, 8]}); }
      }).observe(node);
    }

    // ---- the city's own layers (config.layers), drawn when each file arrives, listed in the configured order
    for (const spec of config.layers || []) {
      const layerGroup = L.layerGroup().addTo(map);
      overlays.push([label(spec.code, nameOf(spec.name) || LAYER_LABELS[spec.kind]), layerGroup]);
      fetch(spec.url, {credentials: "same-origin"})
        .then((r) => (r.ok ? r.json() : Promise.reject(new Error(r.status))))
        .then((data) => {
          const layer = cityLayer(spec.kind, data, pickAt);
          layerGroup.addLayer(layer);
          if (!fitted && layer.getBounds && layer.getBounds().isValid()) { map.fitBounds(layer.getBounds()); fitted = true; }
        })
        .catch((err) => console.warn("map layer", spec.code, err));   // a missing layer must not break the page
    }

    // ---- units (not clustered; labels from zoom 14)
    const units = L.layerGroup().addTo(map);
    overlays.push([label("units"), units]);
    const syncZoomClass = () => node.classList.toggle("lm-zoomed", map.getZoom() >= 14);
    map.on("zoomend", syncZoomClass);
    syncZoomClass();

    // ---- incidents
    let selectedId = null;
    const markers = new Map();   // id -> L.Marker (with .incident, .lmSig, .lmPos)
    group = L.markerClusterGroup({
      maxClusterRadius: 60, showCoverageOnHover: false, spiderfyOnMaxZoom: true, zoomToBoundsOnClick: true,
      spiderfyDistanceMultiplier: 1.5, spiderLegPolylineOptions: {weight: 1.5, color: "#8ea0b2", opacity: 0.7},
      iconCreateFunction: (cluster) => clusterIcon(cluster, selectedId),
    }).addTo(map);
    overlays.push([label("incidents"), group]);

    const pick = L.marker([0, 0], {
      pane: "lmPick", interactive: false, keyboard: false,
      icon: new TaggedIcon({className: "lm-pick", iconSize: [36, 36], iconAnchor: [18, 18], html: PICK_SVG,
                            attrs: {"data-testid": "map-pick"}}),
    });

    const layersControl = L.control.layers(null, Object.fromEntries(overlays),
                                           {collapsed: opts.layersCollapsed !== false, position: "topright"}).addTo(map);
    const layersBox = layersControl.getContainer();
    layersBox.setAttribute("data-testid", "map-layers");
    layersBox.querySelector(".leaflet-control-layers-toggle").title = gettext("Map layers");   // Leaflet's is English
    new Legend().addTo(map);

    function makeMarker(inc, selected) {
      const m = L.marker([inc.lat, inc.lon], {icon: incidentIcon(inc, selected), title: incidentTitle(inc), riseOnHover: true});
      m.on("click", () => { if (opts.onSelect) opts.onSelect(m.incident.id); });
      return m;
    }
    const zOf = (inc, selected) => (selected ? 10000 : 0) + (inc.breached ? 1000 : 0) + (inc.final ? -1000 : 0) + 10 * (inc.urgency || 0);

    /** Upsert the incidents by id: only changed markers are redrawn, so a spiderfied cluster stays open. */
    function setIncidents(list, options) {
      const wasSelected = selectedId;
      selectedId = (options && options.selectedId) ?? null;
      const seen = new Set(), add = [], remove = [], changed = [];
      for (const inc of list || []) {
        if (!isNum(inc.lat) || !isNum(inc.lon)) continue;
        seen.add(inc.id);
        const sel = inc.id === selectedId;
        const sig = JSON.stringify([inc.number, inc.title, inc.stateLabel, inc.severity, inc.urgency, !!inc.breached, !!inc.final, sel]);
        let m = markers.get(inc.id);
        if (m && (m.lmPos[0] !== inc.lat || m.lmPos[1] !== inc.lon)) { remove.push(m); m = null; }   // moved: re-cluster
        if (!m) {
          m = makeMarker(inc, sel);
          m.setZIndexOffset(zOf(inc, sel));
          add.push(m);
        } else if (m.lmSig !== sig) {
          m.options.title = incidentTitle(inc);
          m.incident = inc;
          m.setIcon(incidentIcon(inc, sel));
          if (!m._spiderLeg) m.setZIndexOffset(zOf(inc, sel));   // a spiderfied marker keeps the spider's z-index
          changed.push(m);
        }
        m.incident = inc;
        m.lmSig = sig;
        m.lmPos = [inc.lat, inc.lon];
        markers.set(inc.id, m);
      }
      for (const [id, m] of markers) if (!seen.has(id)) { remove.push(m); markers.delete(id); }
      if (remove.length) group.removeLayers(remove);
      if (add.length) group.addLayers(add);
      if (changed.length) group.refreshClusters(changed);
      else if (wasSelected !== selectedId) group.refreshClusters();   // the "selected" ring moves between clusters
    }

    function setUnits(list) {
      units.clearLayers();
      for (const u of list || []) {
        if (!isNum(u.lat) || !isNum(u.lon)) continue;
        const text = [u.callsign, u.department, u.statusLabel || UNIT_STATUSES[u.status] || u.status,
                      u.stale ? gettext("position not current") : ""].filter(Boolean).join(" · ");
        L.marker([u.lat, u.lon], {icon: unitIcon(u), pane: "lmUnits", keyboard: false, title: text})
          .on("click", (e) => pickAt(e.latlng))
          .addTo(units);
      }
    }

    function setPick(lat, lon) {
      if (isNum(lat) && isNum(lon)) pick.setLatLng([lat, lon]).addTo(map);
      else pick.remove();
    }

    /** Outline the districts of the plans in force; a district in several areas takes the highest level. */
    function setPlanAreas(list) {
      planAreas.clearLayers();
      const best = new Map();
      for (const area of list || []) {
        for (const code of area.codes || []) {
          const cur = best.get(code);
          if (!cur || (PLAN_RANK[area.level] ?? -1) > (PLAN_RANK[cur.level] ?? -1)) best.set(code, area);
        }
      }
      for (const f of features) {
        const code = (f.properties || {}).code, area = best.get(code);
        if (!area) continue;
        const colour = PLAN_COLOURS[area.level] || "#f0b429";
        const layer = L.geoJSON(f, {
          pane: "lmPlans", interactive: false,
          style: () => ({color: colour, weight: 4, opacity: 0.95, dashArray: "10 6", fillColor: colour, fillOpacity: 0.14,
                         className: "lm-plan-area lm-plan-" + area.level}),
        }).addTo(planAreas);
        layer.eachLayer((path) => tagPath(path, {"data-testid": "plan-area", "data-district": code, "data-level": area.level,
                                                 "data-activation": area.id}));
      }
    }

    /** Draw one major event's area (null clears it): its districts tinted, its incidents' padded hull outlined. */
    function setMajorEventArea(area, options) {
      majorArea.clearLayers();
      if (!area) return;
      const codes = new Set(area.codes || []);
      for (const f of features) {
        const code = (f.properties || {}).code;
        if (!codes.has(code)) continue;
        L.geoJSON(f, {
          pane: "lmMajor", interactive: false,
          style: () => ({color: MAJOR_COLOUR, weight: 1.5, opacity: 0.7, fillColor: MAJOR_COLOUR, fillOpacity: 0.07,
                         className: "lm-major-district"}),
        }).addTo(majorArea).eachLayer((path) => tagPath(path, {"data-testid": "major-event-district", "data-district": code,
                                                                "data-major-event": area.id}));
      }
      const ring = paddedHull(area.points || [], MAJOR_PAD_M);
      if (ring.length < 3) return;
      const hull = L.polygon(ring, {pane: "lmMajor", interactive: false, color: MAJOR_COLOUR, weight: 3, opacity: 0.95,
                                    dashArray: "2 7", lineCap: "round", fillColor: MAJOR_COLOUR, fillOpacity: 0.16,
                                    className: "lm-major-area"}).addTo(majorArea);
      tagPath(hull, {"data-testid": "major-event-area", "data-major-event": area.id});
      // Revealed (its row expanded): brought into view, and zoomed in when it is too small to be seen under a cluster.
      const bounds = hull.getBounds();
      if (options && options.reveal) {
        const sw = map.latLngToContainerPoint(bounds.getSouthWest()), ne = map.latLngToContainerPoint(bounds.getNorthEast());
        const small = Math.min(Math.abs(ne.x - sw.x), Math.abs(sw.y - ne.y)) < MAJOR_MIN_PX;
        if (small || !map.getBounds().contains(bounds)) map.fitBounds(bounds.pad(0.4), {maxZoom: 15});
      }
    }

    function focus(id, options) {
      const m = markers.get(Number(id));
      if (!m) return;
      if (options && options.reveal) { group.zoomToShowLayer(m); return; }
      const at = L.latLng(m.lmPos);
      if (!map.getBounds().pad(-0.1).contains(at)) map.panTo(at);
    }

    return {
      setIncidents, setUnits, setPick, focus, setPlanAreas, setMajorEventArea,
      invalidateSize: () => map.invalidateSize(),
      map, incidents: group,   // for pages that need more (the wall)
    };
  }

  /** One of the city's layers as Leaflet layers, styled by its kind. */
  function cityLayer(kind, data, pickAt) {
    const tip = (f, layer, extra) => {
      const p = f.properties || {};
      const text = [nameOf(p.name, p.code), extra].filter(Boolean).join(" · ");
      if (text) layer.bindTooltip(esc(text), {sticky: kind !== "low_points", className: "lm-tip"});
      layer.on("click", (e) => pickAt(e.latlng));
    };
    if (kind === "low_points") {
      return L.geoJSON(data, {
        pointToLayer: (f, latlng) => L.marker(latlng, {icon: lowPointIcon((f.properties || {}).class), pane: "lmLowPoints", keyboard: false}),
        onEachFeature: (f, layer) => tip(f, layer, LOW_POINT_KINDS[(f.properties || {}).class]),
      });
    }
    if (kind === "rivers") {
      const width = {river: 7, canal: 4, creek: 3};
      return L.geoJSON(data, {
        pane: "lmWater",
        style: (f) => ({color: "#2b6d99", weight: width[(f.properties || {}).class] || 4, opacity: 0.9, lineCap: "round",
                        lineJoin: "round", fillColor: "#1d4f73", fillOpacity: 0.85}),
        onEachFeature: (f, layer) => tip(f, layer),
      });
    }
    if (kind === "roads") {
      return L.geoJSON(data, {
        pane: "lmRoads",
        style: (f) => ((f.properties || {}).class === "expressway"
          ? {color: "#7b8da0", weight: 4.5, opacity: 0.9, lineCap: "round", lineJoin: "round"}
          : {color: "#56697c", weight: 2.5, opacity: 0.9, lineCap: "round", lineJoin: "round"}),
        onEachFeature: (f, layer) => tip(f, layer),
      });
    }
    return L.geoJSON(data, {   // any other kind: plain lines, areas and dots
      pane: "lmRoads",
      style: () => ({color: "#8ea0b2", weight: 2, opacity: 0.8, fillOpacity: 0.2}),
      pointToLayer: (f, latlng) => L.circleMarker(latlng, {pane: "lmLowPoints", radius: 5, color: "#8ea0b2", weight: 2}),
      onEachFeature: (f, layer) => tip(f, layer),
    });
  }

  window.LiandongMap = {create, UNIT_STATUSES, nameOf};
})();
