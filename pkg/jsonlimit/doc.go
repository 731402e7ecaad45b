// Package jsonlimit bounds the nesting of JSON input before anything
// decodes it. Every place input arrives (the webhook and the intake, the
// Functions host's envelopes, job messages, API bodies) asks Depth first:
// a body nested deeper than the bound is refused with an error naming the
// byte where it went too deep, in one pass, without recursion and without
// allocating, so a megabyte of "[" costs a megabyte of reading and nothing
// more.
//
// The scan counts the brackets outside strings; it does not validate the
// rest (the decoder that follows does). For valid JSON the count is the
// exact depth; for invalid JSON it can only count too much, which refuses
// input that is broken anyway.
package jsonlimit
