-- hookline schema, version 9: how hookline authenticates to an endpoint.
--
-- auth: the endpoint's credentials (Basic, bearer or OAuth2 client credentials, and a
-- TLS client identity with a CA bundle) as one JSON object, sealed as a whole
-- (enc:v1:..., bound to "endpoint:<id>:auth"); NULL when the endpoint has none.
ALTER TABLE endpoints ADD COLUMN auth TEXT;
