// Package render turns what the ECS and CloudWatch Logs APIs return into
// what the berth CLI prints: aligned tables for people (colours only when
// asked for) and stable JSON shapes for scripts (-o json).
//
// The JSON shapes are the types of this package; their field names and
// meanings are a documented interface (docs/cli.md) and golden files under
// testdata/ hold them still. Add fields freely; never rename or remove one.
package render
