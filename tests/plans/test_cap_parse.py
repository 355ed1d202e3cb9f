"""CAP 1.2 in: the sample storm parses and validates, every refusal says why under ``document``, and CAP areas
(geocodes, polygons, circles) are matched to the demo city's districts (seeded once per session)."""

import dataclasses
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml
from capvalidator import validate

from dispatch.core.errors import Invalid
from plans.services.cap import CapAlert, CapArea, cap_area_districts, cap_parse

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "plans" / "samples" / "rainstorm"
SAMPLE_FILES = sorted(p.name for p in SAMPLES.glob("*.xml"))
CHAIN = ["01-blue-alert.xml", "02-yellow-update.xml", "03-orange-update.xml", "04-red-update.xml",
         "05-orange-downgrade.xml", "06-cancel.xml"]
SENDER = "weather@met.demo-city.cn"
CST = timezone(timedelta(hours=8))
CAP = "{urn:oasis:names:tc:emergency:cap:1.2}"
ALL = ["harbor", "hightech", "lakeside", "northgate", "oldtown", "riverside"]


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def refused(document: bytes) -> str:
    """The one message ``cap_parse`` refuses ``document`` with."""
    with pytest.raises(Invalid) as caught:
        cap_parse(document)
    assert caught.value.status_code == 400
    assert list(caught.value.errors) == ["document"]
    (message,) = caught.value.errors["document"]
    return message


def codes(districts) -> list[str]:
    return [d.code for d in districts]


def area(*, polygons=(), circles=(), geocodes=()) -> CapArea:
    return CapArea(desc="test", polygons=tuple(tuple(p) for p in polygons), circles=tuple(circles),
                   geocodes=tuple(geocodes))


def box(south: float, west: float, north: float, east: float):
    """A closed CAP polygon ((lat, lon) points) around a lat/lon box."""
    return [(south, west), (south, east), (north, east), (north, west), (south, west)]


def geometry_only(alert: CapAlert) -> list[CapArea]:
    return [dataclasses.replace(a, geocodes=()) for info in alert.infos for a in info.areas]


def geocodes_only(alert: CapAlert) -> list[CapArea]:
    return [dataclasses.replace(a, polygons=(), circles=()) for info in alert.infos for a in info.areas]


# ------------------------------------------------------------------------------------------ the samples

def test_the_storm_has_every_file_the_readme_lists():
    readme = (SAMPLES / "README.md").read_text("utf-8")
    assert SAMPLE_FILES == [*CHAIN, "90-unmatched-heat.xml", "91-outside-city.xml"]
    assert all(f"`{name}`" in readme for name in SAMPLE_FILES)


@pytest.mark.parametrize("name", SAMPLE_FILES)
def test_every_sample_parses_and_is_valid_cap_1_2(name):
    body = sample(name)
    ok, why = validate.Validator(body).schema()  # capvalidator's own check, independent of cap_parse
    assert ok, why
    alert = cap_parse(body)
    assert alert.sender == SENDER and alert.status == "Actual" and alert.scope == "Public"
    assert alert.sent.utcoffset() == timedelta(hours=8)
    assert [i.language for i in alert.infos] == ["zh-CN", "en"]
    for info in alert.infos:
        assert info.headline and info.description and info.instruction and info.areas
        assert info.expires == alert.sent + timedelta(hours=6) == alert.expires
        assert info.effective == alert.sent


def test_the_storm_climbs_through_the_levels_and_ends():
    plan = yaml.safe_load((ROOT / "plans" / "definitions" / "rainstorm.yaml").read_text("utf-8"))
    (trigger,) = plan["triggers"]
    alerts = [cap_parse(sample(name)) for name in CHAIN]
    assert [a.msg_type for a in alerts] == ["Alert", "Update", "Update", "Update", "Update", "Cancel"]
    assert [[i.event for i in a.infos] for a in alerts] == [["暴雨", "Rainstorm"]] * 6
    assert all(i.event in trigger["events"] for a in alerts for i in a.infos)
    severities = [a.infos[0].severity for a in alerts[:5]]
    assert [trigger["severities"][s] for s in severities] == ["IV", "III", "II", "I", "II"]
    assert [a.sent for a in alerts] == [datetime(2026, 7, 20, h, m, tzinfo=CST)
                                        for h, m in ((8, 0), (9, 30), (11, 0), (12, 30), (15, 0), (17, 0))]
    assert [a.all_clear for a in alerts] == [False] * 5 + [True]
    assert alerts[5].infos[0].response_types == ("AllClear",) and alerts[5].infos[0].urgency == "Past"
    # Each message references every earlier one, as written: (sender, identifier, sent).
    for n, alert in enumerate(alerts):
        assert alert.references == tuple((SENDER, a.identifier, a.sent.isoformat()) for a in alerts[:n])
        assert alert.key == (SENDER, f"demo-city-met-20260720-rainstorm-{n + 1:02d}")


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "expected"), [
    ("01-blue-alert.xml", ["oldtown", "riverside"]),
    ("02-yellow-update.xml", ["oldtown", "riverside"]),
    ("03-orange-update.xml", ["harbor", "northgate", "oldtown", "riverside"]),
    ("04-red-update.xml", ["harbor", "hightech", "northgate", "oldtown", "riverside"]),
    ("05-orange-downgrade.xml", ["harbor", "oldtown", "riverside"]),
    ("06-cancel.xml", ["harbor", "hightech", "northgate", "oldtown", "riverside"]),
    ("90-unmatched-heat.xml", ["hightech", "lakeside"]),
    ("91-outside-city.xml", []),
])
def test_sample_areas_cover_the_districts_they_name(name, expected):
    alert = cap_parse(sample(name))
    assert codes(cap_area_districts(a for info in alert.infos for a in info.areas)) == expected
    assert codes(cap_area_districts(geocodes_only(alert))) == expected


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "expected"), [
    ("01-blue-alert.xml", ["oldtown", "riverside"]),  # polygon
    ("02-yellow-update.xml", ["oldtown", "riverside"]),  # circle
    ("03-orange-update.xml", ["harbor", "northgate", "oldtown", "riverside"]),  # L-shaped polygon
    ("05-orange-downgrade.xml", ["harbor", "oldtown", "riverside"]),
    ("91-outside-city.xml", []),
])
def test_sample_geometry_agrees_with_the_geocodes(name, expected):
    assert codes(cap_area_districts(geometry_only(cap_parse(sample(name))))) == expected


def test_red_circle_reaches_the_districts_around_the_railway_underpass(db):
    alert = cap_parse(sample("04-red-update.xml"))
    assert alert.infos[0].areas[0].circles == ((31.2315, 121.46, 3.0),)
    assert codes(cap_area_districts(geometry_only(alert))) == ["hightech", "northgate", "oldtown", "riverside"]


# ------------------------------------------------------------------------------------------- refusals

def test_not_xml_is_refused():
    assert refused(b"severity: Extreme\n").startswith("not well-formed XML: ")
    assert "line 3" in refused(b"<alert>\n<info>\n</alert>")


@pytest.mark.parametrize("body", [b"", b"  \n\t"])
def test_an_empty_body_is_refused(body):
    assert refused(body) == "the body is empty"


def test_external_entities_are_refused_before_anything_is_read():
    xxe = (b'<?xml version="1.0"?>\n<!-- a comment first -->\n'
           b'<!DOCTYPE alert [<!ENTITY leak SYSTEM "file:///etc/passwd">]>\n'
           b'<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&leak;</identifier></alert>')
    message = refused(xxe)
    assert "DOCTYPE" in message and "root:" not in message


def test_billion_laughs_is_refused():
    entities = "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10))
    bomb = f'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol0 "lol">{entities}]><lolz>&lol9;</lolz>'
    assert "DOCTYPE" in refused(bomb.encode())
    assert "DOCTYPE" in refused(bomb.replace('<?xml version="1.0"?>', "").encode("utf-16"))


def test_a_harmless_doctype_is_refused_too():
    assert "DOCTYPE" in refused(b"<!DOCTYPE alert>" + sample("01-blue-alert.xml").split(b"?>", 1)[1])


def test_cap_1_1_is_not_cap_1_2():
    body = sample("01-blue-alert.xml").replace(b"emergency:cap:1.2", b"emergency:cap:1.1")
    message = refused(body)
    assert message.startswith("not CAP 1.2") and "urn:oasis:names:tc:emergency:cap:1.1" in message


def test_another_root_is_not_cap_1_2():
    message = refused(b'<feed xmlns="http://www.w3.org/2005/Atom"/>')
    assert message.startswith("not CAP 1.2") and "{http://www.w3.org/2005/Atom}feed" in message


def test_a_schema_error_names_its_line_and_element():
    body = sample("01-blue-alert.xml")
    line = body[:body.index(b"<severity>")].count(b"\n") + 1
    message = refused(body.replace(b"<severity>Minor</severity>", b"<severity>Catastrophic</severity>", 1))
    assert message.startswith(f"line {line}: Element '{CAP}severity': [facet 'enumeration'] "
                              "The value 'Catastrophic' is not an element of the set")


def test_a_missing_required_element_is_a_schema_error():
    body = sample("01-blue-alert.xml").replace(b"  <scope>Public</scope>\n", b"")
    message = refused(body)
    assert message.startswith("line ") and f"Element '{CAP}info'" in message and "scope" in message


def test_a_time_without_offset_is_a_schema_error():
    body = sample("01-blue-alert.xml").replace(b"<sent>2026-07-20T08:00:00+08:00", b"<sent>2026-07-20T00:00:00Z")
    assert f"Element '{CAP}sent'" in refused(body)


@pytest.mark.parametrize(("before", "after", "says"), [
    (b"31.22,121.41 31.185,121.41</polygon>", b"31.22,121.41</polygon>", "a polygon needs at least four points"),
    (b"31.185,121.41 31.185,121.48", b"31.185,north 31.185,121.48", "'31.185,north' is not a 'lat,lon' pair"),
    (b"31.185,121.41 31.185,121.48", b"131.185,121.41 31.185,121.48", "outside -90..90"),
])
def test_bad_polygons_are_refused_with_their_line(before, after, says):
    body = sample("01-blue-alert.xml")
    line = body[:body.index(b"<polygon>")].count(b"\n") + 1
    message = refused(body.replace(before, after, 1))
    assert message.startswith(f"line {line}: ") and says in message


@pytest.mark.parametrize(("circle", "says"), [
    (b"31.205,121.445", "a circle is 'lat,lon radius-km'"),
    (b"31.205,121.445 -2", "'-2' is not a radius in km"),
    (b"31.205,121.445 nan", "'nan' is not a radius in km"),
])
def test_bad_circles_are_refused(circle, says):
    body = sample("02-yellow-update.xml").replace(b"31.205,121.445 2", circle, 1)
    assert says in refused(body)


def test_malformed_references_are_refused():
    body = sample("02-yellow-update.xml").replace(b"<references>weather@met.demo-city.cn,",
                                                  b"<references>weather@met.demo-city.cn ", 1)
    assert "is not 'sender,identifier,sent'" in refused(body)


def test_a_document_over_the_limit_is_refused(settings):
    body = sample("01-blue-alert.xml")
    settings.CAP_INBOUND_MAX_BYTES = len(body) - 1
    with pytest.raises(Invalid) as caught:
        cap_parse(body)
    assert caught.value.detail == "The CAP document is too large."
    assert caught.value.errors == {"document": [f"the document is {len(body)} bytes, more than the "
                                                f"{len(body) - 1} allowed"]}
    settings.CAP_INBOUND_MAX_BYTES = len(body)
    assert cap_parse(body).identifier == "demo-city-met-20260720-rainstorm-01"


def test_the_default_limit_is_one_mebibyte(settings):
    del settings.CAP_INBOUND_MAX_BYTES
    padding = b"<!--" + b"x" * 1_048_576 + b"-->"
    assert "more than the 1048576 allowed" in refused(sample("01-blue-alert.xml") + padding)


# ------------------------------------------------------------------------------------ area -> districts

@pytest.mark.django_db
def test_a_geocode_matches_the_district_with_that_code_whatever_its_name():
    assert codes(cap_area_districts([area(geocodes=[("anything", "harbor"), ("SAME", "oldtown")])])) == [
        "harbor", "oldtown"]
    assert cap_area_districts([area(geocodes=[("district", "Harbor"), ("district", "atlantis")])]) == []


@pytest.mark.django_db
def test_a_polygon_overlapping_one_district():
    # West of the city, its east edge inside Riverside only.
    assert codes(cap_area_districts([area(polygons=[box(31.19, 121.38, 31.20, 121.42)])])) == ["riverside"]


@pytest.mark.django_db
def test_a_polygon_containing_the_districts_entirely():
    # No vertex of it inside any district and no edges crossing: only the districts' vertices are inside it.
    assert codes(cap_area_districts([area(polygons=[box(31.1, 121.3, 31.4, 121.7)])])) == ALL


@pytest.mark.django_db
def test_a_band_crossing_districts_with_no_vertex_inside_either():
    assert codes(cap_area_districts([area(polygons=[box(31.19, 121.3, 31.195, 121.7)])])) == [
        "harbor", "oldtown", "riverside"]


@pytest.mark.django_db
def test_a_circle_centred_inside_a_district():
    assert codes(cap_area_districts([area(circles=[(31.26, 121.525, 0.5)])])) == ["lakeside"]


@pytest.mark.django_db
def test_a_circle_centred_outside_a_district_but_reaching_it():
    # About 0.95 km west of Riverside's west edge (lon 121.40).
    assert codes(cap_area_districts([area(circles=[(31.20, 121.39, 1.5)])])) == ["riverside"]
    assert cap_area_districts([area(circles=[(31.20, 121.39, 0.5)])]) == []


@pytest.mark.django_db
def test_a_circle_far_outside_the_city_matches_nothing():
    assert cap_area_districts([area(circles=[(30.52, 120.18, 15.0)])]) == []
    assert cap_area_districts([]) == []


@pytest.mark.django_db
def test_areas_are_merged_and_ordered_by_code():
    found = cap_area_districts(iter([area(geocodes=[("district", "riverside")]),
                                     area(circles=[(31.26, 121.525, 0.5)]),
                                     area(geocodes=[("district", "riverside")])]))
    assert codes(found) == ["lakeside", "riverside"]
