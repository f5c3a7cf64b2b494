// Package configs holds the documented example configuration, embedded in
// the binary as its defaults.
package configs

import _ "embed"

// Default is configs/ingestd.yaml: every option with its default value.
//
//go:embed ingestd.yaml
var Default []byte
