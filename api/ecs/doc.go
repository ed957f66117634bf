// Package ecs holds the wire types of the Amazon ECS API (JSON 1.1) as berth
// speaks it: one Go struct per shape of the AWS model, with the model's exact
// member names. The types are generated from botocore's model by
// internal/tools/apigen; TestTypesMatchModel checks them against it.
//
// This package is public and never imports server code: the berth CLI and
// any Go program may use it.
package ecs

//go:generate go run ../../internal/tools/apigen -model ecs/2014-11-13 -pkg ecs -out types_gen.go
