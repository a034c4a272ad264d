"""The OCDS export of a contracting process: its query string and (for the API document) the package it answers."""

from __future__ import annotations

from marshmallow import Schema, fields
from marshmallow.validate import OneOf

from api.fields import Instant, Plain
from api.schemas.common import Strict


class OcdsQuery(Strict):
    as_ = fields.String(data_key="as", load_default="record", validate=OneOf(("record", "releases")),
                        metadata={"description": "record (default): a record package; releases: a release package"})
    as_of = Instant(metadata={"description": "RFC 3339 timestamp with offset: the process as recorded then"})


class OcdsPackage(Schema):
    """An OCDS 1.1 record package (``records``) or release package (``releases``); amounts are JSON numbers."""

    uri = fields.String()
    version = fields.String(metadata={"description": "1.1"})
    extensions = fields.List(fields.String(), metadata={"description": "the bid extension (bids.details)"})
    publishedDate = fields.String(metadata={"description": "when this package was produced"})
    publisher = Plain()
    records = fields.List(Plain(), metadata={"description": "one record: ocid, releases, compiledRelease"})
    releases = fields.List(Plain(), metadata={"description": "one release per recorded fact of the process"})
