// Package archtest holds tests of the code's layering: the rules that
// docs/architecture.md states and that nothing else would check.
package archtest
