// Package httpapi is the HTTP plumbing the APIs of the local provisioning
// service share: the route type of the one route table (pkg/server), the
// DPS error answer (Error, Fail, WriteError), JSON bodies (ReadBody within
// MaxBodyBytes, DecodeJSON with its UTF-8 and MaxJSONDepth checks,
// WriteJSON), the StatusWriter every request is answered through, and the
// UUID, ETag and key helpers.
package httpapi
