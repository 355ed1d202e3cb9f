"""What the map component (``static/liandong/map.js``, ``public-map.js``) needs: the tile server, if any, and the
city's own layers (a static ``path`` becomes its URL). The same for the console and the public page: the layers are
static files, public like the city's outline they draw."""

from django.conf import settings
from django.templatetags.static import static


def map_config() -> dict:
    return {
        "tile_url": settings.MAP_TILE_URL,
        "tile_attribution": settings.MAP_TILE_ATTRIBUTION,
        "layers": [
            {"code": layer["code"], "kind": layer["kind"], "url": layer.get("url") or static(layer["path"]),
             "name": layer.get("name")}
            for layer in settings.MAP_LAYERS
        ],
    }
