"""What the benchmark sends: a realistic mix of incidents in the demo city, and open-loop send schedules."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from pathlib import Path

import yaml

CITY = Path(__file__).resolve().parents[1] / "departments" / "demo" / "city.yaml"

# Share of reports per event type and severity (a wet-season day: floods and collisions dominate).
EVENT_MIX = {"traffic_accident": 35, "waterlogging": 30, "road_collapse": 15, "air_pollution": 10, "hazmat_spill": 10}
SEVERITY_MIX = {1: 10, 2: 25, 3: 35, 4: 20, 5: 10}
TITLES = {
    "traffic_accident": ["Rear-end collision", "Bus and car collision", "Scooter down at crossing"],
    "waterlogging": ["Underpass flooded", "Street under water", "Drain overflowing"],
    "road_collapse": ["Sinkhole in lane", "Pavement subsided", "Road surface cracked open"],
    "air_pollution": ["Smoke from site", "Strong chemical smell", "Dust cloud over road"],
    "hazmat_spill": ["Tanker leaking", "Drums spilled on road", "Fuel on carriageway"],
}


def point_in_polygon(lon: float, lat: float, polygon: list[list[float]]) -> bool:
    """Ray casting over ``[[lon, lat], ...]`` (ring not closed)."""
    inside = False
    j = len(polygon) - 1
    for i, (xi, yi) in enumerate(polygon):
        xj, yj = polygon[j]
        if (yi > lat) != (yj > lat) and lon < (xj - xi) * (lat - yi) / (yj - yi) + xi:
            inside = not inside
        j = i
    return inside


@dataclass(frozen=True)
class District:
    code: str
    polygon: list

    def random_point(self, rng: random.Random) -> tuple[float, float]:
        """A uniformly random (lat, lon) strictly inside the district."""
        lons = [p[0] for p in self.polygon]
        lats = [p[1] for p in self.polygon]
        while True:
            lon, lat = rng.uniform(min(lons), max(lons)), rng.uniform(min(lats), max(lats))
            if point_in_polygon(lon, lat, self.polygon):
                return round(lat, 6), round(lon, 6)


def demo_districts(path: Path = CITY) -> list[District]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [District(d["code"], d["polygon"]) for d in data["districts"]]


def demo_departments(path: Path = CITY) -> list[str]:
    return [d["code"] for d in yaml.safe_load(path.read_text(encoding="utf-8"))["departments"]]


class IncidentMix:
    """Incident bodies (with an Idempotency-Key each) drawn from the mixes above, reproducible by seed."""

    def __init__(self, seed: int = 7, districts: list[District] | None = None, triage_share: float = 0.0):
        self.rng = random.Random(seed)
        self.districts = districts or demo_districts()
        self.triage_share = triage_share  # reported by the 12345 hotline: waits for a dispatcher's triage
        self._n = 0

    def next(self) -> tuple[str, dict]:
        rng = self.rng
        self._n += 1
        event_type = rng.choices(list(EVENT_MIX), weights=list(EVENT_MIX.values()))[0]
        severity = rng.choices(list(SEVERITY_MIX), weights=list(SEVERITY_MIX.values()))[0]
        district = rng.choice(self.districts)
        lat, lon = district.random_point(rng)
        body = {
            "event_type": event_type,
            "title": f"{rng.choice(TITLES[event_type])} #{self._n}",
            "description": "storm benchmark",
            "severity": severity,
            "location": {"lat": lat, "lon": lon},
            "address": f"{district.code} block {rng.randint(1, 400)}",
            "reporter": {"name": "Storm Bench", "phone": f"139{rng.randint(0, 99_999_999):08d}"},
        }
        if rng.random() < self.triage_share:
            body["source"] = "hotline"  # starts in `reported`; nothing is dispatched before the triage
        return f"storm-{uuid.UUID(int=rng.getrandbits(128))}", body


def schedule(segments: list[tuple[float, float]]) -> list[float]:
    """Send offsets (seconds from the phase start) for ``[(rate per s, seconds), ...]``: evenly spaced within
    each segment, so the load is exactly the rate asked for, whatever the server does (open loop)."""
    out, start = [], 0.0
    for rate, seconds in segments:
        if rate > 0 and seconds > 0:
            n = round(rate * seconds)
            out += [start + i / rate for i in range(n)]
        start += seconds
    return out
