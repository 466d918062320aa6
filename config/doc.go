// Package config owns Gatehouse's on-disk configuration: the raw version 1
// schema as Go types, a strict YAML decoder that reports every problem at
// once with file, line and column, the built-in defaults, semantic
// validation, and a normalised dump for `gatehouse check-config`. The file is
// written by people and never rewritten by the program. Parse returns plain
// values (netip, time.Duration, slog.Level) that later stages compile into
// runtime structures; config is a leaf and must not import any other
// gatehouse package.
package config
