"""marshmallow schemas of the wire format: request bodies (unknown fields refused), query strings and responses."""
