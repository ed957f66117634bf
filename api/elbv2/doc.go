// Package elbv2 holds the wire types of the Elastic Load Balancing v2 API
// (AWS Query protocol) as berth speaks it: one Go struct per shape of the AWS
// model, whose tags carry the form keys requests use and the XML element
// names responses use. The types are generated from botocore's model by
// internal/tools/apigen; its test checks them against the model.
//
// This package is public and never imports server code: the berth CLI and
// any Go program may use it.
package elbv2

//go:generate go run ../../internal/tools/apigen -model elbv2/2015-12-01 -pkg elbv2 -out types_gen.go
