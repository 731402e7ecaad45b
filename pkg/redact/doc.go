// Package redact removes secrets from text taken from requests before it is
// logged or echoed: function keys and code= values, Authorization headers
// and bearer tokens (any JWT), SAS signatures (sig=), keys, passwords and
// secrets in connection strings, query strings, headers and JSON fields. It
// caps the text after redacting, and never leaves a secret cut in half at
// the cap: whatever the size or shape of the input, the output holds no
// secret the patterns know.
//
// It is a filter on what is written, not a parser: it errs toward
// redacting too much (any JSON field or parameter named like a secret).
package redact
