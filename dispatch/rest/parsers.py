import yaml
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser


class YAMLParser(BaseParser):
    """``application/yaml`` bodies (workflow definitions). Returns the raw text; the service parses it."""

    media_type = "application/yaml"

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return {"__yaml__": stream.read().decode("utf-8")}
        except UnicodeDecodeError as exc:
            raise ParseError("YAML body must be UTF-8") from exc


__all__ = ["YAMLParser", "yaml"]
