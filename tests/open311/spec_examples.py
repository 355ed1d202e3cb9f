"""The GeoReport v2 specification's example documents, as published, and its field types.

Sources (checked field by field; the examples below are the published text, de-indented and without the
blanks some published lines carry after their last tag):

- The specification: https://wiki.open311.org/GeoReport_v2 (also http://wiki.open311.org/GeoReport_v2/), whose
  source is the repository open311/open311.github.io, file ``GeoReport_v2/index.md`` (commit
  5e3a5ced2cd86ed3849779d2f0b8f0ad0a65c1d2): sections "GET Service List", "GET Service Definition", "POST Service
  Request" (example request and response), "GET service_request_id from a token", "GET Service Requests",
  "GET Service Request", "Errors", and "Internationalization and Encoding" / "Format Support".
- JSON is "a programmatic mapping of the XML format using the Spark Convention": open311/open311.github.io,
  ``JSON_and_XML_Conversion.md`` (commit 1a44ca2954486566e22964d857c4d1872935f97c), i.e. https://wiki.open311.org/
  JSON_and_XML_Conversion/ -- a list container becomes a JSON array, an empty element becomes ``null``.
- Field types: the Open311 project's JSON schemas, open311/schema-validation, ``schema/georeport-v2/service.json``,
  ``service-definition.json`` and ``request.json`` (commit 1116d9305aa646d0ce5b28747d576e681122d371). The
  examples print numeric identifiers as JSON numbers (the Spark mapping of numeric text); the schemas declare
  ``service_request_id``, ``service_code``, ``address_id``, ``zipcode`` and a value's ``key`` strings, which is
  what an identifier like ``INC-20250101-00001`` has to be.

The published JSON is not valid JSON where a service code has leading zeros (``"service_code":001``, ``006``);
``parse_json`` quotes those literals (the XML of the same examples has ``<service_code>001</service_code>``), and
changes nothing else. Whitespace inside XML text (the POST example's ``service_notice``, the trailing space of
``media_url``) is as published.
"""

import re

# --- GET Service List (services.[format]) --------------------------------------------------------------------

SERVICES_XML = """<?xml version="1.0" encoding="utf-8"?>
<services>
    <service>
        <service_code>001</service_code>
        <service_name>Cans left out 24x7</service_name>
        <description>Garbage or recycling cans that have been left out for more than 24 hours after collection. Violators will be cited.</description>
        <metadata>true</metadata>
        <type>realtime</type>
        <keywords>lorem, ipsum, dolor</keywords>
        <group>sanitation</group>
    </service>
    <service>
        <service_code>002</service_code>
        <metadata>true</metadata>
        <type>realtime</type>
        <keywords>lorem, ipsum, dolor</keywords>
        <group>street</group>
        <service_name>Construction plate shifted</service_name>
        <description>Metal construction plate covering the street or sidewalk has been moved.</description>
    </service>
    <service>
        <service_code>003</service_code>
        <metadata>true</metadata>
        <type>realtime</type>
        <keywords>lorem, ipsum, dolor</keywords>
        <group>street</group>
        <service_name>Curb or curb ramp defect</service_name>
        <description>Sidewalk curb or ramp has problems such as cracking, missing pieces, holes, and/or chipped curb.</description>
    </service>
</services>"""

SERVICES_JSON = """[
  {
    "service_code":001,
    "service_name":"Cans left out 24x7",
    "description":"Garbage or recycling cans that have been left out for more than 24 hours after collection. Violators will be cited.",
    "metadata":true,
    "type":"realtime",
    "keywords":"lorem, ipsum, dolor",
    "group":"sanitation"
  },
  {
    "service_code":002,
    "metadata":true,
    "type":"realtime",
    "keywords":"lorem, ipsum, dolor",
    "group":"street",
    "service_name":"Construction plate shifted",
    "description":"Metal construction plate covering the street or sidewalk has been moved."
  },
  {
    "service_code":003,
    "metadata":true,
    "type":"realtime",
    "keywords":"lorem, ipsum, dolor",
    "group":"street",
    "service_name":"Curb or curb ramp defect",
    "description":"Sidewalk curb or ramp has problems such as cracking, missing pieces, holes, and/or chipped curb."
  }
]"""

# --- GET Service Definition (services/[service_code].[format]) --------------------------------------------------

SERVICE_DEFINITION_XML = """<?xml version="1.0" encoding="utf-8"?>
<service_definition>
    <service_code>DMV66</service_code>
    <attributes>
        <attribute>
            <variable>true</variable>
            <code>WHISHETN</code>
            <datatype>singlevaluelist</datatype>
            <required>true</required>
            <datatype_description></datatype_description>
            <order>1</order>
            <description>What is the ticket/tag/DL number?</description>
            <values>
                <value>
                    <key>123</key>
                    <name>Ford</name>
                </value>
                <value>
                    <key>124</key>
                    <name>Chrysler</name>
                </value>
            </values>
        </attribute>
    </attributes>
</service_definition>"""

SERVICE_DEFINITION_JSON = """{
  "service_code":"DMV66",
  "attributes":[
    {
      "variable":true,
      "code":"WHISHETN",
      "datatype":"singlevaluelist",
      "required":true,
      "datatype_description":null,
      "order":1,
      "description":"What is the ticket/tag/DL number?",
      "values":[
        {
          "key":123,
          "name":"Ford"
        },
        {
          "key":124,
          "name":"Chrysler"
        }
      ]
    }
  ]
}"""

# --- POST Service Request (requests.[format]) -------------------------------------------------------------------

# The example request's body (Content-Type: application/x-www-form-urlencoded; charset=utf-8).
POST_REQUEST_BODY = (
    "api_key=xyz&jurisdiction_id=city.gov&service_code=001&lat=37.76524078&long=-122.4212043"
    "&address_string=1234+5th+street&email=smit333%40sfgov.edu&device_id=tt222111&account_id=123456"
    "&first_name=john&last_name=smith&phone=111111111&description=A+large+sinkhole+is+destroying+the+street"
    "&media_url=http%3A%2F%2Ffarm3.static.flickr.com%2F2002%2F2212426634_5ed477a060.jpg"
    "&attribute[WHISPAWN]=123456&attribute[WHISDORN]=COISL001"
)

POST_RESPONSE_XML = """<?xml version="1.0" encoding="utf-8"?>
<service_requests>
    <request>
        <service_request_id>293944</service_request_id>
        <service_notice>
            The City will inspect and require the responsible party to correct within 24 hours and/or issue a Correction Notice or Notice of Violation of the Public Works Code
        </service_notice>
        <account_id/>
    </request>
</service_requests>"""

POST_RESPONSE_JSON = """[
  {
    "service_request_id":293944,
    "service_notice":"The City will inspect and require the responsible party to correct within 24 hours and/or issue a Correction Notice or Notice of Violation of the Public Works Code",
    "account_id":null
  }
]"""

# --- GET service_request_id from a token (tokens/[token id].[format]) ------------------------------------------
# Only for servers that answer a POST with a token ("batch" services); every service here is "realtime".

TOKEN_RESPONSE_XML = """<?xml version="1.0" encoding="utf-8"?>
<service_requests>
    <request>
        <service_request_id>638344</service_request_id>
        <token>12345</token>
    </request>
</service_requests>"""

TOKEN_RESPONSE_JSON = """[
  {
    "service_request_id":638344,
    "token":12345
  }
]"""

# --- GET Service Requests (requests.[format]) ----------------------------------------------------------------

REQUESTS_XML = """<?xml version="1.0" encoding="utf-8"?>
<service_requests>
    <request>
        <service_request_id>638344</service_request_id>
        <status>closed</status>
        <status_notes>Duplicate request.</status_notes>
        <service_name>Sidewalk and Curb Issues</service_name>
        <service_code>006</service_code>
        <description></description>
        <agency_responsible></agency_responsible>
        <service_notice></service_notice>
        <requested_datetime>2010-04-14T06:37:38-08:00</requested_datetime>
        <updated_datetime>2010-04-14T06:37:38-08:00</updated_datetime>
        <expected_datetime>2010-04-15T06:37:38-08:00</expected_datetime>
        <address>8TH AVE and JUDAH ST</address>
        <address_id>545483</address_id>
        <zipcode>94122</zipcode>
        <lat>37.762221815</lat>
        <long>-122.4651145</long>
        <media_url>http://city.gov.s3.amazonaws.com/requests/media/638344.jpg </media_url>
    </request>
    <request>
        <service_request_id>638349</service_request_id>
        <status>open</status>
        <status_notes></status_notes>
        <service_name>Sidewalk and Curb Issues</service_name>
        <service_code>006</service_code>
        <description></description>
        <agency_responsible></agency_responsible>
        <service_notice></service_notice>
        <requested_datetime>2010-04-19T06:37:38-08:00</requested_datetime>
        <updated_datetime>2010-04-19T06:37:38-08:00</updated_datetime>
        <expected_datetime>2010-04-19T06:37:38-08:00</expected_datetime>
        <address>8TH AVE and JUDAH ST</address>
        <address_id>545483</address_id>
        <zipcode>94122</zipcode>
        <lat>37.762221815</lat>
        <long>-122.4651145</long>
        <media_url>http://city.gov.s3.amazonaws.com/requests/media/638349.jpg </media_url>
    </request>
</service_requests>"""

REQUESTS_JSON = """[
  {
    "service_request_id":638344,
    "status":"closed",
    "status_notes":"Duplicate request.",
    "service_name":"Sidewalk and Curb Issues",
    "service_code":006,
    "description":null,
    "agency_responsible":null,
    "service_notice":null,
    "requested_datetime":"2010-04-14T06:37:38-08:00",
    "updated_datetime":"2010-04-14T06:37:38-08:00",
    "expected_datetime":"2010-04-15T06:37:38-08:00",
    "address":"8TH AVE and JUDAH ST",
    "address_id":545483,
    "zipcode":94122,
    "lat":37.762221815,
    "long":-122.4651145,
    "media_url":"http://city.gov.s3.amazonaws.com/requests/media/638344.jpg "
  },
  {
    "service_request_id":638349,
    "status":"open",
    "status_notes":null,
    "service_name":"Sidewalk and Curb Issues",
    "service_code":006,
    "description":null,
    "agency_responsible":null,
    "service_notice":null,
    "requested_datetime":"2010-04-19T06:37:38-08:00",
    "updated_datetime":"2010-04-19T06:37:38-08:00",
    "expected_datetime":"2010-04-19T06:37:38-08:00",
    "address":"8TH AVE and JUDAH ST",
    "address_id":545483,
    "zipcode":94122,
    "lat":37.762221815,
    "long":-122.4651145,
    "media_url":"http://city.gov.s3.amazonaws.com/requests/media/638349.jpg"
  }
]"""

# --- GET Service Request (requests/[service_request_id].[format]) ----------------------------------------------

REQUEST_XML = """<?xml version="1.0" encoding="utf-8"?>
<service_requests>
    <request>
        <service_request_id>638344</service_request_id>
        <status>closed</status>
        <status_notes>Duplicate request.</status_notes>
        <service_name>Sidewalk and Curb Issues</service_name>
        <service_code>006</service_code>
        <description></description>
        <agency_responsible></agency_responsible>
        <service_notice></service_notice>
        <requested_datetime>2010-04-14T06:37:38-08:00</requested_datetime>
        <updated_datetime>2010-04-14T06:37:38-08:00</updated_datetime>
        <expected_datetime>2010-04-15T06:37:38-08:00</expected_datetime>
        <address>8TH AVE and JUDAH ST</address>
        <address_id>545483</address_id>
        <zipcode>94122</zipcode>
        <lat>37.762221815</lat>
        <long>-122.4651145</long>
        <media_url>http://city.gov.s3.amazonaws.com/requests/media/638344.jpg </media_url>
    </request>
</service_requests>"""

REQUEST_JSON = """[
  {
    "service_request_id":638344,
    "status":"closed",
    "status_notes":"Duplicate request.",
    "service_name":"Sidewalk and Curb Issues",
    "service_code":006,
    "description":null,
    "agency_responsible":null,
    "service_notice":null,
    "requested_datetime":"2010-04-14T06:37:38-08:00",
    "updated_datetime":"2010-04-14T06:37:38-08:00",
    "expected_datetime":"2010-04-15T06:37:38-08:00",
    "address":"8TH AVE and JUDAH ST",
    "address_id":545483,
    "zipcode":94122,
    "lat":37.762221815,
    "long":-122.4651145,
    "media_url":"http://city.gov.s3.amazonaws.com/requests/media/638344.jpg"
  }
]"""

# --- Errors (HTTP/1.1 403 Forbidden in the example) -------------------------------------------------------------

ERRORS_XML = """<?xml version="1.0" encoding="utf-8"?>
<errors>
    <error>
        <code>403</code>
        <description>Invalid api_key received -- can't proceed with create_request.</description>
    </error>
</errors>"""

ERRORS_JSON = """[
  {
    "code":403,
    "description":"Invalid api_key received -- can't proceed with create_request."
  }
]"""

# The status codes the spec gives per situation ("Errors": "404 for resources that don't exist, 403 for errors
# because of wrong or missing api_key and basically 400 for any other error"; "Possible Errors" per method).
STATUS_UNKNOWN_RESOURCE = 404  # service_code (GET definition, POST), service_request_id, jurisdiction_id
STATUS_BAD_API_KEY = 403  # "403 - Missing or Invalid API Key"
STATUS_OTHER = 400  # a required argument not provided, a general service error

# GET Service Requests, "Response Volume": "a span of 90 days or first 1000 requests returned, whichever is smallest".
DEFAULT_DAYS = 90
MAX_REQUESTS = 1000

# --- field types (JSON kinds), per open311/schema-validation; POST and errors per the spec's field tables -------

SERVICE_TYPES = {
    "service_code": {"string"}, "service_name": {"string"}, "description": {"string", "null"},
    "metadata": {"boolean"}, "type": {"string"}, "keywords": {"string", "null"}, "group": {"string", "null"},
}
ATTRIBUTE_TYPES = {
    "variable": {"boolean"}, "code": {"string"}, "datatype": {"string"}, "required": {"boolean"},
    "datatype_description": {"string", "null"}, "order": {"integer", "null"}, "description": {"string", "null"},
    "values": {"array"},
}
REQUEST_TYPES = {
    "service_request_id": {"string"}, "status": {"string"}, "status_notes": {"string", "null"},
    "service_name": {"string", "null"}, "service_code": {"string"}, "description": {"string", "null"},
    "agency_responsible": {"string", "null"}, "service_notice": {"string", "null"},
    "requested_datetime": {"string"}, "updated_datetime": {"string", "null"},
    "expected_datetime": {"string", "null"}, "address": {"string", "null"}, "address_id": {"string", "null"},
    "zipcode": {"string", "null"}, "lat": {"number", "null"}, "long": {"number", "null"},
    "media_url": {"string", "null"},
}
POST_RESPONSE_TYPES = {  # service_request_id or token, never both; service_notice and account_id "may not be returned"
    "service_request_id": {"string"}, "token": {"string"}, "service_notice": {"string", "null"},
    "account_id": {"string", "null"},
}
ERROR_TYPES = {"code": {"integer"}, "description": {"string"}}

STATUSES = ("open", "closed")
SERVICE_TYPES_ALLOWED = ("realtime", "batch", "blackbox")
DATATYPES = ("string", "number", "datetime", "text", "singlevaluelist", "multivaluelist")

# W3C date-time with the time zone that the spec requires ("Z" or an HH:MM offset).
W3C_DATETIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)$")


def parse_json(text: str):
    """A published JSON example, with its leading-zero number literals (``001``) quoted so that it parses."""
    import json

    return json.loads(re.sub(r'(":)(0\d+)(\s*[,}\n])', r'\1"\2"\3', text))
