// Package logs holds the wire types of the Amazon CloudWatch Logs API (JSON
// 1.1), generated from botocore's model by internal/tools/apigen. berth
// serves the part of it that reads and retains task logs, so `aws logs
// get-log-events` works against berth.
//
// This package is public and never imports server code.
package logs

//go:generate go run ../../internal/tools/apigen -model logs/2014-03-28 -pkg logs -out types_gen.go
