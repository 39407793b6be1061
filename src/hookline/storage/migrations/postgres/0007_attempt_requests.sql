-- hookline schema, version 7: what each attempt sent.
--
-- request_headers: the headers of the request, as JSON (credential-like values of
-- the endpoint's own headers masked); NULL for attempts made before this version.
-- request_body: the body sent, only when it was not the message's stored payload
-- (a transformation or a version reshaped it); NULL means the payload as stored.
ALTER TABLE attempts ADD COLUMN request_headers TEXT;
ALTER TABLE attempts ADD COLUMN request_body TEXT;
