"""REST plumbing every app's API uses: error shape, pagination, strict filters, parsers, API-key
authentication, schema hooks. It knows no endpoint."""
