"""Open311 GeoReport v2 at ``/open311/v2/`` (https://wiki.open311.org/GeoReport_v2): parsing and rendering
only; the domain side is ``dispatch.services.open311``."""
